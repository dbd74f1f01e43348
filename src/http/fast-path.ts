// When a response body may go out by sendfile(2) straight onto the connection's socket, and
// when it must take Node's ordinary write path so that whatever sits between the response and
// the socket (TLS, HTTP/2 framing, compression, chunking) still sees every byte.
import { ServerResponse, type IncomingMessage } from 'node:http';
import { Socket } from 'node:net';

export type FallbackReason =
  | 'small' // below the size where sendfile(2) pays for its extra crossing
  | 'not-http1' // not a node:http ServerResponse (HTTP/2 compatibility API, a mock)
  | 'tls' // bytes must be encrypted
  | 'socket' // the connection is not a net.Socket (e.g. an injected request)
  | 'patched-write' // res.write/res.end replaced (compression middleware and the like)
  | 'content-encoding' // a body encoding was announced: someone means to transform the bytes
  | 'transfer-encoding' // chunked or another framing the raw body would break
  | 'strict-content-length'; // Node would count written bytes, which sendfile bypasses

const plainWrite = ServerResponse.prototype.write;
const plainEnd = ServerResponse.prototype.end;

/** Why this response's body cannot go by sendfile, or undefined when it can. */
export function fallbackReason(req: IncomingMessage, res: ServerResponse): FallbackReason | undefined {
  if (!(res instanceof ServerResponse) || req.httpVersionMajor >= 2) return 'not-http1';
  const socket = req.socket as Socket & { encrypted?: boolean };
  if (socket.encrypted) return 'tls';
  if (!(socket instanceof Socket)) return 'socket';
  if (res.write !== plainWrite || res.end !== plainEnd) return 'patched-write';
  if (res.hasHeader('content-encoding')) return 'content-encoding';
  if (res.hasHeader('transfer-encoding')) return 'transfer-encoding';
  if (res.strictContentLength) return 'strict-content-length';
  return undefined;
}
