// Mapping a URL path onto a file under a root without ever leaving it: percent-decoding once,
// refusing NUL and any `..` segment (either slash), and checking what was actually opened.
import { readlinkSync, realpathSync } from 'node:fs';
import { join, normalize, sep } from 'node:path';

const UP_PATH = /(?:^|[\\/])\.\.(?:[\\/]|$)/;

export type Mapped = { path: string; parts: string[] } | { status: 400 | 403 };

/** `send`'s mapping: decode once, normalize relative to the root, refuse a way up. */
export function mapUrlPath(root: string, urlPath: string): Mapped {
  let path: string;
  try {
    path = decodeURIComponent(urlPath);
  } catch {
    return { status: 400 };
  }
  if (path.includes('\0')) return { status: 400 };
  if (path) path = normalize(`.${sep}${path}`);
  if (UP_PATH.test(path)) return { status: 403 };
  return { path: normalize(join(root, path)), parts: path.split(sep) };
}

export function hasDotSegment(parts: string[]): boolean {
  return parts.some((p) => p.length > 1 && p[0] === '.');
}

/** The real path of an open fd: what a symlink resolved to when it was opened, not what it says now. */
export function realPathOf(fd: number, path: string): string {
  try {
    return readlinkSync(`/proc/self/fd/${fd}`);
  } catch {
    return realpathSync.native(path);
  }
}

export function isInside(realRoot: string, real: string): boolean {
  return real === realRoot || real.startsWith(realRoot.endsWith(sep) ? realRoot : realRoot + sep);
}
