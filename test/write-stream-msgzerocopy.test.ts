// createWriteStream's batched writes on the msgzerocopy backend.
import { useBackend } from './helpers/backends.js';
import { writeStreamSuite } from './helpers/write-stream-suite.js';

writeStreamSuite(useBackend('msgzerocopy'), ['on']);
