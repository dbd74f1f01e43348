// perf-categories: where each microsecond of a write goes, from a perf recording of a loop run
// with `node --perf-basic-prof` (sink-loop.mjs says how). Each sample of the busiest thread is
// put in one category by its stack: the kernel's UDP send path, io_uring's task_work (linked
// sends issued one after another), syscall entry and exit, eventfd and epoll, GC, promise
// machinery, or the nearest JavaScript frame's file (aiotx's modules by name); other threads
// apart. Shares are scaled by the loop's CPU µs per write.
// Usage: node scripts/measure/perf-categories.mjs PERF_DATA LOOP_JSON
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

const [data, jsonFile] = process.argv.slice(2);
if (!data || !jsonFile) throw new Error('usage: perf-categories.mjs PERF_DATA LOOP_JSON');
const loop = JSON.parse(readFileSync(jsonFile, 'utf8').trim().split('\n').pop());
const script = execFileSync('perf', ['script', '-i', data, '-F', 'comm,tid,ip,sym,dso'], { encoding: 'utf8', maxBuffer: 1 << 30, stdio: ['ignore', 'pipe', 'ignore'] });

const samples = [];
const perThread = new Map();
for (const block of script.split('\n\n')) {
  const lines = block.split('\n').filter((l) => l.trim() !== '');
  if (lines.length < 2) continue;
  const tid = lines[0].trim().split(/\s+/)[1];
  const frames = [];
  for (const line of lines.slice(1)) {
    const m = /^\s*[0-9a-f]+\s+(.*)\s+\((.*)\)\s*$/.exec(line);
    if (m) frames.push({ sym: m[1], dso: m[2] });
  }
  if (frames.length === 0) continue;
  samples.push({ tid, frames });
  perThread.set(tid, (perThread.get(tid) ?? 0) + 1);
}
const mainTid = [...perThread].sort((a, b) => b[1] - a[1])[0][0];

function jsOwner(frames) {
  for (const { sym } of frames) {
    if (!sym.startsWith('JS:')) continue;
    const m = /(file:\/\/\S+|node:\S+)/.exec(sym);
    if (!m) return `js ${sym.slice(3, 40)}`;
    return m[1].replace(/^file:\/\/.*\/dist\/src\//, 'aiotx ').replace(/^file:\/\/.*\//, '').replace(/:\d+:\d+$/, '');
  }
  return null;
}

function category({ frames }) {
  const { sym: leaf, dso } = frames[0];
  if (dso.includes('kernel')) {
    const stack = frames.map((f) => f.sym).join(' ');
    if (/io_send_zc|udp_sendmsg|tcp_sendmsg|__sys_sendmsg|__sys_sendto/.test(stack)) return 'kernel: send path (UDP/TCP, IP, device)';
    if (/io_notif|skb_release|kfree_skb/.test(stack)) return 'kernel: skb free, notifications';
    if (/eventfd|ep_poll|epoll/.test(stack)) return 'kernel: eventfd signal, epoll';
    if (/task_work/.test(stack)) return 'kernel: io_uring task_work (linked sends, completions)';
    if (/io_submit_sqes|io_uring_enter|__io_submit_flush/.test(stack)) return 'kernel: io_uring submission, completion';
    return 'kernel: syscall entry/exit, interrupts, other';
  }
  if (dso.endsWith('.node')) return 'native addon';
  if (dso.includes('libc')) return 'libc';
  if (/Scaveng|Heap::|MarkCompact|Sweeper|Marking|Evacuat|GCTracer|IterateObjectCache/.test(leaf)) return 'V8 GC';
  if (/compiler::|Compile|Parser|Scanner|Bytecode|interpreter|Maglev|CalculateLineEnds/.test(leaf)) return 'V8 compiler';
  if (/Promise|Microtask|AsyncFunction|Await/.test(leaf)) return 'promises, await, microtasks';
  return jsOwner(frames) ?? 'node, V8 (other)';
}

const counts = new Map();
for (const s of samples) {
  const c = s.tid === mainTid ? category(s) : `other threads (${/kernel/.test(s.frames[0].dso) ? 'kernel' : category(s)})`;
  counts.set(c, (counts.get(c) ?? 0) + 1);
}
const total = samples.length;
console.log(`${data}: ${total} samples, ${loop.writes} writes, ${loop.usPerWrite} µs CPU per write (user ${loop.userUs}, system ${loop.sysUs})`);
let small = 0;
for (const [c, n] of [...counts].sort((a, b) => b[1] - a[1])) {
  if (n / total < 0.005) {
    small += n;
    continue;
  }
  console.log(`${((n / total) * loop.usPerWrite).toFixed(2).padStart(6)} µs ${((100 * n) / total).toFixed(1).padStart(5)} %  ${c}`);
}
if (small > 0) console.log(`${((small / total) * loop.usPerWrite).toFixed(2).padStart(6)} µs ${((100 * small) / total).toFixed(1).padStart(5)} %  (each under 0.5 %)`);
