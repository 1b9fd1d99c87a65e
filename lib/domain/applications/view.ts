import type { ApplicationDoc } from './types.js';

export type ApplicationView = Omit<ApplicationDoc, '_id'> & { id: string };

/** The API shape of an application: `_id` is exposed as `id`. */
export function toView(doc: ApplicationDoc): ApplicationView {
  const { _id, ...rest } = doc;
  return { id: _id, ...rest };
}
