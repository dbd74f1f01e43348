// HOST:PORT as people type it for `aiotx bench --host` and `aiotx serve --listen`.

/** 'HOST:PORT' (IPv6 as [ADDR]:PORT) → { host, port }; port 0 only where `allowZero`. */
export function parseHostPort(text: string, allowZero = false): { host: string; port: number } {
  const m = /^(\[[^\]]+\]|[^:[\]]+):(\d{1,5})$/.exec(text.trim());
  const port = m ? Number(m[2]) : NaN;
  if (!m || port > 65535 || (port === 0 && !allowZero)) throw new RangeError(`expected HOST:PORT (port 1-65535), got '${text}'`);
  return { host: m[1]!.replace(/^\[(.*)\]$/, '$1'), port };
}
