// sendFile: sendfile(2) from a file to a socket without blocking the event loop, ordered with
// aioWrite jobs on the same socket (headers by aioWrite, body by sendFile).
import type { FileHandle } from 'node:fs/promises';
import { abortError, rangeError, stateError, typeError, type AiotxError } from '../engine/errors.js';
import { openFileSource, type FileSource, type OwnedFile } from '../engine/file-source.js';
import { FileJob, PromiseSettler, type WriteResult } from '../engine/job.js';
import { checkTarget, describe, transmitterFor, type Target } from '../engine/registry.js';
import { checkOptions, checkSignal, enqueueWhenReady } from './arguments.js';

export type { WriteResult };

export interface SendFileOptions {
  /** First byte of the file to send (default 0). */
  offset?: number;
  /** Bytes to send (default: to the end of the file). */
  length?: number;
  signal?: AbortSignal;
}

function checkCount(value: unknown, what: string): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number') throw typeError(`sendFile: ${what} must be a number, got ${describe(value)}`);
  if (!Number.isSafeInteger(value) || value < 0) throw rangeError(`sendFile: ${what} must be a non-negative integer, got ${value}`);
  return value;
}

function isFileHandle(file: unknown): file is FileHandle {
  return typeof file === 'object' && file !== null && file.constructor?.name === 'FileHandle' && typeof (file as FileHandle).fd === 'number';
}

function checkFile(file: unknown): FileSource {
  if (typeof file === 'string') {
    if (file === '') throw typeError('sendFile: file path must not be empty', 'ERR_INVALID_ARG_VALUE');
    return file;
  }
  if (typeof file === 'number') {
    if (!Number.isInteger(file) || file < 0) throw rangeError(`sendFile: file fd must be a non-negative integer, got ${file}`);
    return file;
  }
  if (isFileHandle(file)) {
    if (file.fd < 0) throw stateError('sendFile: the FileHandle is closed', 'EBADF');
    return file;
  }
  throw typeError(`sendFile: file must be a path, an fd or a FileHandle, got ${describe(file)}`);
}

export function sendFile(target: Target, file: string | number | FileHandle, options: SendFileOptions = {}): Promise<WriteResult> {
  return start(target, () => checkFile(file), options);
}

/**
 * sendFile of an fd the caller opened, checked (a regular file of `size` bytes) and keeps open
 * until the promise settles: no duplicate, no fstat, and the job goes to the socket at once (no
 * turn waiting for an open). `head`, when given, goes out just before the file's bytes in the
 * same call (an HTTP response's serialized headers: a latin1 string); the result's `bytes`
 * counts it. For aiotx's own surfaces (serveFile).
 */
export function sendOwnedFile(target: Target, fd: number, size: number, options: SendFileOptions = {}, head?: string | Uint8Array): Promise<WriteResult> {
  return start(target, () => ({ owned: fd, size }), options, head);
}

function start(target: Target, sourceOf: () => FileSource | OwnedFile, options: SendFileOptions, head?: string | Uint8Array): Promise<WriteResult> {
  const settler = new PromiseSettler();
  try {
    queue(target, sourceOf, options, head, settler);
  } catch (err) {
    settler.reject(err as Error);
  }
  return settler.promise;
}

/** Checks the call and queues its job; throws what the call rejects with. */
function queue(target: Target, sourceOf: () => FileSource | OwnedFile, options: SendFileOptions, head: string | Uint8Array | undefined, settler: PromiseSettler): void {
  checkTarget(target, 'sendFile');
  const source = sourceOf();
  checkOptions(options, 'sendFile');
  const offset = checkCount(options.offset, 'options.offset') ?? 0;
  const length = checkCount(options.length, 'options.length');
  const signal = checkSignal(options.signal, 'sendFile');
  if (signal?.aborted) throw abortError(signal);
  const owned = typeof source === 'object' && 'owned' in source ? source : null;
  const ownedCount = owned ? (length ?? Math.max(0, owned.size - offset)) : 0;
  if (owned && offset + ownedCount > owned.size) throw pastEnd(offset, ownedCount, owned.size);
  const tx = transmitterFor(target, 'sendFile');
  const job = new FileJob(0, settler, signal);
  if (head !== undefined) job.setHead(head);
  if (owned) {
    // Already open and checked: ready before it is queued, so it can go out in this very call.
    job.prepared(owned.owned, offset, ownedCount);
    return enqueueWhenReady(tx, job);
  }
  const opened = openFileSource(source as FileSource);
  enqueueWhenReady(tx, job, (t) => {
    if (!t) return void opened.then((f) => f.close(), () => {});
    opened.then(
      (f) => {
        if (job.isSettled) return f.close();
        job.onFinish = f.close;
        const count = length ?? Math.max(0, f.size - offset);
        if (offset + count > f.size) {
          job.stop(pastEnd(offset, count, f.size));
        } else {
          job.prepared(f.fd, offset, count);
        }
        t.pump();
      },
      (err: AiotxError) => {
        job.stop(err);
        t.pump();
      },
    );
  });
}

function pastEnd(offset: number, count: number, size: number): AiotxError {
  return rangeError(`sendFile: offset ${offset} + length ${count} is past the end of the file (${size} bytes)`);
}
