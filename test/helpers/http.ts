// HTTP clients for the HTTP tests: curl (Debian's), Node's fetch, and a raw socket for
// pipelining; every body hashed.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { readdirSync } from 'node:fs';
import type { Server } from 'node:http';
import { connect } from 'node:net';

export function sha256(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

export async function listen(server: Server): Promise<string> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return `127.0.0.1:${(server.address() as { port: number }).port}`;
}

export function close(server: Server): Promise<void> {
  server.closeAllConnections?.();
  return new Promise((resolve) => server.close(() => resolve()));
}

export const curlMissing: string | false = await new Promise((resolve) =>
  execFile('curl', ['--version'], (err) => resolve(err ? 'curl is not installed (apt-get install curl)' : false)),
);

export interface Reply {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
  /** curl's exit code (18: the body ended before its Content-Length). */
  exitCode: number;
}

function parseHead(head: string): { status: number; headers: Record<string, string> } {
  const lines = head.split('\r\n');
  const status = Number(lines[0]!.split(' ')[1]);
  const headers: Record<string, string> = {};
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { status, headers };
}

/** One curl request: `-i` output split into the last header block and the body. */
export function curl(url: string, ...args: string[]): Promise<Reply> {
  return new Promise((resolve, reject) => {
    execFile('curl', ['-s', '-i', '--path-as-is', ...args, url], { encoding: 'buffer', maxBuffer: 1 << 30 }, (err, stdout) => {
      const exitCode = err ? Number((err as { code?: unknown }).code ?? -1) : 0;
      if (err && typeof (err as { code?: unknown }).code !== 'number') return reject(err);
      let start = 0;
      let end = stdout.indexOf('\r\n\r\n');
      // Skip interim responses (100 Continue).
      while (end !== -1 && stdout.subarray(start, start + 12).toString().match(/^HTTP\/\S+ 1\d\d/)) {
        start = end + 4;
        end = stdout.indexOf('\r\n\r\n', start);
      }
      if (end === -1) return resolve({ status: 0, headers: {}, body: Buffer.alloc(0), exitCode });
      const { status, headers } = parseHead(stdout.subarray(start, end).toString('latin1'));
      resolve({ status, headers, body: stdout.subarray(end + 4), exitCode });
    });
  });
}

export async function fetchReply(url: string, init?: RequestInit): Promise<Reply> {
  const r = await fetch(url, init);
  const headers: Record<string, string> = {};
  r.headers.forEach((v, k) => (headers[k] = v));
  return { status: r.status, headers, body: Buffer.from(await r.arrayBuffer()), exitCode: 0 };
}

/**
 * Writes `request` (several pipelined requests, say) in one write and reads `count` responses
 * framed by Content-Length (HEAD responses carry none).
 */
export async function rawExchange(host: string, request: string, count: number, heads = new Set<number>()): Promise<Reply[]> {
  const [h, p] = host.split(':');
  const socket = connect(Number(p), h);
  await once(socket, 'connect');
  socket.write(request);
  let buf = Buffer.alloc(0);
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let need = 0; // bytes the current reply needs before it is worth parsing again
  const replies: Reply[] = [];
  for await (const chunk of socket) {
    pending.push(chunk as Buffer);
    pendingBytes += (chunk as Buffer).length;
    if (buf.length + pendingBytes < need) continue;
    buf = Buffer.concat([buf, ...pending]);
    pending = [];
    pendingBytes = 0;
    for (;;) {
      const end = buf.indexOf('\r\n\r\n');
      if (end === -1) break;
      const { status, headers } = parseHead(buf.subarray(0, end).toString('latin1'));
      const length = heads.has(replies.length) || status === 304 ? 0 : Number(headers['content-length'] ?? 0);
      need = end + 4 + length;
      if (buf.length < need) break;
      replies.push({ status, headers, body: buf.subarray(end + 4, end + 4 + length), exitCode: 0 });
      buf = buf.subarray(end + 4 + length);
      need = 0;
    }
    if (replies.length === count) break;
  }
  socket.destroy();
  return replies;
}

export function openFds(): number {
  return readdirSync('/proc/self/fd').length;
}

