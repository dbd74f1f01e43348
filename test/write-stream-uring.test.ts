// createWriteStream's batched writes on the uring backend, zero-copy and copied.
import { useBackend } from './helpers/backends.js';
import { writeStreamSuite } from './helpers/write-stream-suite.js';

writeStreamSuite(useBackend('uring'), ['on', 'off']);
