// The API shapes of an application, per role. Viewers never receive the raw OCR text, the ID
// number read from a document or the payment reference; reviewers and admins see everything.
// Every application response (get, list, create, PUT, history, documents) goes through here.
import type { AuditDoc } from '../audit.js';
import type { Role } from '../users/types.js';
import type { ApplicationDoc, Disbursement, OcrResult } from './types.js';

/** What a viewer sees of the OCR result: no text, no ID number. */
export type OcrView = Omit<OcrResult, 'text' | 'fields'> & {
  text?: string;
  fields: Omit<OcrResult['fields'], 'idNumber'> & { idNumber?: string | null };
};
export type ApplicationView = Omit<ApplicationDoc, '_id' | 'ocr' | 'disbursement'> & {
  id: string;
  ocr?: OcrView;
  disbursement?: Omit<Disbursement, 'paymentRef'> & { paymentRef?: string | null };
};

/** Fields a viewer does not receive (dotted paths; tests check the lists). */
export const HIDDEN_FROM_VIEWERS = ['ocr.text', 'ocr.fields.idNumber', 'disbursement.paymentRef'] as const;

const seesEverything = (role: Role) => role === 'reviewer' || role === 'admin';

/** The OCR result as `role` may see it (documents list, application view). */
export function ocrFor(role: Role, ocr: OcrResult): OcrView {
  if (seesEverything(role)) return ocr;
  const { text: _text, fields, ...rest } = ocr;
  const { idNumber: _id, ...visible } = fields;
  return { ...rest, fields: visible };
}

function disbursementFor(role: Role, d: Disbursement): NonNullable<ApplicationView['disbursement']> {
  if (seesEverything(role)) return d;
  const { paymentRef: _ref, ...rest } = d;
  return rest;
}

/** The application as `role` may see it; `_id` is exposed as `id`. */
export function viewFor(role: Role, doc: ApplicationDoc): ApplicationView {
  const { _id, ocr, disbursement, ...rest } = doc;
  return {
    id: _id,
    ...rest,
    ...(ocr ? { ocr: ocrFor(role, ocr) } : {}),
    ...(disbursement ? { disbursement: disbursementFor(role, disbursement) } : {}),
  };
}

/** `v` without `key` when it is a plain object. */
function without(v: unknown, key: string): unknown {
  if (!v || typeof v !== 'object' || Array.isArray(v)) return v;
  return Object.fromEntries(Object.entries(v).filter(([k]) => k !== key));
}

/** The application's audit entries as `role` may see them (the hidden fields of ocr/disbursement changes removed). */
export function historyFor(role: Role, entries: AuditDoc[]): AuditDoc[] {
  if (seesEverything(role)) return entries;
  const redact = (key: string, v: unknown): unknown => {
    if (key === 'ocr') {
      const fields: unknown = v && typeof v === 'object' ? Reflect.get(v, 'fields') : undefined;
      const ocr = without(v, 'text');
      return fields && ocr && typeof ocr === 'object' ? { ...ocr, fields: without(fields, 'idNumber') } : ocr;
    }
    return key === 'disbursement' ? without(v, 'paymentRef') : v;
  };
  return entries.map((e) => ({
    ...e,
    changes: Object.fromEntries(Object.entries(e.changes).map(([k, c]) => [k, { from: redact(k, c.from), to: redact(k, c.to) }])),
  }));
}

/** The full view (reviewer and admin): for responses to reviewer-only routes (409 bodies, uploads). */
export const toView = (doc: ApplicationDoc): ApplicationView => viewFor('reviewer', doc);
