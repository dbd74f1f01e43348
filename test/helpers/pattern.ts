// Deterministic test streams: byte i of stream `seed` depends only on (seed, i), so a sender in
// one process and a receiver in another agree on any slice, and a received prefix can be
// checked against the expected one by hash without either side keeping the stream.
import { createHash } from 'node:crypto';

function word(seed: number, index: number): number {
  // murmur3's finaliser over (seed, word index)
  let h = (Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(index, 0xc2b2ae35)) >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Bytes [offset, offset + length) of stream `seed`. */
export function streamBytes(seed: number, offset: number, length: number): Buffer {
  const out = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) {
    const at = offset + i;
    if ((at & 3) === 0 && i + 4 <= length) {
      out.writeUInt32LE(word(seed, at >>> 2), i);
      i += 3;
    } else {
      out[i] = (word(seed, at >>> 2) >>> (8 * (at & 3))) & 0xff;
    }
  }
  return out;
}

/** sha256 of the first `length` bytes of stream `seed`. */
export function prefixDigest(seed: number, length: number): string {
  const hash = createHash('sha256');
  const chunk = 1 << 20;
  for (let at = 0; at < length; at += chunk) hash.update(streamBytes(seed, at, Math.min(chunk, length - at)));
  return hash.digest('hex');
}
