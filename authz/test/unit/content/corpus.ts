// Detector corpus: realistic sentences with the text `mask` must produce when all six
// built-in detectors are on. A case whose `masked` equals its `text` is a true negative (no
// detector may fire: the tricky ones are the point). `about` names the detector a case
// exercises. Test numbers are public test values (card networks' test PANs, the IBAN
// registry's examples, 555-01xx phone numbers), not anybody's data.
import type { BuiltinDetector } from '../../../src/content/rules.js';

export interface CorpusCase {
  about: BuiltinDetector;
  text: string;
  masked: string;
  /** why a negative is negative, or what a positive shows */
  note?: string;
}

const same = (about: BuiltinDetector, text: string, note: string): CorpusCase => ({ about, text, masked: text, note });

export const CORPUS: CorpusCase[] = [
  // --- email ---------------------------------------------------------------------------------
  { about: 'email', text: 'Please send the lab results to jane.doe@example.org before Friday.', masked: 'Please send the lab results to [EMAIL] before Friday.' },
  { about: 'email', text: 'My work address is j+oncology@mail.example.co.uk, personal is JDOE@EXAMPLE.COM.', masked: 'My work address is [EMAIL], personal is [EMAIL].' },
  { about: 'email', text: 'Forwarded from <first_last-2@sub.example-clinic.com>', masked: 'Forwarded from <[EMAIL]>' },
  { about: 'email', text: 'see...bob@example.com for details', masked: 'see...[EMAIL] for details', note: 'a local part never starts with a dot' },
  same('email', 'The daemon runs as user@localhost on the build box.', 'no dot in the domain'),
  same('email', 'Thanks @maria and @devops-team for the quick fix.', 'mentions, no local part'),
  same('email', 'Write to jane (at) example (dot) org if you must.', 'obfuscated, not an address'),
  same('email', 'Bad host name a@-example.com should not count.', 'label starts with a hyphen'),

  // --- phone ---------------------------------------------------------------------------------
  { about: 'phone', text: 'Call me at +1 (415) 555-0132 after 6pm.', masked: 'Call me at [PHONE] after 6pm.' },
  { about: 'phone', text: "Dr. Patel's office: 415-555-0178, fax 415.555.0179.", masked: "Dr. Patel's office: [PHONE], fax [PHONE]." },
  { about: 'phone', text: 'Support line (212) 555-0100 ext. 42 is open 24/7.', masked: 'Support line [PHONE] is open 24/7.' },
  { about: 'phone', text: 'Toll free 1-800-555-0199.', masked: 'Toll free [PHONE].' },
  { about: 'phone', text: 'London office +44 20 7946 0958, Paris +33 1 23 45 67 89.', masked: 'London office [PHONE], Paris [PHONE].' },
  { about: 'phone', text: 'Berlin: +49 (0)30 1234567; Mumbai +91-98765-43210; compact +442079460958', masked: 'Berlin: [PHONE]; Mumbai [PHONE]; compact [PHONE]' },
  { about: 'phone', text: 'You can also call 4155550132 on weekends.', masked: 'You can also call [PHONE] on weekends.', note: 'bare ten digits right after a phone word' },
  { about: 'phone', text: 'Reached him at +1 415 555 0132 2024-03-15 evening.', masked: 'Reached him at [PHONE] 2024-03-15 evening.', note: 'the date after it is not swallowed' },
  same('phone', 'Your order #555-123-4567 has shipped.', 'after #: an order number'),
  same('phone', 'Order 123-456-7890 was refunded.', 'NANP area codes never start with 1'),
  same('phone', 'The appointment moved to 2024-03-15 at 10:30.', 'date'),
  same('phone', 'Logged at 2024-03-15T10:30:00+05:30 by the scheduler.', 'ISO timestamp with offset'),
  same('phone', 'Trace id 550e8400-e29b-41d4-a716-446655440000 failed twice.', 'UUID'),
  same('phone', 'Ticket 1234567 and invoice 98765 are closed.', 'plain short numbers'),
  same('phone', 'Order number 4155550132 is on hold.', 'bare ten digits without a phone word'),
  same('phone', 'Room 555-0132 is on the third floor.', 'seven-digit local numbers are not detected'),
  same('phone', 'It is +5 degrees and we walked 10.5 km.', 'short signed number'),
  same('phone', 'Dates like 15.03.2024 and 03/15/2024 are fine.', 'dotted and slashed dates'),

  // --- SSN -----------------------------------------------------------------------------------
  { about: 'ssn', text: 'Her SSN is 536-22-1789, verified by HR.', masked: 'Her SSN is [SSN], verified by HR.' },
  { about: 'ssn', text: 'social security number 219 45 6789 on the form', masked: 'social security number [SSN] on the form' },
  { about: 'ssn', text: 'SSN: 536221789 (no dashes)', masked: 'SSN: [SSN] (no dashes)', note: 'bare nine digits right after an SSN word' },
  same('ssn', 'Test record uses SSN 000-12-3456.', 'area 000 is never issued'),
  same('ssn', 'Placeholder 666-12-3456 in the template.', 'area 666 is never issued'),
  same('ssn', 'ITIN 912-34-5678 is a taxpayer id, not an SSN.', 'area 9xx is never issued'),
  same('ssn', 'Form shows 536-00-1789 and 536-22-0000.', 'group 00 and serial 0000 are never issued'),
  same('ssn', 'Shipment 536221789 left the warehouse.', 'bare nine digits without an SSN word'),
  same('ssn', 'Mixed 536-22 1789 separators.', 'separators must agree'),
  same('ssn', 'Part no. 536-22-1789-01 is back-ordered.', 'inside a longer dashed id'),
  same('ssn', 'Deliver to ZIP 94107-1234.', 'ZIP+4'),

  // --- card ----------------------------------------------------------------------------------
  { about: 'card', text: 'Charge card 4111 1111 1111 1111, exp 12/29.', masked: 'Charge card [CARD], exp 12/29.' },
  { about: 'card', text: 'Backup card 5555-5555-5555-4444 and Amex 378282246310005.', masked: 'Backup card [CARD] and Amex [CARD].' },
  { about: 'card', text: 'Discover 6011111111111117, JCB 3530 1113 3330 0000, Diners 30569309025904.', masked: 'Discover [CARD], JCB [CARD], Diners [CARD].' },
  { about: 'card', text: 'Mastercard 2-series 2223 0031 2200 3222 works too.', masked: 'Mastercard 2-series [CARD] works too.' },
  { about: 'card', text: 'Card 4111111111111111 12 times declined.', masked: 'Card [CARD] 12 times declined.', note: 'a trailing short group is not part of it' },
  same('card', 'Card 4111 1111 1111 1112 was declined.', 'Luhn-invalid'),
  same('card', 'Reference 1234 5678 9012 3452 is Luhn-valid but no card network starts with 1.', 'implausible IIN'),
  same('card', 'All zeros 0000 0000 0000 0000 in the test form.', 'Luhn-valid, implausible IIN'),
  same('card', 'Serial 9111111111111110 on the device.', 'Luhn-valid, implausible IIN'),
  same('card', 'Legacy test number 4222222222222 is 13 digits.', 'Visa no longer issues 13 digits'),
  same('card', 'Invoice INV4111111111111111 is paid.', 'glued to letters: an id'),
  same('card', 'Epoch 1710498600000 ms and batch 12345678901234567890.', 'timestamps and over-long numbers'),
  same('card', 'Counts: 4 5 6 7 8 9 10 11 12 13 14 15 16.', 'a list of small numbers'),

  // --- IBAN ----------------------------------------------------------------------------------
  { about: 'iban', text: 'Wire the refund to DE89 3704 0044 0532 0130 00 EUR by Monday.', masked: 'Wire the refund to [IBAN] EUR by Monday.', note: 'the country length ends it before EUR' },
  { about: 'iban', text: 'UK account GB29NWBK60161331926819, French FR14 2004 1010 0505 0001 3M02 606.', masked: 'UK account [IBAN], French [IBAN].' },
  { about: 'iban', text: 'Dutch nl91abna0417164300 typed in lower case.', masked: 'Dutch [IBAN] typed in lower case.' },
  { about: 'iban', text: 'Swiss CH93 0076 2011 6238 5295 7 and Norwegian NO93 8601 1117 947.', masked: 'Swiss [IBAN] and Norwegian [IBAN].' },
  same('iban', 'Typo DE88 3704 0044 0532 0130 00 fails the check digits.', 'bad mod-97 check'),
  same('iban', 'Truncated GB29 NWBK 6016 1331 9268 1 is incomplete.', 'too short for GB'),
  same('iban', 'Unknown country XX89370400440532013000 is rejected.', 'no such country'),
  same('iban', 'Model AB12 3456 7890 is discontinued.', 'looks like an IBAN start, is not'),

  // --- IP ------------------------------------------------------------------------------------
  { about: 'ip', text: 'The agent connected from 10.0.0.12 and then 192.168.1.20:8080.', masked: 'The agent connected from [IP] and then [IP]:8080.' },
  { about: 'ip', text: 'IPv6 client 2001:db8::8a2e:370:7334, loopback ::1, mapped ::ffff:192.0.2.1.', masked: 'IPv6 client [IP], loopback [IP], mapped [IP].' },
  { about: 'ip', text: 'Link-local fe80::1 answered.', masked: 'Link-local [IP] answered.' },
  { about: 'ip', text: 'Upgrade the router to 1.2.3.4 tonight.', masked: 'Upgrade the router to [IP] tonight.', note: 'a bare dotted quad is an address (documented choice)' },
  same('ip', 'Bogus 999.1.1.1 and 256.10.10.10 in the log.', 'octet over 255'),
  same('ip', 'Deployed version 1.2.3.4 and v2.0.0.1 yesterday.', 'version strings'),
  same('ip', 'See section 3.2.1 and build 1.2.3.4.5.', 'not four octets'),
  same('ip', 'Meeting 10:30:00, MAC 00:1A:2B:3C:4D:5E.', 'times and MAC addresses are not IPv6'),
  same('ip', 'Use std::vector and a :: b in C++.', 'scope operators'),
];
