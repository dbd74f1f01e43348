// The small HTML documents a file server answers with (errors, redirects), byte for byte the
// ones `send` and serve-static write, and the URL/HTML escaping they need.

const UNSAFE_URL = /(?:[^\x21\x23-\x3B\x3D\x3F-\x5F\x61-\x7A\x7C\x7E]|%(?:[^0-9A-Fa-f]|[0-9A-Fa-f][^0-9A-Fa-f]|$))+/g;
const LONE_SURROGATE = /(^|[^\uD800-\uDBFF])[\uDC00-\uDFFF]|[\uD800-\uDBFF]([^\uDC00-\uDFFF]|$)/g;
const HTML_SPECIAL = /["'&<>]/g;
const HTML_ENTITY: Record<string, string> = { '"': '&quot;', "'": '&#39;', '&': '&amp;', '<': '&lt;', '>': '&gt;' };

/** Percent-encodes what may not appear in a URL, leaving existing escapes alone (`encodeurl`). */
export function encodeUrl(url: string): string {
  return url.replace(LONE_SURROGATE, '$1\uFFFD$2').replace(UNSAFE_URL, encodeURI);
}

export function escapeHtml(text: string): string {
  return text.replace(HTML_SPECIAL, (c) => HTML_ENTITY[c]!);
}

export function htmlDocument(title: string, body: string): string {
  return `<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>${title}</title>\n</head>\n<body>\n<pre>${body}</pre>\n</body>\n</html>\n`;
}

/** Headers for an HTML document the server wrote itself. */
export const DOCUMENT_HEADERS: Readonly<Record<string, string>> = {
  'Content-Type': 'text/html; charset=UTF-8',
  'Content-Security-Policy': "default-src 'none'",
  'X-Content-Type-Options': 'nosniff',
};
