// The OCR field rules that feed the risk assessment (name, income, ID number from document text).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { extractFields, parseAmount } from '../../lib/domain/documents/extract-fields.js';
import { sniffImageType } from '../../lib/domain/documents/file-type.js';

describe('extractFields', () => {
  test('reads a clean document', () => {
    const text = 'LOAN APPLICANT DOCUMENT\nName: Ada Lovelace\nAnnual Income: $90,000\n\nID Number: AB1234567\n';
    assert.deepEqual(extractFields(text), { name: 'Ada Lovelace', income: 90_000, idNumber: 'AB1234567' });
  });

  test('tolerates label variants, OCR digit slips and spaced IDs', () => {
    const text = 'Full name - Grace Hopper\nGross yearly income (USD): 12O,5OO.50\nPassport No. X12 345 678\n';
    assert.deepEqual(extractFields(text), { name: 'Grace Hopper', income: 120_500.5, idNumber: 'X12345678' });
  });

  test('missing fields are null, not guesses', () => {
    assert.deepEqual(extractFields('nothing useful here\nincome unknown'), { name: null, income: null, idNumber: null });
    assert.deepEqual(extractFields(''), { name: null, income: null, idNumber: null });
  });

  test('does not read a label-less number as income', () => {
    assert.equal(extractFields('Reference: 55,000\nName: A B').income, null);
  });
});

describe('parseAmount', () => {
  test('thousands separators and decimals', () => {
    assert.equal(parseAmount('90,000'), 90_000);
    assert.equal(parseAmount('90.000,00'), 90_000);
    assert.equal(parseAmount('1 250 000'), 1_250_000);
    assert.equal(parseAmount('75000.5'), 75_000.5);
    assert.equal(parseAmount('abc'), null);
  });
});

describe('sniffImageType', () => {
  test('decides by magic bytes', () => {
    assert.equal(sniffImageType(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0])), 'image/png');
    assert.equal(sniffImageType(Buffer.from([0xff, 0xd8, 0xff, 0xe0])), 'image/jpeg');
    assert.equal(sniffImageType(Buffer.from([0x49, 0x49, 0x2a, 0x00])), 'image/tiff');
    assert.equal(sniffImageType(Buffer.from('%PDF-1.7')), null);
    assert.equal(sniffImageType(Buffer.alloc(0)), null);
  });
});
