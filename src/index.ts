// aiotx: zero-copy asynchronous socket transmit for Node.js.
export { aioWrite, type AioWriteOptions } from './api/aio-write.js';
export { sendFile, type SendFileOptions } from './api/send-file.js';
export { createBufferPool, type BufferPool, type BufferPoolOptions } from './api/buffer-pool.js';
export { probe, type Capabilities, type InterfaceCapabilities } from './api/probe.js';
export { zeroCopy } from './api/zero-copy.js';
export type { WriteResult } from './engine/job.js';
export type { BatchError, BatchFailure } from './engine/batch.js';
export type { ZeroCopyMode } from './policy/zero-copy-policy.js';
export type { BackendName } from './engine/backend.js';
export type { BackendStatus } from './engine/capabilities.js';
