// Adaptive demotion under `auto`: a socket whose zero-copy sends the kernel keeps copying
// (local delivery, a packet tap, a device without the offloads) goes back to plain copy,
// which is cheaper than pinning pages only to have them copied.

/** Consecutive COPIED notifications after which a socket is demoted. */
export const DEMOTE_AFTER = 8;

export class Demotion {
  private streak = 0;
  demoted = false;

  /** One notification from the kernel: it copied, or it did not. */
  note(copied: boolean): void {
    this.streak = copied ? this.streak + 1 : 0;
    if (this.streak >= DEMOTE_AFTER) this.demoted = true;
  }
}
