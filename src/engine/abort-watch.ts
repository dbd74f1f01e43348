// One 'abort' listener per AbortSignal, however many jobs share it: a signal shared by many
// jobs would otherwise collect a listener each (and Node's MaxListenersExceededWarning).
interface Watched {
  onAbortSignal(): void;
}

const watched = new WeakMap<AbortSignal, Set<Watched>>();

function fire(this: AbortSignal): void {
  const jobs = watched.get(this);
  watched.delete(this);
  // A copy: jobs settling while they react remove themselves from the set.
  if (jobs) for (const job of [...jobs]) job.onAbortSignal();
}

export function watchAbort(signal: AbortSignal, job: Watched): void {
  let jobs = watched.get(signal);
  if (!jobs) {
    jobs = new Set();
    watched.set(signal, jobs);
    signal.addEventListener('abort', fire, { once: true });
  }
  jobs.add(job);
}

export function unwatchAbort(signal: AbortSignal, job: Watched): void {
  const jobs = watched.get(signal);
  if (!jobs?.delete(job) || jobs.size > 0) return;
  watched.delete(signal);
  signal.removeEventListener('abort', fire);
}
