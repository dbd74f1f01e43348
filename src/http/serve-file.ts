// serveFile: one file as an HTTP/1.1 response on a node:http ServerResponse, with the status and
// headers `send` (behind express.static) gives it, and the body by sendfile(2) through aiotx
// once the headers have left. The response ends only after the kernel released the body.
import { closeSync, constants, createReadStream, fstatSync, openSync, read, type Stats } from 'node:fs';
import { STATUS_CODES, type IncomingMessage, type OutgoingHttpHeaders, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { extname } from 'node:path';
import { contentType } from 'mime-types';
import { sendFile, sendOwnedFile, type SendFileOptions, type WriteResult } from '../api/send-file.js';
import { cacheControlValue, maxAgeMs } from './cache-control.js';
import { etagOf, isConditional, isFresh, isRangeFresh, preconditionFails, type Validators } from './conditional.js';
import { fallbackReason, type FallbackReason } from './fast-path.js';
import { DOCUMENT_HEADERS, escapeHtml, htmlDocument } from './html.js';
import { IGNORE, parseRange, UNSATISFIABLE } from './range.js';

/**
 * Bodies below this many bytes go out as one ordinary write with the headers: there, the extra
 * crossing of a separate sendfile(2) costs more than the copy it saves (scripts/measure/http-bench.mjs).
 */
export const DEFAULT_SENDFILE_THRESHOLD = 64 * 1024;

export type BodyPath = 'sendfile' | 'buffer' | 'stream' | 'none';

export interface ServeResult {
  status: number;
  /** How the body went out: sendfile(2), one write from a buffer, a read stream, or no body. */
  body: BodyPath;
  /** Why it did not go by sendfile(2), when there was a body. */
  fallback?: FallbackReason;
  /** Body bytes handed to the connection. */
  bytes: number;
  /** The body could not be completed (client gone, file truncated): the connection was closed. */
  error?: Error;
}

export interface FileResponseOptions {
  /** Accept-Ranges and Range requests (default true). */
  acceptRanges?: boolean;
  /** Cache-Control: public, max-age=... (default true). */
  cacheControl?: boolean;
  etag?: boolean;
  lastModified?: boolean;
  /** Milliseconds or an `ms` string ('1d'); default 0. */
  maxAge?: number | string;
  immutable?: boolean;
  /** Content-Type to send instead of the one looked up from the file name (mime-types). */
  contentType?: string;
  /** Called before the default headers are set; headers it sets win. */
  setHeaders?: (res: ServerResponse, path: string, stat: Stats) => void;
  /** Bodies smaller than this go out in one ordinary write (default DEFAULT_SENDFILE_THRESHOLD). */
  sendFileThreshold?: number;
  /** Adds `X-Aiotx-Body: sendfile` or `buffer; small`, `stream; tls`... (default: AIOTX_HTTP_DEBUG=1). */
  debug?: boolean;
}

export interface ServeFileOptions extends FileResponseOptions {
  /** Aborting stops the body and closes the connection. */
  signal?: AbortSignal;
}

export interface Settings {
  acceptRanges: boolean;
  cacheControl: boolean;
  etag: boolean;
  lastModified: boolean;
  maxAge: number;
  immutable: boolean;
  contentType: string | undefined;
  setHeaders: FileResponseOptions['setHeaders'];
  threshold: number;
  debug: boolean;
}

export interface OpenFile {
  fd: number;
  path: string;
  stat: Stats;
}

/** Answers an error status instead of the file (serveFile writes a page; middleware calls next). */
export type Refusal = (status: number, headers?: OutgoingHttpHeaders) => void;

const flag = (v: unknown, byDefault: boolean): boolean => (v === undefined ? byDefault : Boolean(v));

export function settingsOf(o: FileResponseOptions & { maxage?: number | string }, api: string): Settings {
  if (o.setHeaders !== undefined && typeof o.setHeaders !== 'function') throw new TypeError('option setHeaders must be function');
  if (o.contentType !== undefined && typeof o.contentType !== 'string') throw new TypeError(`${api}: options.contentType must be a string`);
  const threshold = o.sendFileThreshold ?? DEFAULT_SENDFILE_THRESHOLD;
  if (!Number.isSafeInteger(threshold) || threshold < 0) throw new RangeError(`${api}: options.sendFileThreshold must be a non-negative integer`);
  return {
    acceptRanges: flag(o.acceptRanges, true),
    cacheControl: flag(o.cacheControl, true),
    etag: flag(o.etag, true),
    lastModified: flag(o.lastModified, true),
    maxAge: maxAgeMs(o.maxAge || o.maxage),
    immutable: flag(o.immutable, false),
    contentType: o.contentType,
    setHeaders: o.setHeaders,
    threshold,
    debug: o.debug ?? process.env.AIOTX_HTTP_DEBUG === '1',
  };
}

/**
 * Opens without blocking on a FIFO or device, so that only a regular file is ever read. On the
 * loop thread, as nginx does: for a local, page-cached file open + fstat cost less than one
 * thread-pool round trip.
 */
export function openFileSync(path: string): OpenFile {
  const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  return statOpened(fd, path);
}

/** The OpenFile of an fd just opened from `path`; closes it when fstat fails. */
export function statOpened(fd: number, path: string): OpenFile {
  try {
    return { fd, path, stat: fstatSync(fd) };
  } catch (err) {
    closeSync(fd);
    throw err;
  }
}

export function openFile(path: string): Promise<OpenFile> {
  try {
    return Promise.resolve(openFileSync(path));
  } catch (err) {
    return Promise.reject(err);
  }
}

/** Closes a file serveFile opened (a regular file or directory: close(2) does not block). */
export function closeFile(file: OpenFile): void {
  try {
    closeSync(file.fd);
  } catch {
    // already closed: nothing to release
  }
}

/** The status for a file that could not be opened. */
export function statusOfOpenError(err: NodeJS.ErrnoException): number {
  switch (err.code) {
    case 'ENOENT':
    case 'ENOTDIR':
    case 'ENAMETOOLONG':
      return 404;
    case 'EACCES':
    case 'EPERM':
      return 403;
    default:
      return 500;
  }
}

/** An HTML error page like `send`'s, replacing every header set so far. */
export function writeErrorPage(res: ServerResponse, status: number, headers?: OutgoingHttpHeaders): void {
  const doc = htmlDocument('Error', escapeHtml(STATUS_CODES[status] ?? String(status)));
  for (const name of res.getHeaderNames()) res.removeHeader(name);
  if (headers) for (const [k, v] of Object.entries(headers)) if (v !== undefined) res.setHeader(k, v);
  res.statusCode = status;
  for (const [k, v] of Object.entries(DOCUMENT_HEADERS)) res.setHeader(k, v);
  res.setHeader('Content-Length', Buffer.byteLength(doc));
  res.end(doc);
}

function whenClosed(res: ServerResponse): Promise<void> {
  if (res.destroyed && !res.writableFinished) return Promise.resolve();
  return new Promise((resolve) => res.once('close', () => resolve()));
}

export async function serveFile(req: IncomingMessage, res: ServerResponse, file: string, options: ServeFileOptions = {}): Promise<ServeResult> {
  if (typeof file !== 'string' || file === '') throw new TypeError('serveFile: file must be a non-empty path');
  if (options === null || typeof options !== 'object') throw new TypeError('serveFile: options must be an object');
  if (options.signal !== undefined && !(options.signal instanceof AbortSignal)) throw new TypeError('serveFile: options.signal must be an AbortSignal');
  const settings = settingsOf(options, 'serveFile');
  const closed = whenClosed(res);
  const refuse: Refusal = (status, headers) => writeErrorPage(res, status, headers);
  let opened: OpenFile;
  try {
    opened = await openFile(file);
  } catch (err) {
    const status = statusOfOpenError(err as NodeJS.ErrnoException);
    refuse(status);
    await closed;
    return { status, body: 'none', bytes: 0 };
  }
  if (!opened.stat.isFile()) {
    closeFile(opened);
    refuse(404);
    await closed;
    return { status: 404, body: 'none', bytes: 0 };
  }
  const result = await respond(req, res, opened, settings, refuse, options.signal);
  await closed;
  return result;
}

function removeContentHeaders(res: ServerResponse): void {
  for (const name of ['Content-Encoding', 'Content-Language', 'Content-Length', 'Content-Range', 'Content-Type']) res.removeHeader(name);
}

function setFileHeaders(res: ServerResponse, file: OpenFile, s: Settings): Validators {
  s.setHeaders?.(res, file.path, file.stat);
  if (s.acceptRanges && !res.getHeader('Accept-Ranges')) res.setHeader('Accept-Ranges', 'bytes');
  if (s.cacheControl && !res.getHeader('Cache-Control')) res.setHeader('Cache-Control', cacheControlValue(s.maxAge, s.immutable));
  if (s.lastModified && !res.getHeader('Last-Modified')) res.setHeader('Last-Modified', file.stat.mtime.toUTCString());
  if (s.etag && !res.getHeader('ETag')) res.setHeader('ETag', etagOf(file.stat));
  if (!res.getHeader('Content-Type')) {
    res.setHeader('Content-Type', s.contentType ?? (contentType(extname(file.path)) || 'application/octet-stream'));
  }
  const etag = res.getHeader('ETag');
  const lastModified = res.getHeader('Last-Modified');
  return { etag: typeof etag === 'string' ? etag : undefined, lastModified: typeof lastModified === 'string' ? lastModified : undefined };
}

/**
 * Answers `req` with the open file (closing it): headers, conditional and range handling, then
 * the body. Resolves once the body is settled and the file closed.
 */
export function respond(
  req: IncomingMessage,
  res: ServerResponse,
  file: OpenFile,
  s: Settings,
  refuse: Refusal,
  signal?: AbortSignal,
): Promise<ServeResult> {
  const done = (status: number, body: BodyPath = 'none'): Promise<ServeResult> => {
    closeFile(file);
    return Promise.resolve({ status, body, bytes: 0 });
  };
  if (res.headersSent) {
    refuse(500);
    return done(500);
  }
  const v = setFileHeaders(res, file, s);
  const headers = req.headers;
  if (isConditional(headers)) {
    if (preconditionFails(headers, v)) {
      refuse(412);
      return done(412);
    }
    const cachable = (res.statusCode >= 200 && res.statusCode < 300) || res.statusCode === 304;
    if (cachable && isFresh(headers, v)) {
      removeContentHeaders(res);
      res.statusCode = 304;
      res.end();
      return done(304);
    }
  }
  const size = file.stat.size;
  let offset = 0;
  let length = size;
  const rangeHeader = headers.range;
  if (s.acceptRanges && rangeHeader !== undefined) {
    const ranges = isRangeFresh(headers, v) ? parseRange(size, rangeHeader) : IGNORE;
    if (ranges === UNSATISFIABLE) {
      res.setHeader('Content-Range', `bytes */${size}`);
      refuse(416, { 'Content-Range': `bytes */${size}` });
      return done(416);
    }
    // Several ranges would need multipart/byteranges; like `send`, answer the whole file.
    if (ranges !== IGNORE && ranges.length === 1) {
      const r = ranges[0]!;
      res.statusCode = 206;
      res.setHeader('Content-Range', `bytes ${r.start}-${r.end}/${size}`);
      offset = r.start;
      length = r.end - r.start + 1;
    }
  }
  res.setHeader('Content-Length', length);
  if (req.method === 'HEAD') {
    if (s.debug) res.setHeader('X-Aiotx-Body', 'none');
    res.end();
    return done(res.statusCode);
  }
  const blocker = fallbackReason(req, res);
  const reason = blocker ?? (length < s.threshold ? 'small' : undefined);
  if (reason === undefined) return bodyBySendFile(res, file, offset, length, s, signal);
  if (s.debug) res.setHeader('X-Aiotx-Body', `${length < s.threshold ? 'buffer' : 'stream'}; ${reason}`);
  return length < s.threshold ? bodyFromBuffer(res, file, offset, length, reason, signal) : bodyFromStream(res, file, offset, length, reason, signal);
}

/** Ties the body's life to the response: a client that goes away (or the caller's signal) aborts it. */
function abortOnClose(res: ServerResponse, signal: AbortSignal | undefined): AbortController {
  const ac = new AbortController();
  const onClose = () => {
    if (!res.writableFinished) ac.abort();
  };
  res.once('close', onClose);
  const onAbort = () => ac.abort(signal!.reason);
  if (signal?.aborted) ac.abort(signal.reason);
  signal?.addEventListener('abort', onAbort, { once: true });
  ac.signal.addEventListener('abort', () => res.destroy(), { once: true });
  res.once('finish', () => signal?.removeEventListener('abort', onAbort));
  return ac;
}

/** The connection once this response owns it (a pipelined response waits for the ones before it), or null if it closed first. */
function whenOwned(res: ServerResponse): Promise<Socket | null> {
  return new Promise((resolve) => {
    const onSocket = (socket: Socket) => {
      res.off('close', onClose);
      // assignSocket emits 'socket' before it flushes what the response buffered: nothing here,
      // the headers were kept back for takeHeader.
      resolve(socket);
    };
    const onClose = () => {
      res.off('socket', onSocket);
      resolve(null);
    };
    res.once('socket', onSocket);
    res.once('close', onClose);
  });
}

/** The private fields of Node's OutgoingMessage (lib/_http_outgoing.js, Node 20 and 22) that takeHeader uses. */
interface OutgoingInternals {
  _header?: unknown;
  _headerSent?: unknown;
  outputData?: unknown;
}

/**
 * Node's serialized status line and headers (writeHead stored them in `_header`, a latin1 string),
 * marked sent so that Node does not write them again: the body's first sendfile call sends them
 * in front of the body, in one packet, as nginx does. Null where Node's fields do not look as
 * expected or Node already queued them: then Node writes them (flushHeaders) as before.
 */
function takeHeader(res: ServerResponse): string | Uint8Array | null {
  const r = res as unknown as OutgoingInternals;
  const header = r._header;
  if (r._headerSent !== false || !Array.isArray(r.outputData) || r.outputData.length !== 0) return null;
  if (typeof header !== 'string' && !(header instanceof Uint8Array)) return null;
  r._headerSent = true;
  return header;
}

/** The body (and, where Node lets us, the headers with it) on the connection this response owns. */
function sendOn(res: ServerResponse, socket: Socket, file: OpenFile, how: SendFileOptions): Promise<WriteResult> {
  if (how.signal?.aborted) return Promise.reject(how.signal.reason as Error);
  const head = file.stat.isFile() ? takeHeader(res) : null;
  if (head === null) res.flushHeaders();
  // A regular file this response opened and closes: no duplicate; anything else gets sendFile's own checks.
  return file.stat.isFile() ? sendOwnedFile(socket, file.fd, file.stat.size, how, head ?? undefined) : sendFile(socket, file.fd, how);
}

function bodyBySendFile(res: ServerResponse, file: OpenFile, offset: number, length: number, s: Settings, signal?: AbortSignal): Promise<ServeResult> {
  if (s.debug) res.setHeader('X-Aiotx-Body', 'sendfile');
  const status = res.statusCode;
  // A client that goes away closes the socket, and that ends the job (the transmitter watches the
  // socket): only the caller's signal needs a controller of its own, and listeners per response.
  const ac = signal ? abortOnClose(res, signal) : null;
  // The headers are fixed now (headersSent is true from here on), sent with the body's first bytes.
  if (!res.headersSent) res.writeHead(status);
  const how: SendFileOptions = { offset, length, signal: ac?.signal };
  const socket = res.socket as Socket | null;
  const sent = socket
    ? sendOn(res, socket, file, how)
    : whenOwned(res).then((owner) => {
        if (!owner) throw ac?.signal.reason ?? new Error('the response closed before it owned its connection');
        return sendOn(res, owner, file, how);
      });
  return sent.then(
    (r): ServeResult => {
      closeFile(file);
      res.end();
      // r.bytes counts the headers too when they went with the body.
      return { status, body: 'sendfile', bytes: r.bytes > length ? length : r.bytes };
    },
    (error: Error): ServeResult => {
      closeFile(file);
      // Never leave a connection whose Content-Length the body did not fill.
      res.destroy();
      return { status, body: 'sendfile', bytes: 0, error };
    },
  );
}

function bodyFromBuffer(res: ServerResponse, file: OpenFile, offset: number, length: number, fallback: FallbackReason, signal?: AbortSignal): Promise<ServeResult> {
  const status = res.statusCode;
  const buf = Buffer.allocUnsafe(length);
  return new Promise<ServeResult>((resolve) => {
    const fail = (error: Error) => {
      res.destroy();
      resolve({ status, body: 'buffer', fallback, bytes: 0, error });
    };
    const readMore = (at: number): void => {
      if (signal?.aborted) return fail(signal.reason as Error);
      if (at === length) {
        res.end(buf);
        return resolve({ status, body: 'buffer', fallback, bytes: length });
      }
      read(file.fd, buf, at, length - at, offset + at, (err, n) => {
        if (err) return fail(err);
        if (n === 0) return fail(truncated(length - at));
        readMore(at + n);
      });
    };
    readMore(0);
  }).finally(() => closeFile(file));
}

function truncated(missing: number): Error {
  return Object.assign(new Error(`serveFile: the file ended ${missing} bytes early (truncated while sending?)`), { code: 'ERR_AIOTX_FILE_TRUNCATED' });
}

function bodyFromStream(res: ServerResponse, file: OpenFile, offset: number, length: number, fallback: FallbackReason, signal?: AbortSignal): Promise<ServeResult> {
  const status = res.statusCode;
  const ac = abortOnClose(res, signal);
  // The stream owns the fd: it closes it only after its last read returned.
  const stream = createReadStream('', { fd: file.fd, start: offset, end: offset + length - 1, signal: ac.signal });
  let bytes = 0;
  let error: Error | undefined;
  stream.on('data', (chunk: string | Buffer) => {
    bytes += chunk.length;
  });
  stream.pipe(res, { end: false });
  stream.once('end', () => {
    if (bytes === length) return res.end();
    error = truncated(length - bytes);
    res.destroy();
  });
  stream.once('error', (err) => {
    error = err;
    res.destroy();
  });
  return new Promise<ServeResult>((resolve) => {
    stream.once('close', () => resolve(error ? { status, body: 'stream', fallback, bytes, error } : { status, body: 'stream', fallback, bytes }));
  });
}
