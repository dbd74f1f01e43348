// nginx for `aiotx bench http`: Debian's nginx-light with a private prefix (config, pid, logs and
// temp folders in the bench's temp folder), `daemon off` and `master_process off`, so the one
// process the bench starts is the one that serves and the one whose CPU is counted. With a master,
// a root nginx would also switch its worker to another user, who cannot read the bench's 0700
// temp folder.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { onCpu, type OnCpu } from './cpu-pin.js';
import { freePort, waitListening } from './loopback.js';
import { join } from 'node:path';
import { howItEnded, NotInstalledError, onPath, stopChild, type ProcessGuard, type RunningServer } from './http-servers.js';

export const INSTALL_HINT = 'not installed (Debian/Ubuntu: apt-get install nginx-light wrk)';

/** nginx on PATH, or why it cannot run (Debian installs it in /usr/sbin, not on every user's PATH). */
export function findNginx(): { path: string } | { missing: string } {
  const path = onPath('nginx');
  if (path !== null) return { path };
  if (existsSync('/usr/sbin/nginx')) return { missing: 'nginx not on PATH (it is at /usr/sbin/nginx: add /usr/sbin to PATH)' };
  return { missing: `nginx ${INSTALL_HINT}` };
}

/** 'nginx/1.22.1' from `nginx -v` (which prints on stderr). */
export function nginxVersion(path: string): string {
  const r = spawnSync(path, ['-v'], { encoding: 'utf8', timeout: 10_000 });
  return /nginx\/[\w.-]+/.exec(`${r.stderr}${r.stdout}`)?.[0] ?? 'nginx';
}

/** The whole configuration: one worker, sendfile, no access log, everything under `prefix`. */
export function nginxConfig(prefix: string, root: string, port: number): string {
  const t = join(prefix, 'temp');
  return `daemon off;
master_process off;
worker_processes 1;
pid ${join(prefix, 'nginx.pid')};
error_log ${join(prefix, 'error.log')} error;
events { worker_connections 1024; }
http {
  access_log off;
  log_not_found off;
  sendfile on;
  tcp_nopush on;
  keepalive_timeout 60s;
  keepalive_requests 1000000;
  default_type application/octet-stream;
  client_body_temp_path ${t}/client;
  proxy_temp_path ${t}/proxy;
  fastcgi_temp_path ${t}/fastcgi;
  uwsgi_temp_path ${t}/uwsgi;
  scgi_temp_path ${t}/scgi;
  server {
    listen 127.0.0.1:${port};
    root ${root};
  }
}
`;
}

/** The last error line of nginx's log, or ''. */
function lastError(prefix: string): string {
  try {
    return readFileSync(join(prefix, 'error.log'), 'utf8').trim().split('\n').at(-1)?.slice(0, 300) ?? '';
  } catch {
    return '';
  }
}

/**
 * Starts nginx serving `root` on a free loopback port, its files in `prefix`. Under setpriv
 * --pdeathsig where util-linux has it, so nginx dies with the bench even when the bench is killed.
 * A port taken between choosing and binding is tried again with another.
 */
export async function startNginx(nginx: string, prefix: string, root: string, guard: ProcessGuard, limitMs: number, cpu: OnCpu | null = null): Promise<RunningServer> {
  if (!existsSync(nginx)) throw new NotInstalledError(`nginx ${INSTALL_HINT}`);
  mkdirSync(join(prefix, 'temp'), { recursive: true });
  const version = nginxVersion(nginx);
  const setpriv = onPath('setpriv');
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const conf = join(prefix, 'nginx.conf');
    writeFileSync(conf, nginxConfig(prefix, root, port));
    const args = ['-p', prefix, '-c', conf, '-e', join(prefix, 'error.log')];
    const [cmd, cmdArgs] = onCpu(cpu, setpriv ?? nginx, setpriv ? ['--pdeathsig', 'KILL', '--', nginx, ...args] : args);
    const child = spawn(cmd, cmdArgs, { stdio: ['pipe', 'ignore', 'pipe'] });
    guard.track(child);
    let stderr = '';
    child.stderr!.setEncoding('utf8').on('data', (c: string) => (stderr = (stderr + c).slice(-2000)));
    let ended: string | null = null;
    child.once('exit', (code, signal) => {
      const why = stderr.trim().split('\n').at(-1) || lastError(prefix);
      ended = `nginx exited (${howItEnded(code, signal)})${why ? `: ${why.slice(0, 300)}` : ''}`;
    });
    const spawnFailed = new Promise<never>((_, reject) => child.once('error', reject));
    spawnFailed.catch(() => {});
    try {
      await Promise.race([waitListening(port, limitMs, 'nginx', () => ended), spawnFailed]);
    } catch (err) {
      const message = ended ?? (err as Error).message;
      await stopChild(child, 1000);
      if (/Address already in use/.test(message) && attempt < 3) continue;
      throw new Error(message);
    }
    return { name: 'nginx', port, pid: child.pid!, version, exited: () => ended, stop: () => stopChild(child, 2000) };
  }
}
