// zeroCopy: the run-time switch, global and per network interface (the seed's tx_zcopy sysctl).
import { getMode, getThreshold, setMode, setThreshold, type ModeOptions, type ZeroCopyMode } from '../policy/zero-copy-policy.js';

export const zeroCopy = {
  /** `auto` (default): zero-copy for large writes through capable interfaces to remote peers. */
  set(mode: ZeroCopyMode, options?: ModeOptions): void {
    setMode(mode, options);
  },
  /** The mode in force globally, or for one interface. */
  get(options?: ModeOptions): ZeroCopyMode {
    return getMode(options);
  },
  /** Writes below this many bytes are copied under `auto`. */
  setThreshold(bytes: number): void {
    setThreshold(bytes);
  },
  getThreshold(): number {
    return getThreshold();
  },
};
