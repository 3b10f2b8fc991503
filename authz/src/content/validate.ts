// Checks that turn a regex candidate into a finding: check digits and number plans. A
// shape alone (13–19 digits, 3-2-4 digits) matches order numbers and ids far too often.

/** Luhn (mod 10) over a string of ASCII digits. */
export function luhnValid(digits: string): boolean {
  let sum = 0;
  let double = false;
  for (let i = digits.length - 1; i >= 0; i--) {
    let d = digits.charCodeAt(i) - 48;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    double = !double;
  }
  return sum % 10 === 0;
}

// [first prefix, last prefix, allowed lengths]; prefixes of equal width, compared numerically.
// Card schemes' published IIN ranges. Visa's 13-digit numbers are not issued any more and
// would match far more 13-digit ids than cards, so Visa is 16 or 19.
const IIN_RANGES: ReadonlyArray<readonly [string, string, readonly number[]]> = [
  ['4', '4', [16, 19]], // Visa
  ['51', '55', [16]], // Mastercard
  ['2221', '2720', [16]], // Mastercard 2-series
  ['34', '34', [15]], // American Express
  ['37', '37', [15]],
  ['300', '305', [14, 15, 16, 17, 18, 19]], // Diners Club
  ['3095', '3095', [14, 15, 16, 17, 18, 19]],
  ['36', '36', [14, 15, 16, 17, 18, 19]],
  ['38', '39', [14, 15, 16, 17, 18, 19]],
  ['3528', '3589', [16, 17, 18, 19]], // JCB
  ['6011', '6011', [16, 17, 18, 19]], // Discover
  ['644', '649', [16, 17, 18, 19]],
  ['65', '65', [16, 17, 18, 19]],
  ['62', '62', [16, 17, 18, 19]], // UnionPay
  ['81', '82', [16, 17, 18, 19]], // UnionPay / RuPay
  ['60', '60', [16]], // RuPay
  ['2200', '2204', [16, 17, 18, 19]], // Mir
  ['50', '50', [13, 14, 15, 16, 17, 18, 19]], // Maestro, Verve
  ['56', '58', [13, 14, 15, 16, 17, 18, 19]],
  ['63', '63', [13, 14, 15, 16, 17, 18, 19]],
  ['67', '67', [13, 14, 15, 16, 17, 18, 19]],
  ['9792', '9792', [16]], // Troy
];

/** Is this digit string a plausible payment card number: a known IIN range at a length it issues? */
export function plausibleIin(digits: string): boolean {
  return IIN_RANGES.some(([lo, hi, lengths]) => {
    const p = digits.slice(0, lo.length);
    return p.length === lo.length && p >= lo && p <= hi && lengths.includes(digits.length);
  });
}

/**
 * US SSN as the SSA issues them: area not 000, 666 or 9xx (9xx are ITINs), group not 00,
 * serial not 0000. `digits` is exactly 9 ASCII digits.
 */
export function ssnValid(digits: string): boolean {
  const area = digits.slice(0, 3);
  return area !== '000' && area !== '666' && area[0] !== '9' && digits.slice(3, 5) !== '00' && digits.slice(5) !== '0000';
}

// IBAN length per country (SWIFT IBAN registry). The length delimits an IBAN in running text,
// so a following word or number is not read as part of it.
export const IBAN_LENGTHS: Readonly<Record<string, number>> = {
  AD: 24, AE: 23, AL: 28, AT: 20, AZ: 28, BA: 20, BE: 16, BG: 22, BH: 22, BI: 27, BR: 29, BY: 28,
  CH: 21, CR: 22, CY: 28, CZ: 24, DE: 22, DJ: 27, DK: 18, DO: 28, EE: 20, EG: 29, ES: 24, FI: 18,
  FK: 18, FO: 18, FR: 27, GB: 22, GE: 22, GI: 23, GL: 18, GR: 27, GT: 28, HN: 28, HR: 21, HU: 28,
  IE: 22, IL: 23, IQ: 23, IS: 26, IT: 27, JO: 30, KW: 30, KZ: 20, LB: 28, LC: 32, LI: 21, LT: 20,
  LU: 20, LV: 21, LY: 25, MC: 27, MD: 24, ME: 22, MK: 19, MN: 20, MR: 27, MT: 31, MU: 30, NI: 28,
  NL: 18, NO: 15, OM: 23, PK: 24, PL: 28, PS: 29, PT: 25, QA: 29, RO: 24, RS: 22, RU: 33, SA: 24,
  SC: 31, SD: 18, SE: 24, SI: 19, SK: 24, SM: 27, SO: 23, ST: 25, SV: 28, TL: 23, TN: 24, TR: 26,
  UA: 29, VA: 22, VG: 24, XK: 20, YE: 30,
};

/** ISO 13616 check: known country, its length, alphanumeric, and mod-97 of the rearranged number is 1. */
export function ibanValid(iban: string): boolean {
  const s = iban.toUpperCase();
  if (IBAN_LENGTHS[s.slice(0, 2)] !== s.length || !/^[A-Z]{2}\d{2}[A-Z0-9]+$/.test(s)) return false;
  const rearranged = s.slice(4) + s.slice(0, 4);
  let rem = 0;
  for (let i = 0; i < rearranged.length; i++) {
    const c = rearranged.charCodeAt(i);
    // Letters count as two digits (A=10 … Z=35); folding one digit at a time keeps rem small.
    const v = c <= 57 ? c - 48 : c - 55;
    rem = v >= 10 ? (rem * 100 + v) % 97 : (rem * 10 + v) % 97;
  }
  return rem === 1;
}
