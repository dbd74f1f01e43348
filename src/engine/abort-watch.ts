// One 'abort' listener per AbortSignal, however many jobs share it: a signal shared by many
// jobs would otherwise collect a listener each (and Node's MaxListenersExceededWarning).
// The jobs of a signal are an array, each job knowing its slot, not a Set: a long-lived signal
// shared by a stream of jobs would churn a Set's tables, and V8 links a rehashed-away table to
// its successor, which can keep settled jobs alive through young-generation GCs.
interface Watched {
  onAbortSignal(): void;
  /** Its index in its signal's array while watched (set here). */
  abortSlot: number;
}

const watched = new WeakMap<AbortSignal, Watched[]>();

function fire(this: AbortSignal): void {
  const jobs = watched.get(this);
  watched.delete(this);
  // A copy: jobs settling while they react remove themselves.
  if (jobs) for (const job of jobs.slice()) job.onAbortSignal();
}

export function watchAbort(signal: AbortSignal, job: Watched): void {
  let jobs = watched.get(signal);
  if (!jobs) {
    jobs = [];
    watched.set(signal, jobs);
    signal.addEventListener('abort', fire, { once: true });
  }
  job.abortSlot = jobs.push(job) - 1;
}

export function unwatchAbort(signal: AbortSignal, job: Watched): void {
  const jobs = watched.get(signal);
  const slot = job.abortSlot;
  if (!jobs || jobs[slot] !== job) return;
  const moved = jobs.pop()!;
  if (moved !== job) {
    jobs[slot] = moved;
    moved.abortSlot = slot;
  }
  if (jobs.length > 0) return;
  watched.delete(signal);
  signal.removeEventListener('abort', fire);
}
