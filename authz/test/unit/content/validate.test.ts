import { describe, expect, it } from 'vitest';
import { ibanValid, luhnValid, plausibleIin, ssnValid } from '../../../src/content/validate.js';

describe('validators', () => {
  it('luhnValid', () => {
    expect(['4111111111111111', '378282246310005', '6011111111111117', '0'].map(luhnValid)).toEqual([true, true, true, true]);
    expect(['4111111111111112', '378282246310006', '1'].map(luhnValid)).toEqual([false, false, false]);
  });

  it('plausibleIin: known ranges at lengths they issue', () => {
    expect(['4111111111111111', '5555555555554444', '2223003122003222', '378282246310005', '30569309025904', '3530111333300000', '6200000000000005'].every(plausibleIin)).toBe(true);
    // Visa at 15 or 13, Amex at 16, unknown first digits
    expect(['411111111111111', '4222222222222', '3782822463100051', '1234567890123452', '9111111111111110', '0000000000000000', '7111111111111111'].some(plausibleIin)).toBe(false);
  });

  it('ssnValid: SSA rules', () => {
    expect(ssnValid('536221789')).toBe(true);
    expect(['000123456', '666123456', '900123456', '999123456', '536001789', '536220000'].some(ssnValid)).toBe(false);
    expect(ssnValid('665123456') && ssnValid('899123456') && ssnValid('001011234')).toBe(true);
  });

  it('ibanValid: country length and mod-97', () => {
    expect(['DE89370400440532013000', 'gb29nwbk60161331926819', 'NO9386011117947', 'PL61109010140000071219812874'].every(ibanValid)).toBe(true);
    expect(['DE88370400440532013000', 'DE8937040044053201300', 'DE893704004405320130001', 'XX89370400440532013000', 'DE89-370400440532013000'].some(ibanValid)).toBe(false);
  });
});
