// A static file server on plain node:http: node examples/node-http.mjs [DIR] [PORT]
import { createServer } from 'node:http';
import { serveStatic } from 'aiotx';

const [dir = '.', port = '8080'] = process.argv.slice(2);
const files = serveStatic(dir, { maxAge: '1h' });

// Without a next() callback, serveStatic answers unservable requests itself (404, 403, ...).
const server = createServer((req, res) => files(req, res));
server.listen(Number(port), '127.0.0.1', () => {
  console.log(`listening on http://127.0.0.1:${server.address().port}`);
});
