// One Node server of `aiotx bench http`, in a process of its own: `node http-server-child.js KIND ROOT`.
// Prints {"port","version"} (or {"error"}) as its first stdout line, serves ROOT on 127.0.0.1, and
// exits when stdin closes (the bench is gone) or on SIGTERM, so --cpu-prof can write its profile.
import { createReadStream, readFileSync, stat } from 'node:fs';
import { createServer, type IncomingMessage, type RequestListener, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);

const EXPRESS: string = 'express';
interface Express {
  (): RequestListener & { use(mw: unknown): void };
  static(root: string): unknown;
}

/** A package's version from its package.json, found above its entry point (exports may hide it). */
function versionOf(name: string): string {
  let dir = dirname(require.resolve(name));
  for (let i = 0; i < 8; i++) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === name && pkg.version) return `${name} ${pkg.version}`;
    } catch {
      // not here: one level up
    }
    dir = dirname(dir);
  }
  return name;
}

/** What every Node server does the same way: long keep-alive (wrk holds its connections). */
function listen(server: Server): Promise<number> {
  server.keepAliveTimeout = 60_000;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
  });
}

/** The server every Node stack amounts to: stat, headers, createReadStream().pipe(res). */
function streamHandler(root: string): RequestListener {
  return (req: IncomingMessage, res: ServerResponse) => {
    const name = (req.url ?? '').slice(1);
    // The bench asks only for its own flat file names.
    if (!/^[\w.-]+$/.test(name) || name.startsWith('.')) {
      res.writeHead(404).end();
      return;
    }
    const path = join(root, name);
    stat(path, (err, st) => {
      if (err || !st.isFile()) {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { 'Content-Length': st.size, 'Content-Type': 'application/octet-stream' });
      createReadStream(path).on('error', () => res.destroy()).pipe(res);
    });
  };
}

async function start(kind: string, root: string): Promise<{ port: number; version: string }> {
  switch (kind) {
    case 'stream':
      return { port: await listen(createServer(streamHandler(root))), version: `node ${process.version}` };
    case 'express': {
      // express ships no types (and @types/express is not a dependency): the little used here.
      const { default: express } = (await import(EXPRESS)) as { default: Express };
      const app = express();
      app.use(express.static(root));
      return { port: await listen(createServer(app)), version: versionOf('express') };
    }
    case 'fastify': {
      const { default: Fastify } = await import('fastify');
      const { default: fastifyStatic } = await import('@fastify/static');
      const app = Fastify({ logger: false, keepAliveTimeout: 60_000 });
      await app.register(fastifyStatic, { root });
      await app.listen({ host: '127.0.0.1', port: 0 });
      return { port: (app.server.address() as AddressInfo).port, version: `${versionOf('fastify')}, ${versionOf('@fastify/static')}` };
    }
    case 'aiotx': {
      // The library's public entry, as a user imports it.
      const { serveStatic } = await import('aiotx');
      const serve = serveStatic(root);
      return { port: await listen(createServer((req, res) => serve(req, res))), version: versionOf('aiotx') };
    }
    default:
      throw new Error(`unknown server kind '${kind}'`);
  }
}

/** The package an import could not find, from Node's ERR_MODULE_NOT_FOUND message. */
function missingPackage(err: unknown): string | null {
  const e = err as { code?: unknown; message?: unknown };
  if (e?.code !== 'ERR_MODULE_NOT_FOUND' || typeof e.message !== 'string') return null;
  return /Cannot find package '([^']+)'/.exec(e.message)?.[1] ?? null;
}

const [kind, root] = process.argv.slice(2);
process.stdin.on('end', () => process.exit(0)).resume();
process.once('SIGTERM', () => process.exit(0));
try {
  if (kind === undefined || root === undefined) throw new Error('usage: http-server-child.js KIND ROOT');
  const where = await start(kind, root);
  process.stdout.write(`${JSON.stringify(where)}\n`);
} catch (err) {
  const e = err as { code?: unknown; message?: unknown };
  const missing = missingPackage(err);
  const error = { code: typeof e?.code === 'string' ? e.code : null, message: typeof e?.message === 'string' ? e.message : String(err), ...(missing ? { missing } : {}) };
  process.stdout.write(`${JSON.stringify({ error })}\n`);
  process.exit(1);
}