/** Waits (bounded) until this process has `count` fds open again; returns the last count seen. */
export async function fdsBackTo(count: number): Promise<number> {
  for (let i = 0; i < 100; i++) {
    if (openFds() <= count) return openFds();
    await new Promise((r) => setTimeout(r, 50));
  }
  return openFds();
}
// A self-signed certificate for 127.0.0.1 (valid to 2126), for the TLS fallback tests only.
export const TLS_KEY = `-----BEGIN PRIVATE KEY-----
MIIEvgIBADANBgkqhkiG9w0BAQEFAASCBKgwggSkAgEAAoIBAQC7vRSsZ59PyuUO
WPOf1L/LgBRB59kB9a0DTwpcEf1vW3XOmN8M0G7CJqO4ViO5OZt/FRA6BtDGAT7S
6WDzhzKVN4hb8IGii9T3qS2GMqabGKLQhrrlBimpFJnwRFeRHpLN29nNqxyZDDl2
jOSv88+3ZXazQkTzhoFO9me7gIUAbbxwk4yfn8K3jPtaHMGCwcTvbCWwfyoR6++Y
41ZTGp6xOrcUoio7esAYjmnNUTmxQ2yXd0pU/Ac6y2mKpHGr+JlpOUmIaqkGmsNn
TFVoekEm9PaX02f4repH6B5L3kfTx25rfBoOqmPrShfx+7RElgwgpAfZ3h9LfMZ0
vsuVvre1AgMBAAECggEAAVCas3ZqVDm8jvQqiKUJztgPzEJeb7gTxSEplml91+jR
E2hYr5NKI0v3+5OG3oY7w5EXMwDXN3vMv9domWwJ+6eO6e3uSoAmNrHVosn6Br4O
bd1zs6TuZ8PALEGeR2Lqbkyq4tje82d1g5ILC/xuKP+p7Cl7qCT6BN6O7W5CADXB
cfq801Yf35TCvlnKP9DZFylAbjLy9YsRz9AtT6X5kdwtX5SVpLBIuOOLthX7eZEs
JjyU5rKkO3AAb6bxeKcaqLienOX0Igbq3VL7JGMbeO4ahqOmFyvsKMLtYQOvEOHq
sillDcMwnO2mEhcUuuYTUdR9DTrt0m9W6NWns7Cq5QKBgQD6e5VuWOb9veZ5/YcP
ELGmr3uVwvV5iYVuhvCYNGg0VveJ5P6cr2DZ10pRvvbmx5eI/LfeobGXoahpvPd6
KXHwy2xedGj/J1xotqKffgYY9fRD8N2rytHpttDnex4p+XYA/8CR3ZWJoy8+IoVa
vj0icqBfkumGkF6YkTlIZ9mLrwKBgQC/37JgDDAB7rMm8lFRnqCfo5VSU2Q7sRlW
v2jpuHjY4EJ9E8aQvceu8VxMsERCbpvfeOBACo1nMCb5Tb4wEPwqqnkSY3JO+N8K
zKLB+wvwZaqNbWpzxh0Sly1x98G+uN0YmflSAPr8y5WNi+RS1+KNJgi+L4qZFfBA
wS9SdsCX2wKBgDTdsIRBrz8OvX4xzDeZxmTv1J2fMEAejlLtmAoHxZaGZGhuNG7N
dRuFHOJz85hxt8Hp1MTgS6M9M1Zd072s0aeIx66H00FHBXH0Wg5fgtnxz0QnqiGA
BR3Wv/CbQ5qIVCeR0wr2QYFzN51dm9ezHyQOHVsOnssP3WdF/1kQ0hFxAoGBAIOo
EfRXyIU67dD2ipfvuZVwoKA5ulg/H/znICznOHzP/K9oZ2Kf5imDUesJM/1Fek0v
2uf2lapNXyDHmI3QycbY7HSSqjfICvuVCMUD5uBQUmPyxQ2lzgMYmsVN1LJylLsx
w+Lh61aUtwzGBahWnAxwIaWmZ3q9k/pK1JbIB0TrAoGBANf1ilNr9NfIw80hXFPu
ogXnHGB/HLvRHOr2PZEi9uMxbztRvXNJ2BI22f8DtFb0vBNw0Y25hjP3NmA3F26W
TOjEPK5ik6Onu+yQbKmNz7jJ8OY4skX+tnuGy1qdeKgD+bTqNv02iIBt+XcD3vlf
xMQiEeSHkH69vcJ1mC6Ea+0K
-----END PRIVATE KEY-----`;
export const TLS_CERT = `-----BEGIN CERTIFICATE-----
MIIDJzCCAg+gAwIBAgIUSV5OPEBcIurLd+iR6b+WwyBRAigwDQYJKoZIhvcNAQEL
BQAwFDESMBAGA1UEAwwJbG9jYWxob3N0MCAXDTI2MTIwMTIxMTY1OVoYDzIxMjYx
MTA3MjExNjU5WjAUMRIwEAYDVQQDDAlsb2NhbGhvc3QwggEiMA0GCSqGSIb3DQEB
AQUAA4IBDwAwggEKAoIBAQC7vRSsZ59PyuUOWPOf1L/LgBRB59kB9a0DTwpcEf1v
W3XOmN8M0G7CJqO4ViO5OZt/FRA6BtDGAT7S6WDzhzKVN4hb8IGii9T3qS2GMqab
GKLQhrrlBimpFJnwRFeRHpLN29nNqxyZDDl2jOSv88+3ZXazQkTzhoFO9me7gIUA
bbxwk4yfn8K3jPtaHMGCwcTvbCWwfyoR6++Y41ZTGp6xOrcUoio7esAYjmnNUTmx
Q2yXd0pU/Ac6y2mKpHGr+JlpOUmIaqkGmsNnTFVoekEm9PaX02f4repH6B5L3kfT
x25rfBoOqmPrShfx+7RElgwgpAfZ3h9LfMZ0vsuVvre1AgMBAAGjbzBtMB0GA1Ud
DgQWBBT4gwS5RYvG4GutwwJ5hmywCEvozDAfBgNVHSMEGDAWgBT4gwS5RYvG4Gut
wwJ5hmywCEvozDAPBgNVHRMBAf8EBTADAQH/MBoGA1UdEQQTMBGHBH8AAAGCCWxv
Y2FsaG9zdDANBgkqhkiG9w0BAQsFAAOCAQEAHUxckrY2/0ozbEWLG6USjOQGRCdB
9ZhI712iVgru+bGFW0GS7rADv145QG0H2o3grsTDdVu5rptujG8NO5jTfrNT2esc
IwlML3oKARTL7D2Mv58vVOGkwmjzZ0D+PMDBDJPRBeGn9SRghT/TRSA2GBEvlWbs
gqHyMIbEG2x8HhcJeAggcuHeAF8k3JbrDkIG/AmTaZYc158w7B2ZwORKGfvgEwGi
cHo30+7jDGSxwwH+ElHGieQzykTc3M1oBoqbpSd88Bejd9e1or/fiiQeaWIDe22x
lws9KjHBQ87T7d7Ib4uNFaU1VG9I0l4H5jucnRpdWDeShWZCl9Wv4+IBfQ==
-----END CERTIFICATE-----`;
