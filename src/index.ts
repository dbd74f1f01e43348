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
export { serveFile, DEFAULT_SENDFILE_THRESHOLD, type ServeFileOptions, type FileResponseOptions, type ServeResult, type BodyPath } from './http/serve-file.js';
export type { FallbackReason } from './http/fast-path.js';
export { serveStatic, type ServeStaticOptions, type StaticMiddleware, type NextFunction } from './http/serve-static.js';
export { createWriteStream, type WriteStreamOptions } from './stream/write-stream.js';
export { fastifyServeStatic, type FastifyServeStaticOptions } from './http/fastify-plugin.js';
