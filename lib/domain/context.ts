// What every use case is given: the process's one MongoClient (for transactions), its database,
// the typed collections and the hooks that run inside each application change. Built once per
// process by lib/context.ts; use cases never build their own.
import type { ClientSession, Db, MongoClient } from 'mongodb';
import type { ApplicationDoc } from './applications/types.js';
import type { Collections } from './collections.js';
import type { Actor } from './users/types.js';

export interface DomainContext {
  client: MongoClient;
  db: Db;
  c: Collections;
  hooks: ApplicationHooks;
  /**
   * Called with the ids of sessions about to be deleted (before the delete); the promise it
   * returns settles once this process's session cache has dropped them (the API's; absent
   * elsewhere). So a use case that ends sessions answers only when they are gone everywhere.
   */
  sessionsEnding?: (sids: string[]) => Promise<void>;
}

/** Who asked, for the audit trail and log correlation. */
export interface Meta {
  actor: Actor;
  requestId?: string | undefined;
}

/** One application change: the document before (null when created) and after, and who made it. */
export interface ApplicationChange {
  before: ApplicationDoc | null;
  after: ApplicationDoc;
  meta: Meta;
}

/**
 * Called inside the transaction that changes applications, so effects written there (outbox
 * events, ledger entries) commit together with the changes or not at all. Batch-shaped: a group
 * commit or a batch update hands over all its changes at once, so a hook can write in one round trip.
 */
export interface ApplicationHooks {
  afterChanges(changes: readonly ApplicationChange[], session: ClientSession): Promise<void>;
}

/** Calls each hook in order, in the same transaction (e.g. the pipeline's, then a use case's own). */
function composeHooks(...list: ApplicationHooks[]): ApplicationHooks {
  return {
    async afterChanges(changes, session) {
      for (const h of list) await h.afterChanges(changes, session);
    },
  };
}

/** `ctx` with `extra` running after its own hooks, for one use case's changes. */
export const withHook = (ctx: DomainContext, extra: ApplicationHooks): DomainContext => ({ ...ctx, hooks: composeHooks(ctx.hooks, extra) });
