// The bench loop: for each size, every method in turn (interleaved, so drift over time hits all
// methods alike), repeated, each run a sender process of its own against one `aiotx serve`
// (a local child, or --host). Runs are reduced to medians, then to ratios against `reference`
// and `write` of the same size.
import { randomFillSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { probe } from 'aiotx';
import { METHOD_SETUP, batchOf, type Method, type SenderJob, type SenderSample } from './bench-methods.js';
import { runChild } from './child-run.js';
import {
  copiedShare,
  cpuPercentOfOneCore,
  cpuSecondsPerGB,
  gigabitsPerSecond,
  median,
  ratio,
  serviceDemand,
} from './cpu-accounting.js';
import { findExternalTools, runExternal, type ExternalTools } from './external-rows.js';
import { startLocalServer } from './local-server.js';
import { aiotxPeer, iperf3Peer, type PeerKind } from './peers.js';

export interface BenchOptions {
  sizes: number[];
  methods: Method[];
  durationSeconds: number;
  /** Sends in flight per stream, each with its own buffer. */
  depth: number;
  /** Buffers per aioWrite call in the -batch methods' rows. */
  batch: number;
  /** Parallel connections. */
  streams: number;
  repeat: number;
  /** TCP_NODELAY on the sender: Nagle holds small segments, and a zero-copy write settles only on the ACK. */
  noDelay: boolean;
  /** Where the receiver listens; null starts an `aiotx serve` on loopback. */
  host: { host: string; port: number } | null;
  /** What listens at `host`: an `aiotx serve`, or a stock `iperf3 -s`. */
  peer: PeerKind;
  /** Hash every stream at both ends and fail on any difference. */
  verify: boolean;
  /** netperf binary for the netperf rows (else found on PATH); netserver must sit beside it. */
  netperf: string | null;
}

export interface RunFigures {
  bytes: number;
  wallSeconds: number;
  cpuSeconds: number;
  gbitPerSecond: number;
  /** Sender process, user + sys, % of one CPU. */
  cpuPercent: number;
  cpuSecondsPerGB: number;
  /** µs of sender CPU per KB. */
  serviceDemand: number;
  /** µs of sender CPU per buffer of the cell's size written (a batch counts its buffers). */
  cpuMicrosPerWrite: number;
  /** The whole sending machine, % of one CPU, and its softirq part. */
  systemPercent: number;
  softirqPercent: number;
  /** The server process, % of one CPU over the sender's wall time. */
  receiverPercent: number;
  /** 0..1, or null where the method cannot tell. */
  copiedShare: number | null;
}

/** One table cell: medians over the runs, ratios, and every run kept. */
export interface CellResult extends RunFigures {
  method: Method;
  size: number;
  /** An external tool's row (iperf3, netperf): its own sender, server and CPU accounting. */
  external: boolean;
  /** ok: measured; unavailable: this machine cannot run it; failed: it broke (reason says how). */
  status: 'ok' | 'unavailable' | 'failed';
  reason: string | null;
  backend: string | null;
  /** Throughput and CPU per GB over the same size's `reference` and `write` cells. */
  gbitVsReference: number | null;
  cpuPerGBVsReference: number | null;
  gbitVsWrite: number | null;
  cpuPerGBVsWrite: number | null;
  runs: RunFigures[];
}

export interface BenchReport {
  kind: 'aiotx-bench';
  version: 1;
  date: string;
  kernel: string;
  cpus: number;
  /** Where the server ran: 'loopback' or the --host given. */
  target: string;
  note: string;
  options: BenchOptions;
  results: CellResult[];
}

export interface CellStart {
  index: number;
  total: number;
  method: Method;
  size: number;
  run: number;
}

export const LOOPBACK_NOTE =
  'loopback: the kernel copies every byte on local delivery (the copied column shows it), so these figures are path overhead, not zero-copy gains';
export const HOST_NOTE = 'two hosts: sender CPU is this machine; the receiver reports its own';
export const IPERF3_NOTE =
  "peer iperf3 -s: sender CPU is this machine; the receiver column is iperf3's own cpu_util_total (it reads into user space; bytes are checked only as not more than sent)";

const SENDER_SCRIPT = fileURLToPath(new URL('./stream-sender.js', import.meta.url));

/** A run's figures from what its sender measured (our sender's sample or an external tool's). */
function figuresOf(
  s: { bytes: number; wallSeconds: number; warmupSeconds?: number; cpuSeconds: number; systemPercent: number; softirqPercent: number },
  receiverCpuSeconds: number | null,
  copiedBytes: number | null,
  size: number,
): RunFigures {
  return {
    bytes: s.bytes,
    wallSeconds: s.wallSeconds,
    cpuSeconds: s.cpuSeconds,
    gbitPerSecond: gigabitsPerSecond(s.bytes, s.wallSeconds),
    cpuPercent: cpuPercentOfOneCore(s.cpuSeconds, s.wallSeconds),
    cpuSecondsPerGB: cpuSecondsPerGB(s.cpuSeconds, s.bytes),
    serviceDemand: serviceDemand(s.cpuSeconds, s.bytes),
    cpuMicrosPerWrite: microsPerWrite(s.cpuSeconds, s.bytes, size),
    systemPercent: s.systemPercent,
    softirqPercent: s.softirqPercent,
    // The receiver's CPU covers our warm-up too.
    receiverPercent: receiverCpuSeconds === null ? NaN : cpuPercentOfOneCore(receiverCpuSeconds, s.wallSeconds + (s.warmupSeconds ?? 0)),
    copiedShare: copiedBytes === null ? null : copiedShare(copiedBytes, s.bytes),
  };
}

/** µs of CPU per `size`-byte buffer written: the per-write cost a user's loop pays. */
function microsPerWrite(cpuSeconds: number, bytes: number, size: number): number {
  return bytes > 0 ? (cpuSeconds * 1e6 * size) / bytes : NaN;
}

function emptyCell(method: Method, size: number): CellResult {
  return {
    method, size, external: METHOD_SETUP[method].external !== null, status: 'ok', reason: null, backend: null,
    bytes: NaN, wallSeconds: NaN, cpuSeconds: NaN, gbitPerSecond: NaN, cpuPercent: NaN, cpuSecondsPerGB: NaN,
    serviceDemand: NaN, cpuMicrosPerWrite: NaN, systemPercent: NaN, softirqPercent: NaN, receiverPercent: NaN, copiedShare: null,
    gbitVsReference: null, cpuPerGBVsReference: null, gbitVsWrite: null, cpuPerGBVsWrite: null, runs: [],
  };
}

/** Medians of every figure into the cell; ratios are filled in by addRatios. */
function summarize(cell: CellResult, backends: string[]): CellResult {
  const runs = cell.runs;
  if (runs.length === 0) return cell;
  const mid = (pick: (r: RunFigures) => number) => median(runs.map(pick));
  const keys = ['bytes', 'wallSeconds', 'cpuSeconds', 'gbitPerSecond', 'cpuPercent', 'cpuSecondsPerGB', 'serviceDemand', 'cpuMicrosPerWrite', 'systemPercent', 'softirqPercent', 'receiverPercent'] as const;
  for (const k of keys) cell[k] = mid((r) => r[k]);
  cell.copiedShare = runs[0]!.copiedShare === null ? null : mid((r) => r.copiedShare!);
  const distinct = [...new Set(backends)];
  cell.backend = distinct.length === 0 ? null : distinct.join('/');
  return cell;
}

/** Each cell against the `reference` and `write` cells of its size (null where one is missing). */
export function addRatios(results: CellResult[]): void {
  const find = (method: Method, size: number) => results.find((r) => r.method === method && r.size === size && r.status === 'ok');
  for (const r of results) {
    if (r.status !== 'ok') continue;
    const ref = find('reference', r.size);
    const write = find('write', r.size);
    r.gbitVsReference = ratio(r.gbitPerSecond, ref?.gbitPerSecond);
    r.cpuPerGBVsReference = ratio(r.cpuSecondsPerGB, ref?.cpuSecondsPerGB);
    r.gbitVsWrite = ratio(r.gbitPerSecond, write?.gbitPerSecond);
    r.cpuPerGBVsWrite = ratio(r.cpuSecondsPerGB, write?.cpuSecondsPerGB);
  }
}

/** Why this machine cannot run `method`, or null. */
function unavailableReason(method: Method, tools: ExternalTools, remote: boolean): string | null {
  const external = METHOD_SETUP[method].external;
  if (external !== null) {
    if (remote) return 'external rows run on loopback only, against their own servers';
    const tool = tools[external];
    return 'missing' in tool ? tool.missing : null;
  }
  const needs = METHOD_SETUP[method].needs;
  if (needs === null) return null;
  const status = probe().backends[needs];
  return status.available ? null : `${needs} unavailable: ${status.reason ?? 'unknown reason'}`;
}

export async function runBench(options: BenchOptions, onCellStart: (cell: CellStart) => void = () => {}): Promise<BenchReport> {
  const local = options.host === null ? await startLocalServer(options.verify) : null;
  const cleanups: (() => void)[] = [];
  const where = local ? { host: local.host, port: local.port } : options.host!;
  try {
    const peer = options.peer === 'iperf3' ? iperf3Peer(where.host, where.port) : await aiotxPeer(where.host, where.port, options.verify);
    try {
      const results: CellResult[] = [];
      const tools = findExternalTools(options.netperf);
      // netperf TCP_SENDFILE sends from a file; one of the largest size serves every size.
      const scratch = mkdtempSync(join(tmpdir(), 'aiotx-bench-'));
      const sendfileSource = join(scratch, 'data');
      writeFileSync(sendfileSource, randomFillSync(Buffer.allocUnsafe(Math.max(...options.sizes))));
      cleanups.push(() => rmSync(scratch, { recursive: true, force: true }));
      const total = options.sizes.length * options.repeat * options.methods.length;
      let index = 0;
      for (const size of options.sizes) {
        const cells = new Map(options.methods.map((m) => [m, emptyCell(m, size)]));
        const backends = new Map<Method, string[]>(options.methods.map((m) => [m, []]));
        for (const m of options.methods) {
          const why = unavailableReason(m, tools, local === null);
          if (why) Object.assign(cells.get(m)!, { status: 'unavailable', reason: why });
        }
        for (let run = 1; run <= options.repeat; run++) {
          for (const method of options.methods) {
            index++;
            const cell = cells.get(method)!;
            if (cell.status !== 'ok') continue;
            onCellStart({ index, total, method, size, run });
            const external = METHOD_SETUP[method].external;
            if (external !== null) {
              try {
                const job = { tool: external, sendfile: method.endsWith('-sendfile'), size, durationSeconds: options.durationSeconds, sendfileSource };
                const e = await runExternal(tools, job);
                cell.runs.push(figuresOf(e, e.receiverCpuSeconds, null, size));
              } catch (err) {
                Object.assign(cell, { status: 'failed', reason: (err as Error).message });
              }
              continue;
            }
            const peerRun = await peer.begin({ size, streams: options.streams, durationSeconds: options.durationSeconds });
            const job: SenderJob = {
              method, host: peer.host, port: peer.dataPort, size, depth: options.depth, batch: batchOf(method, options.batch), streams: options.streams,
              durationSeconds: options.durationSeconds, noDelay: options.noDelay, verify: options.verify,
              preamble: peerRun.preamble, awaitClose: peerRun.awaitClose,
            };
            const outcome = await runChild<SenderSample>(SENDER_SCRIPT, [`--job=${JSON.stringify(job)}`], METHOD_SETUP[method].backendEnv, options.durationSeconds * 1000 + 60_000);
            if (!outcome.ok) {
              peerRun.abort();
              Object.assign(cell, { status: outcome.unavailable ? 'unavailable' : 'failed', reason: outcome.reason });
              continue;
            }
            let receiverCpuSeconds: number;
            try {
              receiverCpuSeconds = await peerRun.finish(outcome.sample);
            } catch (err) {
              throw new Error(`${method} ${size} bytes, run ${run}: ${(err as Error).message}`);
            }
            cell.runs.push(figuresOf(outcome.sample, receiverCpuSeconds, outcome.sample.copiedBytes, size));
            if (outcome.sample.backend) backends.get(method)!.push(outcome.sample.backend);
          }
        }
        for (const m of options.methods) {
          const cell = cells.get(m)!;
          if (cell.status !== 'ok') cell.runs = [];
          results.push(summarize(cell, backends.get(m)!));
        }
      }
      addRatios(results);
      return {
        kind: 'aiotx-bench',
        version: 1,
        date: new Date().toISOString(),
        kernel: release(),
        cpus: cpus().length,
        target: local ? 'loopback' : `${where.host}:${where.port}`,
        note: local ? LOOPBACK_NOTE : options.peer === 'iperf3' ? IPERF3_NOTE : HOST_NOTE,
        options,
        results,
      };
    } finally {
      peer.close();
    }
  } finally {
    for (const c of cleanups) c();
    await local?.stop();
  }
}
