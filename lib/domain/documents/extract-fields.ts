// Reads the fields the approval rules need out of OCR text with plain, unit-tested regex rules.
export interface ExtractedFields {
  name: string | null;
  income: number | null;
  idNumber: string | null;
}

const NAME = /^[ \t]*(?:full[ \t]+|applicant[ \t]+)?name[ \t]*[:\-–][ \t]*([A-Za-zÀ-ÿ'.\- ]{2,100})$/im;
const INCOME =
  /^[ \t]*(?:annual[ \t]+|yearly[ \t]+|gross[ \t]+|declared[ \t]+)*income[^:\n]*[:\-–][ \t]*(?:USD|EUR|GBP|[$€£])?[ \t]*([0-9OolI][0-9OolI,. ]*)/im;
const ID =
  /^[ \t]*(?:id|identity|identification|passport|document)[ \t]*(?:card[ \t]*)?(?:number|no\.?|#)[ \t]*[:\-–]?[ \t]*([A-Z0-9][A-Z0-9 -]{3,24}[A-Z0-9])[ \t]*$/im;

/** "9O,OOO.50" → 90000.5: fixes OCR's letter-for-digit slips, drops thousands separators. */
export function parseAmount(raw: string): number | null {
  let s = raw.trim().replace(/[Oo]/g, '0').replace(/[lI]/g, '1').replace(/\s+/g, '');
  // A trailing ",dd" or ".dd" is a decimal part; every other separator groups thousands.
  const dec = /[.,](\d{1,2})$/.exec(s);
  let cents = '';
  if (dec) {
    cents = dec[1]!;
    s = s.slice(0, dec.index);
  }
  s = s.replace(/[.,]/g, '');
  if (!/^\d+$/.test(s)) return null;
  const n = Number(cents ? `${s}.${cents}` : s);
  return Number.isFinite(n) ? n : null;
}

export function extractFields(text: string): ExtractedFields {
  const name = NAME.exec(text)?.[1]?.replace(/\s+/g, ' ').trim() ?? null;
  const incomeRaw = INCOME.exec(text)?.[1];
  const idRaw = ID.exec(text)?.[1];
  return {
    name: name && name.length >= 2 ? name : null,
    income: incomeRaw ? parseAmount(incomeRaw) : null,
    idNumber: idRaw ? idRaw.replace(/[\s-]+/g, '').toUpperCase() : null,
  };
}
