// serveStatic: a drop-in for serve-static (the middleware behind express.static) for node:http,
// Connect and Express, with the same options, defaults and answers, built on serveFile.
import { realpath } from 'node:fs';
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { extname, join, relative, resolve, sep } from 'node:path';
import { openBeneath } from '../engine/file-source.js';
import { DOCUMENT_HEADERS, encodeUrl, escapeHtml, htmlDocument } from './html.js';
import { hasDotSegment, isInside, mapUrlPath, realPathOf } from './safe-path.js';
import { closeFile, openFile, openFileSync, respond, statOpened, settingsOf, statusOfOpenError, writeErrorPage, type FileResponseOptions, type OpenFile, type Settings } from './serve-file.js';

export interface ServeStaticOptions extends FileResponseOptions {
  /** Files and folders starting with a dot: 'ignore' (404, the default), 'deny' (403) or 'allow'. */
  dotfiles?: 'allow' | 'deny' | 'ignore';
  /** Extensions to try when a file is not found, e.g. ['html']. */
  extensions?: string[] | string | false;
  /** Let unservable requests go to next() (default true); else next(err). */
  fallthrough?: boolean;
  /** Directory index files (default ['index.html']; false for none). */
  index?: string[] | string | false;
  /** Redirect a directory to its trailing-slash URL (default true). */
  redirect?: boolean;
  /** Alias of maxAge, as in serve-static. */
  maxage?: number | string;
  /** Serve files that a symlink under root points to outside root (default false: 404). */
  followSymlinksOutsideRoot?: boolean;
}

export type NextFunction = (err?: unknown) => void;
export type StaticMiddleware = (req: IncomingMessage, res: ServerResponse, next?: NextFunction) => void;

/** An error like http-errors makes, which Express's final handler renders by its status. */
export interface HttpError extends Error {
  status: number;
  statusCode: number;
  expose: boolean;
  headers?: OutgoingHttpHeaders;
}

const STATUS_MESSAGE: Record<number, string> = { 400: 'Bad Request', 403: 'Forbidden', 404: 'Not Found', 412: 'Precondition Failed', 416: 'Range Not Satisfiable', 500: 'Internal Server Error' };

function httpError(status: number, headers?: OutgoingHttpHeaders): HttpError {
  const err = new Error(STATUS_MESSAGE[status] ?? String(status)) as HttpError;
  err.status = err.statusCode = status;
  err.expose = status < 500;
  if (headers) err.headers = headers;
  return err;
}

function list(value: unknown, name: string): string[] {
  const items = ([] as unknown[]).concat(value || []);
  for (const item of items) if (typeof item !== 'string') throw new TypeError(`${name} must be array of strings or false`);
  return items as string[];
}

interface UrlParts {
  pathname: string;
  search: string;
}

function splitUrl(url: string): UrlParts {
  if (!url.startsWith('/')) {
    try {
      const u = new URL(url, 'http://localhost');
      return { pathname: u.pathname, search: u.search };
    } catch {
      return { pathname: url, search: '' };
    }
  }
  const q = url.indexOf('?');
  return q === -1 ? { pathname: url, search: '' } : { pathname: url.slice(0, q), search: url.slice(q) };
}

function collapseLeadingSlashes(s: string): string {
  let i = 0;
  while (s.charCodeAt(i) === 0x2f) i++;
  return i > 1 ? `/${s.slice(i)}` : s;
}

function redirectToSlash(req: IncomingMessage, res: ServerResponse): void {
  const original = splitUrl((req as { originalUrl?: string }).originalUrl ?? req.url ?? '/');
  const loc = encodeUrl(collapseLeadingSlashes(`${original.pathname}/`) + original.search);
  const doc = htmlDocument('Redirecting', `Redirecting to ${escapeHtml(loc)}`);
  res.statusCode = 301;
  for (const [k, v] of Object.entries(DOCUMENT_HEADERS)) res.setHeader(k, v);
  res.setHeader('Content-Length', Buffer.byteLength(doc));
  res.setHeader('Location', loc);
  res.end(doc);
}

