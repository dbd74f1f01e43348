// The io_uring backend: IORING_OP_SEND_ZC. Each segment gets two completions: the send result
// (with IORING_CQE_F_MORE) and, once the kernel let go of the pages, the notification (F_NOTIF),
// whose res says whether it copied after all. One send per socket is in flight at a time, so
// segments reach the wire in order; notifications may be many.
import { constants } from 'node:os';
import { PENDING, type Channel, type ChannelEvents } from './backend.js';
import type { WriteJob } from './job.js';
import { CQE_F_MORE, CQE_F_NOTIF, NOTIF_USAGE_ZC_COPIED, sendZeroCopy, type CompletionHandler } from './uring-ring.js';

const EPIPE = -constants.errno.EPIPE;
const MAX_SEGMENT = 0x40000000;

export class UringChannel implements Channel {
  readonly name = 'uring' as const;
  /** A SEND_ZC awaits its first completion. */
  private sending = false;
  /** Segments sent whose notification has not come. */
  private notifications = 0;
  /** A send's failure, handed to the transmitter by the next submit(). */
  private error = 0;

  constructor(
    private readonly fd: number,
    private readonly events: ChannelEvents,
  ) {}

  get unreleased(): number {
    return this.notifications + (this.sending ? 1 : 0);
  }

  submit(job: WriteJob, length: number): number {
    if (this.error) {
      const err = this.error;
      this.error = 0;
      return err;
    }
    if (this.sending) return PENDING;
    this.sending = true;
    sendZeroCopy(this.fd, job.data, job.submitted, Math.min(length, MAX_SEGMENT), job.wiredSlot, this.segment(job));
    return PENDING;
  }

  /** Completions are pushed by the ring; nothing to collect. */
  reap(): number {
    return 0;
  }

  private segment(job: WriteJob): CompletionHandler {
    let bytes = 0;
    return (res, flags) => {
      if (flags & CQE_F_NOTIF) {
        this.notifications--;
        const copied = (res & NOTIF_USAGE_ZC_COPIED) !== 0;
        this.events.notification(copied);
        if (bytes > 0) job.released(bytes, copied);
      } else {
        this.sending = false;
        if (res > 0) {
          bytes = res;
          job.accepted(res);
        } else {
          this.error = res < 0 ? res : EPIPE;
        }
        if (flags & CQE_F_MORE) this.notifications++;
        else if (bytes > 0) job.released(bytes, true);
      }
      this.events.progress();
    };
  }
}
