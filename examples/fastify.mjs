// Fastify: the aiotx plugin under a prefix. node examples/fastify.mjs [DIR] [PORT]
import Fastify from 'fastify';
import { fastifyServeStatic } from 'aiotx';

const [dir = '.', port = '8080'] = process.argv.slice(2);
const app = Fastify();
app.register(fastifyServeStatic, { root: dir, prefix: '/static', maxAge: '1h' });
app.get('/', async () => 'hello from fastify\n');

const address = await app.listen({ port: Number(port), host: '127.0.0.1' });
console.log(`listening on ${address}`);
