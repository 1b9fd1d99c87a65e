// Tolerant comparisons between what an applicant declared and what OCR read.

/** Lower-case letters and single spaces only, so "ADA  LOVELACE." equals "Ada Lovelace". */
function normalizeName(s: string): string {
  return s
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z]+/g, ' ')
    .trim();
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length]!;
}

/** Same name up to case, punctuation and one OCR slip per ten characters. */
export function namesMatch(declared: string, read: string): boolean {
  const a = normalizeName(declared);
  const b = normalizeName(read);
  if (!a || !b) return false;
  return editDistance(a, b) <= Math.floor(Math.max(a.length, b.length) / 10);
}

/** True when `read` differs from `declared` by more than `tolerance` (relative to declared). */
export function incomeDiffers(declared: number, read: number, tolerance: number): boolean {
  if (declared === 0) return read !== 0;
  return Math.abs(read - declared) / declared > tolerance;
}
