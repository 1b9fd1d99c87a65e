// MongoDB connection-pool gauges from the driver's CMAP events (connection monitoring and
// pooling): connections checked out and operations waiting for one, per server the client pools
// connections to, next to the pool's size limit. Pool exhaustion = checked out at the limit and a
// wait queue that does not drain (deploy/prometheus/alerts.yml).
import type {
  ConnectionCheckedInEvent,
  ConnectionCheckedOutEvent,
  ConnectionCheckOutFailedEvent,
  ConnectionCheckOutStartedEvent,
  ConnectionClosedEvent,
  MongoClient,
} from 'mongodb';
import { Gauge, type Registry } from 'prom-client';

/**
 * Registers the pool gauges on `registry` and keeps them current from `client`'s events. Checked-out
 * connections are tracked by id (a check-in of a connection checked out before this call is
 * ignored), the wait queue is check-outs started minus those that ended (never below 0).
 */
export function instrumentPool(client: MongoClient, registry: Registry): void {
  const checkedOut = new Map<string, Set<number | '<monitor>'>>();
  const waiting = new Map<string, number>();
  const held = (address: string) => {
    const s = checkedOut.get(address) ?? new Set();
    checkedOut.set(address, s);
    return s;
  };
  const wait = (address: string, by: number) => waiting.set(address, Math.max(0, (waiting.get(address) ?? 0) + by));

  client.on('connectionCheckOutStarted', (e: ConnectionCheckOutStartedEvent) => wait(e.address, 1));
  client.on('connectionCheckOutFailed', (e: ConnectionCheckOutFailedEvent) => wait(e.address, -1));
  client.on('connectionCheckedOut', (e: ConnectionCheckedOutEvent) => {
    wait(e.address, -1);
    held(e.address).add(e.connectionId);
  });
  client.on('connectionCheckedIn', (e: ConnectionCheckedInEvent) => held(e.address).delete(e.connectionId));
  client.on('connectionClosed', (e: ConnectionClosedEvent) => held(e.address).delete(e.connectionId));

  new Gauge({
    name: 'mongodb_pool_checked_out_connections',
    help: 'MongoDB connections checked out of the pool (in use by an operation), per server',
    labelNames: ['server'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [server, s] of checkedOut) this.set({ server }, s.size);
    },
  });
  new Gauge({
    name: 'mongodb_pool_wait_queue_size',
    help: 'operations waiting for a MongoDB connection from the pool, per server',
    labelNames: ['server'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [server, n] of waiting) this.set({ server }, n);
    },
  });
  new Gauge({
    name: 'mongodb_pool_max_connections',
    help: 'the pool size limit per server (maxPoolSize)',
    registers: [registry],
    collect() {
      this.set(client.options.maxPoolSize);
    },
  });
}
