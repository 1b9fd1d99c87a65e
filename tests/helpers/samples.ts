// A valid application body (POST /api/applications); `over` replaces top-level fields.
export const sampleApplication = (over: Record<string, unknown> = {}) => ({
  applicant: { name: 'Ada Lovelace', email: 'ada@example.com', phone: '+44 20 7946 0000', age: 36 },
  amount: 25_000,
  income: 90_000,
  creditScore: 720,
  purpose: 'home renovation',
  ...over,
});
