// Errors of the bench's native calls, shaped like Node's system errors (errno name as `code`).
import { getSystemErrorName } from 'node:util';

export interface SystemError extends Error {
  code: string;
  errno?: number;
  syscall?: string;
}

/** An Error for a negative errno returned by the addon, e.g. -104 -> ECONNRESET. */
export function errnoError(negErrno: number, syscall: string, context: string): SystemError {
  const code = getSystemErrorName(negErrno);
  return Object.assign(new Error(`${context}: ${syscall} failed with ${code}`), { code, errno: negErrno, syscall });
}

export function typeError(message: string, code = 'ERR_INVALID_ARG_TYPE'): TypeError & SystemError {
  return Object.assign(new TypeError(message), { code });
}
