// The transmit suite on the uring backend.
import { useBackend } from './helpers/backends.js';
import { transmitSuite } from './helpers/transmit-suite.js';

transmitSuite(useBackend('uring'));
