import type { ClientSession, MongoClient } from 'mongodb';
import type { Actor, ApplicationDoc, Collections } from '../../db/collections.js';

/** What a use case needs: the process's client (for transactions) and typed collections. */
export interface Deps { client: MongoClient; c: Collections; hooks?: ApplicationHooks }
/** Who asked, for the audit trail and log correlation. */
export interface Meta { actor: Actor; requestId?: string | undefined }

/**
 * Called inside the transaction that changes an application, so effects written there (outbox
 * events) commit together with the change or not at all.
 */
export interface ApplicationHooks {
  afterChange?(e: { before: ApplicationDoc | null; after: ApplicationDoc; meta: Meta; session: ClientSession }): Promise<void>;
}
