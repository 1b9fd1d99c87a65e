import { z } from 'zod';
import { STATUSES } from './status.js';
import { TRACKING_ID_PATTERN } from './tracking-id.js';

// Strict schemas: unknown keys, wrong types and objects where scalars belong (`{"$gt": ""}`)
// are rejected before anything reaches a query.
export const applicationId = z.string().regex(TRACKING_ID_PATTERN, 'must be a tracking id like LOAN-01J…');
export const status = z.enum(STATUSES);
const money = z.number().finite().nonnegative().max(1e9);

export const applicant = z.strictObject({
  name: z.string().trim().min(1).max(200),
  email: z.email().max(254),
  phone: z.string().regex(/^\+?[0-9 ()-]{6,20}$/, 'must be a phone number'),
  age: z.number().int().min(18).max(120),
});

export const createApplicationInput = z.strictObject({
  applicant,
  amount: money.positive(),
  income: money,
  creditScore: z.number().int().min(300).max(850),
  purpose: z.string().trim().min(1).max(500),
});

export const applicationChanges = z.strictObject({
  applicant: applicant.partial().strict().optional(),
  amount: money.positive().optional(),
  income: money.optional(),
  creditScore: z.number().int().min(300).max(850).optional(),
  purpose: z.string().trim().min(1).max(500).optional(),
  status: status.optional(),
});

/** List orders: each is served by an index and ends on _id (see repository.ts). */
export const SORTS = ['createdAt', '-createdAt', 'amount', '-amount', 'updatedAt', '-updatedAt'] as const;
export type SortKey = (typeof SORTS)[number];

export const updateApplicationInput = applicationChanges.extend({ version: z.number().int().min(1) }).strict();

export type CreateApplicationInput = z.output<typeof createApplicationInput>;
export type ApplicationChanges = z.output<typeof applicationChanges>;
