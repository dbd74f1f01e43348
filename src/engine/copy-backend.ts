// The copy backend: plain send(2). The kernel copies the bytes, so a segment is released the
// moment it is accepted. Always available.
import { addon } from '../native/addon.js';
import type { Backend } from './backend.js';
import type { WriteJob } from './job.js';

export class CopyBackend implements Backend {
  readonly name = 'copy' as const;
  readonly unreleased = 0;
  readonly sending = false;

  constructor(private readonly fd: number) {}

  submit(job: WriteJob, length: number): number {
    const n = addon.send(this.fd, job.data, job.submitted, length, false);
    if (n > 0) {
      job.accepted(n);
      job.completed(n, true);
    }
    return n;
  }

  reap(): number {
    return 0;
  }
}
