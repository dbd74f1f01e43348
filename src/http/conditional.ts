// HTTP validators and conditional requests (RFC 9110 §8.8, §13), with the same rules as `send`
// (behind serve-static), so that switching middleware changes no cache behaviour.
import type { IncomingHttpHeaders } from 'node:http';
import type { Stats } from 'node:fs';

const NO_CACHE = /(?:^|,)\s*?no-cache\s*?(?:,|$)/;

/** `send`'s weak validator: size and mtime in hex. */
export function etagOf(stat: Stats): string {
  return `W/"${stat.size.toString(16)}-${stat.mtime.getTime().toString(16)}"`;
}

function parseHttpDate(date: unknown): number {
  return typeof date === 'string' && date !== '' ? Date.parse(date) : NaN;
}

function tokens(list: string): string[] {
  return list
    .split(',')
    .map((t) => t.trim())
    .filter((t) => t !== '');
}

function matches(candidate: string, etag: string): boolean {
  return candidate === etag || candidate === `W/${etag}` || `W/${candidate}` === etag;
}

export interface Validators {
  etag: string | undefined;
  lastModified: string | undefined;
}

export function isConditional(headers: IncomingHttpHeaders): boolean {
  return Boolean(headers['if-match'] || headers['if-unmodified-since'] || headers['if-none-match'] || headers['if-modified-since']);
}

/** If-Match / If-Unmodified-Since fail: answer 412. */
export function preconditionFails(headers: IncomingHttpHeaders, v: Validators): boolean {
  const match = headers['if-match'];
  if (match) return !v.etag || (match !== '*' && tokens(match).every((m) => !matches(m, v.etag!)));
  const unmodifiedSince = parseHttpDate(headers['if-unmodified-since']);
  if (Number.isNaN(unmodifiedSince)) return false;
  const lastModified = parseHttpDate(v.lastModified);
  return Number.isNaN(lastModified) || lastModified > unmodifiedSince;
}

/** If-None-Match / If-Modified-Since hold: answer 304. */
export function isFresh(headers: IncomingHttpHeaders, v: Validators): boolean {
  const modifiedSince = headers['if-modified-since'];
  const noneMatch = headers['if-none-match'];
  if (!modifiedSince && !noneMatch) return false;
  const cacheControl = headers['cache-control'];
  if (cacheControl && NO_CACHE.test(cacheControl)) return false;
  if (noneMatch) {
    if (noneMatch === '*') return true;
    return v.etag !== undefined && tokens(noneMatch).some((m) => matches(m, v.etag!));
  }
  const lastModified = parseHttpDate(v.lastModified);
  return !Number.isNaN(lastModified) && lastModified <= parseHttpDate(modifiedSince);
}

/** If-Range: a stale validator means the whole representation, not the range. */
export function isRangeFresh(headers: IncomingHttpHeaders, v: Validators): boolean {
  const ifRange = headers['if-range'];
  if (!ifRange) return true;
  if (ifRange.includes('"')) return v.etag !== undefined && ifRange.includes(v.etag);
  return parseHttpDate(v.lastModified) <= parseHttpDate(ifRange);
}
