// A Fastify plugin serving a directory through serveStatic on the raw node:http objects (the
// reply is hijacked, so Fastify writes nothing of its own). Typed structurally: the library
// does not depend on Fastify.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { serveStatic, type ServeStaticOptions } from './serve-static.js';

export interface FastifyServeStaticOptions extends Omit<ServeStaticOptions, 'fallthrough'> {
  root: string;
}

interface FastifyRequestLike {
  raw: IncomingMessage & { originalUrl?: string };
}
interface FastifyReplyLike {
  raw: ServerResponse;
  hijack(): unknown;
}
export interface FastifyInstanceLike {
  prefix: string;
  route(options: { method: string[]; url: string; handler: (request: FastifyRequestLike, reply: FastifyReplyLike) => void }): unknown;
}

/** `fastify.register(fastifyServeStatic, { root, prefix: '/static', ...serveStatic options })`. */
export function fastifyServeStatic(fastify: FastifyInstanceLike, options: FastifyServeStaticOptions, done: (err?: Error) => void): void {
  let middleware: ReturnType<typeof serveStatic>;
  try {
    const { root, ...rest } = options;
    // There is no next route after a hijacked reply: unservable requests get serveStatic's page.
    middleware = serveStatic(root, { ...rest, fallthrough: false });
  } catch (err) {
    return done(err as Error);
  }
  const prefix = fastify.prefix;
  fastify.route({
    method: ['GET', 'HEAD'],
    url: '/*',
    handler(request, reply) {
      reply.hijack();
      const raw = request.raw;
      const url = raw.url ?? '/';
      // The path below the prefix, still percent-encoded (Fastify's params are decoded already).
      raw.originalUrl ??= url;
      raw.url = prefix && url.startsWith(prefix) ? url.slice(prefix.length) || '/' : url;
      middleware(raw, reply.raw);
    },
  });
  done();
}
