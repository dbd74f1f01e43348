// `aiotx probe`: probe()'s answer in words, or as JSON.
import { probe, type Capabilities, type InterfaceCapabilities } from '../index.js';
import { formatTable } from './table.js';

/** 8388608 → '8 MiB', 20480 → '20 KiB', 1000 → '1000 bytes'. */
export function formatBytes(bytes: number): string {
  const units = ['GiB', 'MiB', 'KiB'];
  for (let i = 0; i < units.length; i++) {
    const scale = 1024 ** (units.length - i);
    if (bytes >= scale) {
      const value = bytes / scale;
      return `${Number.isInteger(value) ? value : value.toFixed(1)} ${units[i]}`;
    }
  }
  return `${bytes} bytes`;
}

function limit(bytes: number | null): string {
  return bytes === null ? 'unlimited' : formatBytes(bytes);
}

function yesNo(flag: boolean | null): string {
  return flag === null ? 'unknown' : flag ? 'yes' : 'no';
}

/** Why auto would not use zero-copy through this interface, as far as probe() lets us tell. */
function autoVerdict(i: InterfaceCapabilities): string {
  if (i.autoZeroCopy) return i.zeroCopy === 'on' ? 'yes (mode on)' : 'yes';
  if (i.zeroCopy === 'off') return 'no (mode off)';
  if (i.name === 'lo') return 'no (local delivery copies)';
  if (i.scatterGather === null || i.txChecksum === null) return 'no (offloads unknown)';
  if (!i.scatterGather || !i.txChecksum) return 'no (needs SG and TX checksum)';
  return 'no';
}

export function describeCapabilities(c: Capabilities): string {
  const backendRows = Object.entries(c.backends).map(([name, s]) => [name, s.available ? 'available' : 'unavailable', s.reason]);
  const interfaceRows = c.interfaces.map((i) => [
    i.name,
    yesNo(i.scatterGather),
    yesNo(i.txChecksum),
    yesNo(i.tso),
    i.zeroCopy,
    autoVerdict(i),
  ]);
  const optmem = c.optmemMax === null ? 'unreadable' : `${formatBytes(c.optmemMax)} (${c.optmemMax} bytes)`;
  return [
    `kernel          ${c.kernel}`,
    '',
    'backends',
    formatTable(['name', 'status', 'how / why not'], backendRows, [], '  '),
    '',
    zeroCopyLine(c),
    '',
    'limits',
    `  optmem_max      ${optmem}: bounds MSG_ZEROCOPY notifications in flight per socket`,
    `  RLIMIT_MEMLOCK  soft ${limit(c.memlock.soft)}, hard ${limit(c.memlock.hard)}: bounds memory pinned for zero-copy`,
    '',
    'zero-copy policy',
    `  mode       ${c.zeroCopy.mode} (global; AIOTX_ZEROCOPY or zeroCopy.set())`,
    `  threshold  ${formatBytes(c.zeroCopy.threshold)}: under auto, smaller writes are copied`,
    '',
    'interfaces',
    formatTable(['name', 'scatter-gather', 'TX checksum', 'TSO', 'zero-copy mode', 'auto uses zero-copy'], interfaceRows, [], '  '),
    '  (auto uses zero-copy only for writes of at least the threshold to peers on another machine)',
    '',
  ].join('\n');
}

export function runProbeCommand(options: { json: boolean }): void {
  const capabilities = probe();
  process.stdout.write(options.json ? `${JSON.stringify(capabilities, null, 2)}\n` : describeCapabilities(capabilities));
}

/** Which backend zero-copy writes use, and whether AIOTX_BACKEND chose it. */
function zeroCopyLine(c: Capabilities): string {
  if (c.backendError) return `AIOTX_BACKEND=${c.forcedBackend}: every aioWrite will reject: ${c.backendError}`;
  if (c.forcedBackend) return `zero-copy writes use the ${c.zeroCopyBackend} backend (forced by AIOTX_BACKEND)`;
  if (c.zeroCopyBackend === 'copy') return 'zero-copy writes use the copy backend here (no zero-copy backend is available)';
  return `zero-copy writes use the ${c.zeroCopyBackend} backend here (the first available of uring, msgzerocopy)`;
}
