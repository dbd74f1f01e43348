// Errors the engine rejects with: errno names as `code`, like Node's own system errors.
import type { Socket } from 'node:net';
import { getSystemErrorName } from 'node:util';

export interface AiotxError extends Error {
  code: string;
  errno?: number;
  syscall?: string;
}

function withCode<E extends Error>(err: E, code: string): E & AiotxError {
  return Object.assign(err, { code });
}

/** An Error for a negative errno returned by the addon, e.g. -104 -> ECONNRESET. */
export function errnoError(negErrno: number, syscall: string, context: string): AiotxError {
  const code = getSystemErrorName(negErrno);
  const err = new Error(`${context}: ${syscall} failed with ${code}`) as AiotxError;
  return Object.assign(err, { code, errno: negErrno, syscall });
}

export function typeError(message: string, code = 'ERR_INVALID_ARG_TYPE'): TypeError & AiotxError {
  return withCode(new TypeError(message), code);
}

export function rangeError(message: string, code = 'ERR_OUT_OF_RANGE'): RangeError & AiotxError {
  return withCode(new RangeError(message), code);
}

export function stateError(message: string, code: string): AiotxError {
  return withCode(new Error(message), code);
}

/** The rejection of a job whose AbortSignal fired, carrying the signal's reason like Node's APIs. */
export function abortError(signal: AbortSignal): AiotxError {
  const err = new Error('The operation was aborted', { cause: signal.reason }) as AiotxError;
  err.name = 'AbortError';
  err.code = 'ABORT_ERR';
  return err;
}

/** Why jobs on a closed net.Socket reject: its own error when it failed, else ERR_SOCKET_CLOSED. */
export function closedError(socket: Socket): AiotxError {
  const cause = socket.errored as (Error & { code?: string }) | null;
  if (cause?.code) return Object.assign(new Error(`the socket failed: ${cause.message}`, { cause }), { code: cause.code });
  return stateError('the socket was closed while jobs were pending', 'ERR_SOCKET_CLOSED');
}
