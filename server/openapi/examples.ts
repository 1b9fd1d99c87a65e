// Request examples for the document; a test checks each against its schema.
export const sampleApplicationBody = {
  applicant: { name: 'Ada Lovelace', email: 'ada@example.com', phone: '+44 20 7946 0000', age: 36 },
  amount: 20_000,
  income: 60_000,
  creditScore: 720,
  purpose: 'home improvement',
};

export const sampleLoanRequestBody = {
  loanId: 'BRK-2026-000123',
  application: sampleApplicationBody.applicant,
  amount: 20_000,
  income: 60_000,
  creditScore: 720,
  purpose: 'home improvement',
};
