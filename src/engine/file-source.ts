// The file a sendFile job reads, held the way sockets are held: through aiotx's own descriptor,
// so the caller closing its fd (and the number being reused) cannot change what is sent.
import { close, constants, fstat, fstatSync, open, stat, type Stats } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { addon } from '../native/addon.js';
import { errnoError, typeError } from './errors.js';

export type FileSource = string | number | FileHandle;

/**
 * A file its opener already checked (a regular file, this size) and keeps open until the job
 * settles: sent through that very descriptor, with no duplicate and no second fstat.
 */
export interface OwnedFile {
  owned: number;
  size: number;
}

export interface OpenFile {
  fd: number;
  size: number;
  /** Closes aiotx's descriptor; runs once, when the job settles. */
  close(): void;
}

/** What sendfile(2) can read at an offset: FIFOs, devices, directories and sockets are refused. */
function notRegular(st: Stats): Error | null {
  if (st.isFile()) return null;
  const kind = st.isDirectory() ? 'a directory' : st.isFIFO() ? 'a FIFO' : st.isSocket() ? 'a socket' : st.isCharacterDevice() || st.isBlockDevice() ? 'a device' : 'not a regular file';
  return typeError(`sendFile: the file is ${kind}; only regular files can be sent`, 'ERR_AIOTX_NOT_REGULAR_FILE');
}

/**
 * Opens (a path) or duplicates (an fd or FileHandle, synchronously, so a later close by the
 * caller cannot race) the file. A path is opened non-blocking: a FIFO would otherwise block a
 * thread-pool thread until a writer appears, before its type could be checked.
 */
export function openFileSource(file: FileSource | OwnedFile): Promise<OpenFile> {
  if (typeof file === 'object' && 'owned' in file) return Promise.resolve({ fd: file.owned, size: file.size, close: () => {} });
  if (typeof file !== 'string') {
    const theirs = typeof file === 'number' ? file : file.fd;
    const fd = addon.dup(theirs);
    if (fd < 0) return Promise.reject(errnoError(fd, 'dup', `sendFile: file fd ${theirs}`));
    const closeIt = () => void addon.close(fd);
    try {
      // fstat on the loop thread: the inode is in memory, and a thread-pool round trip costs more than sending 32 KiB.
      const st = fstatSync(fd);
      const refused = notRegular(st);
      if (refused) throw refused;
      return Promise.resolve({ fd, size: st.size, close: closeIt });
    } catch (err) {
      closeIt();
      return Promise.reject(err);
    }
  }
  return new Promise((resolve, reject) => {
    open(file, constants.O_RDONLY | constants.O_NONBLOCK, (err, fd) => {
      // A Unix socket's path cannot be opened (ENXIO): say what it is.
      if (err?.code === 'ENXIO') return stat(file, (e, st) => reject((!e && notRegular(st)) || err));
      if (err) return reject(err);
      const closeIt = () => close(fd, () => {});
      fstat(fd, (err2, st) => {
        const refused = err2 ?? notRegular(st);
        if (refused) {
          closeIt();
          return reject(refused);
        }
        resolve({ fd, size: st.size, close: closeIt });
      });
    });
  });
}

/**
 * Opens `relative` (O_RDONLY | O_NONBLOCK) beneath the directory `root` names now, by openat2(2):
 * no `..` above it, no absolute path or symlink, no /proc magic link. An fd, or -errno, where
 * EXDEV/ELOOP mean "not provably inside" and ENOSYS an older kernel: the caller decides the slow way.
 */
export function openBeneath(root: string, relative: string): number {
  return addon.openBeneath(root, relative);
}
