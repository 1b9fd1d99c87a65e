// Children that must not outlive the process that started them (even a kill -9 of it): on Linux
// they are started through `setpriv --pdeathsig SIGTERM` (util-linux), which sets the
// parent-death signal and then execs the command in the same process, so the kernel sends the
// child SIGTERM when its parent dies and it stops the way it always stops.
import { existsSync } from 'node:fs';

const SETPRIV = ['/usr/bin/setpriv', '/bin/setpriv'].find((p) => existsSync(p));

/** The [file, args] to spawn so that `cmd` gets SIGTERM when this process dies. */
export function dieWithParent(cmd: string, args: string[]): [string, string[]] {
  return SETPRIV ? [SETPRIV, ['--pdeathsig', 'SIGTERM', '--', cmd, ...args]] : [cmd, args];
}
