// Loaded into every test file's process (`node --test --import`): once the file's tests are done,
// the engine must hold nothing and the process must be back where it started — no transmitter,
// no io_uring tag in use, no socket or file fd left open, VmPin/VmLck as before (liburing's
// tests assert an empty CQ the same way).
import assert from 'node:assert/strict';
import { after } from 'node:test';
import { baselineNow, noLeaks, settledLeaks } from './leaks.js';

const baseline = baselineNow();

after(async () => {
  const leaks = await settledLeaks(baseline);
  assert.ok(noLeaks(leaks), `leak check after ${process.argv[1] ?? 'this file'}: ${JSON.stringify(leaks)}`);
});
