// Express, CommonJS: serveStatic in place of express.static. node examples/express.cjs [DIR] [PORT]
const express = require('express');
const { serveStatic } = require('aiotx'); // was: express.static

const [dir = '.', port = '8080'] = process.argv.slice(2);
const app = express();
app.use('/static', serveStatic(dir, { maxAge: '1h', index: ['index.html'] }));
app.get('/', (req, res) => res.send('hello from express\n'));

const server = app.listen(Number(port), '127.0.0.1', () => {
  console.log(`listening on http://127.0.0.1:${server.address().port}`);
});
