import type { ServerConfig } from '../lib/config.js';
import type { Context } from '../lib/context.js';

/** The API process's context: the process context plus the instance's lifecycle state. */
export interface ApiContext extends Context<ServerConfig> {
  /** Set when the drain starts: /ready answers 503 so the load balancer stops sending traffic. */
  lifecycle: { draining: boolean };
}
