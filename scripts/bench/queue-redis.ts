// A throwaway redis-server for the queue benchmark's BullMQ peer: Debian's binary, started on a
// free loopback port with its data in a fresh temp dir, dying with this process (parent-death
// signal), stopped and its dir removed by stop(). Never the package's system service.
//   mode 'always':  appendonly yes + appendfsync always (every write fsynced before the reply:
//                   the only setting as durable as a majority-journaled MongoDB write here)
//   mode 'default': redis-server's built-in defaults (no AOF, RDB snapshots now and then)
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { dieWithParent } from '../stack/parent-death.js';
import { freePort } from '../stack/ports.js';

export type RedisMode = 'always' | 'default';

export interface RunningRedis {
  port: number;
  mode: RedisMode;
  version: string;
  stop(): Promise<void>;
}

const BINARY = ['/usr/bin/redis-server', '/usr/sbin/redis-server'].find((p) => existsSync(p));

export async function startRedis(mode: RedisMode): Promise<RunningRedis> {
  if (!BINARY) throw new Error('redis-server not installed: run `bash scripts/install-system-deps.sh bench`');
  const dir = await mkdtemp(join(tmpdir(), 'bench-redis-'));
  const port = await freePort();
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--daemonize', 'no', '--logfile', ''];
  if (mode === 'always') args.push('--appendonly', 'yes', '--appendfsync', 'always', '--save', '');
  const [file, argv] = dieWithParent(BINARY, args);
  const proc: ChildProcess = spawn(file, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.on('data', (d) => {
    out += d;
  });
  proc.stderr!.on('data', (d) => {
    out += d;
  });
  const stop = async () => {
    if (proc.exitCode === null && proc.signalCode === null) {
      const exited = new Promise<void>((r) => proc.once('exit', () => r()));
      proc.kill('SIGTERM');
      if (!(await Promise.race([exited.then(() => true), sleep(10_000).then(() => false)]))) {
        proc.kill('SIGKILL');
        await exited;
      }
    }
    await rm(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 15_000;
  while (!out.includes('Ready to accept connections')) {
    if (proc.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`redis-server did not start (port ${port}):\n${out.slice(-2000)}`);
    }
    await sleep(25);
  }
  const version = /v=([\d.]+)/.exec(out)?.[1] ?? /Redis version=([\d.]+)/.exec(out)?.[1] ?? '?';
  return { port, mode, version, stop };
}
