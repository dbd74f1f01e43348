// The bench's receiving end, run as its own process so its CPU is not charged to the sender:
// listens on loopback, prints its port as one JSON line, and discards whatever arrives.
import { createServer } from 'node:net';

const server = createServer((socket) => {
  socket.on('error', () => socket.destroy());
  socket.resume();
});

server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('receiver: no TCP address');
  process.stdout.write(`${JSON.stringify({ port: address.port })}\n`);
});

// The sender holds our stdin open; when it closes (sender done or gone) we leave too.
process.stdin.on('end', () => process.exit(0));
process.stdin.on('error', () => process.exit(0));
process.stdin.resume();
