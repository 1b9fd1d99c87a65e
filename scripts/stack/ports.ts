// Free loopback ports for throwaway stacks (tests, load tests, benchmarks).
//
// Ports are drawn below the kernel's ephemeral range. A port the kernel hands out with
// `listen(0)` lies inside that range, so between our probe and the real server's bind an
// outgoing connection (a driver's pool, nginx to an upstream) may take it as its local port and
// the server fails with EADDRINUSE. Below the range only another listener can collide.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

function ephemeralStart(): number {
  try {
    const [lo] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    if (lo && lo > 12_000) return lo;
  } catch {
    /* not Linux: use the IANA dynamic range's start */
  }
  return 49_152;
}

const LOW = 10_000;
const HIGH = ephemeralStart(); // exclusive

function canListen(port: number): Promise<boolean> {
  return new Promise((res) => {
    const s = createServer()
      .once('error', () => res(false))
      .listen(port, '127.0.0.1', () => s.close(() => res(true)));
  });
}

/** A run of `n` consecutive free ports (for settings such as API_BASE_PORT), first port returned. */
export async function freePortRange(n: number): Promise<number> {
  for (let tries = 0; tries < 200; tries++) {
    const base = LOW + Math.floor(Math.random() * (HIGH - LOW - n));
    let ok = true;
    for (let i = 0; i < n && ok; i++) ok = await canListen(base + i);
    if (ok) return base;
  }
  throw new Error(`no ${n} consecutive free ports between ${LOW} and ${HIGH}`);
}

export const freePort = (): Promise<number> => freePortRange(1);

export async function freePorts(n: number): Promise<number[]> {
  const out = new Set<number>();
  while (out.size < n) out.add(await freePort());
  return [...out];
}