export function serveStatic(root: string, options: ServeStaticOptions = {}): StaticMiddleware {
  if (!root) throw new TypeError('root path required');
  if (typeof root !== 'string') throw new TypeError('root path must be a string');
  const o = options ?? {};
  const fallthrough = o.fallthrough !== false;
  const redirect = o.redirect !== false;
  const dotfiles = o.dotfiles ?? 'ignore';
  if (dotfiles !== 'ignore' && dotfiles !== 'allow' && dotfiles !== 'deny') throw new TypeError('dotfiles option must be "allow", "deny", or "ignore"');
  const extensions = o.extensions !== undefined ? list(o.extensions, 'extensions option') : [];
  const index = o.index !== undefined ? list(o.index, 'index option') : ['index.html'];
  const followOut = o.followSymlinksOutsideRoot === true;
  const settings: Settings = settingsOf(o, 'serveStatic');
  const rootPath = resolve(root);
  let realRoot: Promise<string> | undefined;
  const realRootOnce = (): Promise<string> =>
    (realRoot ??= new Promise<string>((ok, fail) => realpath.native(rootPath, (err, p) => (err ? fail(err) : ok(p))))).catch((err) => {
      realRoot = undefined; // the root may appear later
      throw err;
    });

  return function serveStaticMiddleware(req, res, next) {
    const pass: NextFunction =
      next ??
      ((err?: unknown) => {
        const e = err as HttpError | undefined;
        writeErrorPage(res, e?.status ?? 404, e?.headers);
      });
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      if (fallthrough) return pass();
      res.statusCode = 405;
      res.setHeader('Allow', 'GET, HEAD');
      res.setHeader('Content-Length', '0');
      res.end();
      return;
    }
    let forwardError = !fallthrough;
    const fail = (status: number, headers?: OutgoingHttpHeaders): void => {
      if (forwardError || status >= 500) pass(httpError(status, headers));
      else pass();
    };
    let path = splitUrl(req.url ?? '/').pathname;
    // At the mount point ('/static' without its slash), redirect to the slash like a directory.
    if (path === '/' && !splitUrl((req as { originalUrl?: string }).originalUrl ?? req.url ?? '/').pathname.endsWith('/')) path = '';
    const trailingSlash = path.endsWith('/');
    const mapped = mapUrlPath(rootPath, path);
    if ('status' in mapped) return fail(mapped.status);
    if (hasDotSegment(mapped.parts) && dotfiles !== 'allow') return fail(dotfiles === 'deny' ? 403 : 404);

    /** Opens a candidate; resolves null (and closes it) when it leads outside the root. */
    const openInside = async (p: string): Promise<OpenFile | null> => {
      if (followOut) return openFileSync(p);
      // openat2 proves "inside" in the one open; anything it will not prove (an absolute symlink
      // that stays inside, an old kernel) or any error is decided by the path and real-path check.
      const fd = openBeneath(rootPath, (relative(rootPath, p) || '.') + (p.endsWith(sep) ? '/' : ''));
      if (fd >= 0) return statOpened(fd, p);
      const file = await openFile(p);
      let inside = false;
      try {
        inside = isInside(await realRootOnce(), realPathOf(file.fd, p));
      } finally {
        if (!inside) closeFile(file);
      }
      return inside ? file : null;
    };
    const serve = (file: OpenFile): void => {
      forwardError = true;
      void respond(req, res, file, settings, fail);
    };
    const onDirectory = (file: OpenFile): void => {
      closeFile(file);
      if (!redirect || trailingSlash) return fail(404);
      redirectToSlash(req, res);
    };

    const tryIndex = async (dir: string): Promise<void> => {
      let lastError: NodeJS.ErrnoException | undefined;
      for (const name of index) {
        let file: OpenFile | null;
        try {
          file = await openInside(join(dir, name));
        } catch (err) {
          lastError = err as NodeJS.ErrnoException;
          continue;
        }
        if (!file) return fail(404);
        if (file.stat.isDirectory()) {
          closeFile(file);
          lastError = undefined;
          continue;
        }
        return serve(file);
      }
      fail(lastError ? statusOfOpenError(lastError) : 404);
    };

    const tryFile = async (p: string): Promise<void> => {
      let file: OpenFile | null;
      try {
        file = await openInside(p);
      } catch (err) {
        const e = err as NodeJS.ErrnoException;
        if (e.code === 'ENOENT' && !extname(p) && !p.endsWith(sep)) return tryExtensions(p, e);
        return fail(statusOfOpenError(e));
      }
      if (!file) return fail(404);
      if (file.stat.isDirectory()) return onDirectory(file);
      if (p.endsWith(sep) || !file.stat.isFile()) {
        closeFile(file);
        return fail(404);
      }
      serve(file);
    };

    const tryExtensions = async (p: string, notFound: NodeJS.ErrnoException): Promise<void> => {
      let lastError: NodeJS.ErrnoException | undefined = notFound;
      for (const ext of extensions) {
        let file: OpenFile | null;
        try {
          file = await openInside(`${p}.${ext}`);
        } catch (err) {
          lastError = err as NodeJS.ErrnoException;
          continue;
        }
        if (!file) return fail(404);
        if (!file.stat.isFile()) {
          closeFile(file);
          lastError = undefined;
          continue;
        }
        return serve(file);
      }
      fail(lastError ? statusOfOpenError(lastError) : 404);
    };

    const work = index.length > 0 && trailingSlash ? tryIndex(mapped.path) : tryFile(mapped.path);
    work.catch((err: unknown) => pass(err));
  };
}
