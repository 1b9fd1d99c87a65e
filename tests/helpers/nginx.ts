// `nginx -t` on a config text with its own prefix (no root, no /etc/nginx).
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveNginx, testConf } from '../../scripts/nginx/nginx.js';
import { TEMP_DIRS } from '../../scripts/nginx/render.js';

/**
 * Returns nginx's output ("syntax is ok … test is successful"); throws with nginx's message
 * otherwise. `conf` gets the scratch prefix directory (temp paths must exist for `-t`).
 */
export function nginxSyntaxCheck(conf: (runDir: string) => string): string {
  const dir = mkdtempSync(join(tmpdir(), 'creditdesk-nginx-t-'));
  try {
    for (const d of TEMP_DIRS) mkdirSync(join(dir, 'tmp', d), { recursive: true });
    const file = join(dir, 'nginx.conf');
    writeFileSync(file, conf(dir));
    return testConf(resolveNginx(), dir, file);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The value of the first `name …;` directive in an nginx config text. */
export function directive(conf: string, name: string): string | undefined {
  return conf.match(new RegExp(`^\\s*${name}\\s+([^;]+);`, 'm'))?.[1]?.trim();
}
