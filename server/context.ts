import type { ServerConfig } from '../lib/config.js';
import type { Context } from '../lib/context.js';
import type { ApplicationChanges } from '../lib/streams/application-changes.js';
import type { Sessions } from './middleware/session.js';

/** The API process's context: the process context plus the instance's lifecycle state. */
export interface ApiContext extends Context<ServerConfig> {
  /** Set when the drain starts: /ready answers 503 so the load balancer stops sending traffic. */
  lifecycle: { draining: boolean };
  /** The instance's one change stream of application status changes, fanned out to SSE clients. */
  statusChanges: ApplicationChanges;
  /** The session store and the users' access-state cache (per-instance, evicted by change streams). */
  sessions: Sessions;
}
