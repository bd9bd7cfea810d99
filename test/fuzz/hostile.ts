import fc from 'fast-check';

/**
 * Hostile values for the fuzzers: strings, numbers, JSON texts, content types and header values
 * an attacker or a broken client sends. Each is an arbitrary, so a seed replays them exactly.
 */

/** The largest string a fuzzed field gets: 100 KB, under the 1 MiB body limit with room to spare. */
export const HUGE_STRING_CHARS = 100_000;

/** Strings no field should store or choke on: injections, traversal, prototype keys, unicode oddities, NUL, lone surrogates. */
export const NASTY_STRINGS: readonly string[] = [
  '',
  ' ',
  '\t\n\r',
  "' OR '1'='1",
  "'; DROP TABLE identity.users; --",
  '" OR ""="',
  '1; select pg_sleep(10)',
  "1' union select password_hash from identity.users --",
  '../../../../etc/passwd',
  '..%2f..%2f..%2fetc%2fpasswd',
  '..\\..\\windows\\win.ini',
  '%00',
  '%ff',
  '%',
  '_',
  '*',
  '\\',
  '<script>alert(1)</script>',
  '${jndi:ldap://127.0.0.1/a}',
  '{{7*7}}',
  '__proto__',
  'constructor',
  'prototype',
  '$where',
  '{"$gt":""}',
  'a\u0000b',
  '\u0000',
  '\ud800',
  '\udfff',
  'a\ud83d',
  '\ufeff',
  '\uffff',
  '\u202e\u0644\u0627',
  '\u200b\u200c\u200d',
  'e\u0301'.repeat(500),
  '𝔘𝔫𝔦𝔠𝔬𝔡𝔢 🛒🔥 中文 العربية',
  'NaN',
  'Infinity',
  '-Infinity',
  '-0',
  '1e308',
  '1e309',
  '9007199254740992',
  '0x10',
  '1_000',
  ' 1',
  '1.0',
  '01',
  '+1',
  '-1',
  'true',
  'null',
  'undefined',
  'tok_visa',
  'USD',
  'admin',
];

/** Numbers at the edges of every schema: -0, fractions, the safe-integer edge, 1e308, tiny and huge. */
export const EDGE_NUMBERS: readonly number[] = [
  0,
  -0,
  -1,
  1,
  1.5,
  99,
  100,
  101,
  2 ** 31,
  2 ** 32,
  2 ** 53,
  Number.MAX_SAFE_INTEGER,
  Number.MAX_SAFE_INTEGER + 1,
  -Number.MAX_SAFE_INTEGER - 1,
  1e9 + 1,
  1e11 + 1,
  1e308,
  -1e308,
  Number.MIN_VALUE,
  Number.EPSILON,
];

/**
 * A JSON literal written as is into the body text: what JSON.stringify cannot produce (`-0`,
 * `1e999` which parses to Infinity, `1e-400`, an exponent of 400 digits).
 */
export class RawJson {
  constructor(readonly text: string) {}
}

export const RAW_NUMBERS: readonly RawJson[] = ['-0', '1e999', '-1e999', '1e-400', '1E+2', '0.0000000000000000000001', '123456789012345678901234567890', `1e${'9'.repeat(40)}`].map(
  (text) => new RawJson(text),
);

/** JSON.stringify that writes RawJson as its text and keeps `__proto__` own keys as keys. */
export function toJsonText(value: unknown): string {
  if (value instanceof RawJson) return value.text;
  if (Array.isArray(value)) return `[${value.map(toJsonText).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    return `{${Object.entries(value)
      .map(([k, v]) => `${JSON.stringify(k)}:${toJsonText(v)}`)
      .join(',')}}`;
  }
  if (value === undefined) return 'null';
  if (typeof value === 'number' && !Number.isFinite(value)) return 'null';
  return JSON.stringify(value);
}

export const hostileString: fc.Arbitrary<string> = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...NASTY_STRINGS) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'grapheme', maxLength: 40 }) },
  { weight: 1, arbitrary: fc.string({ maxLength: 40 }).map((s) => `${s}\u0000${s}`) },
  { weight: 1, arbitrary: fc.constantFrom(65, 129, 201, 256, 513, 5_001).map((n) => 'x'.repeat(n)) },
  { weight: 1, arbitrary: fc.constantFrom('x', 'é', '😀', '\ud800').map((c) => c.repeat(Math.floor(HUGE_STRING_CHARS / c.length))) },
);

/** A value of any JSON type but the one a field wants (the schema decides which are wrong). */
export const anyJsonValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.constantFrom(...EDGE_NUMBERS),
  fc.constantFrom(...RAW_NUMBERS),
  hostileString,
  fc.constant([]),
  fc.constant({}),
  fc.array(fc.oneof(fc.integer(), hostileString), { maxLength: 4 }),
  fc.dictionary(fc.constantFrom('a', '__proto__', 'constructor', '$gt', ''), fc.oneof(fc.integer(), hostileString), { maxKeys: 3 }),
);

/** `{"a":{"a":...1}}` nested `depth` deep. */
export const nestedJson = (depth: number): string => `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;

/** Whole bodies that are not the JSON a route reads: malformed, truncated, odd top-level values, prototype keys, deep. */
export const MALFORMED_BODIES: readonly string[] = [
  '',
  ' ',
  '{',
  '}',
  '{"a":',
  '{"a":1,}',
  "{'a':1}",
  '{a:1}',
  '[1,2',
  'nul',
  'tru',
  'NaN',
  'Infinity',
  'undefined',
  '{"a":1}{"b":2}',
  '{"a":1} trailing',
  '\ufeff{}',
  '[]',
  '[{}]',
  'null',
  'true',
  '0',
  '-0',
  '"string"',
  '1e999',
  '{"a":"\\u0000"}',
  '{"\\u0000":1}',
  '{"a":"\\ud800"}',
  '{"a":"\\x41"}',
  '{"a":"\\u12"}',
  '{"__proto__":{"role":"admin","isAdmin":true}}',
  '{"constructor":{"prototype":{"role":"admin"}}}',
  '{"a":{"__proto__":{"polluted":true}}}',
  '{"quantity":1,"quantity":"x"}',
  '\u0000',
  '\u0000{}',
  '/* comment */ {}',
  '{"a":1e99999999}',
  nestedJson(40),
  nestedJson(5_000),
  '['.repeat(5_000),
  `[${'0,'.repeat(50_000)}0]`,
  `{${Array.from({ length: 5_000 }, (_, i) => `"k${i}":${i}`).join(',')}}`,
];

/** A body as bytes that are not UTF-8 at all. */
export const INVALID_UTF8: readonly Buffer[] = [Buffer.from([0xff, 0xfe, 0x7b, 0x7d]), Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xc3, 0x28, 0x22, 0x7d]), Buffer.from([0xed, 0xa0, 0x80])];

export const CONTENT_TYPES: readonly (string | undefined)[] = [
  'application/json',
  'application/json; charset=utf-8',
  'APPLICATION/JSON',
  'application/json; charset=latin1',
  'application/json; charset=utf-16',
  'application/json;;;',
  'application/json, text/plain',
  'text/plain',
  'text/json',
  'text/html',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=----x',
  'application/xml',
  'application/vnd.api+json',
  'application/problem+json',
  'application/octet-stream',
  '*/*',
  '',
  ';',
  'json',
  undefined,
];

/** Printable ASCII and Latin-1 only: what an HTTP/1.1 header value can carry on the wire. */
const headerSafe = (s: string): string => s.replace(/[^\t\x20-\x7e\x80-\xff]/g, '?');

export const hostileHeaderValue: fc.Arbitrary<string> = fc.oneof(
  hostileString.filter((s) => s.length < 2_000).map(headerSafe),
  fc.constantFrom('x'.repeat(4_000), 'é'.repeat(100), '\xff\xfe', '', ' ', '()<>@,;:\\"/[]?={}'),
);

/** Odd headers besides the route's own: identity spoofs, request ids, caching, encodings, expectations. */
export const oddHeaders: fc.Arbitrary<Record<string, string>> = fc
  .subarray(
    [
      ['x-agora-user-id', fc.constantFrom('00000000-0000-0000-0000-000000000000', 'not-a-uuid', "'; drop table x; --")],
      ['x-agora-user-role', fc.constantFrom('admin', 'ADMIN', 'root', '')],
      ['x-agora-internal', fc.constantFrom('1', 'true')],
      ['x-request-id', fc.oneof(fc.constantFrom('abc', 'x'.repeat(200), '../../etc', 'a b', 'req:1.2-3_4'), hostileHeaderValue)],
      ['x-forwarded-for', fc.constantFrom('127.0.0.1', '1.1.1.1, 2.2.2.2', 'not an ip', '::1')],
      ['accept', fc.constantFrom('application/xml', 'text/html', '*/*;q=0', 'application/json;q=0', '', 'x/y')],
      ['accept-encoding', fc.constantFrom('gzip, br, zstd, x-unknown', 'identity;q=0', '*;q=0', 'gzip;q=abc')],
      ['content-encoding', fc.constantFrom('gzip', 'br', 'deflate', 'x-unknown')],
      ['if-none-match', fc.constantFrom('*', '"abc"', 'W/"x"')],
      ['range', fc.constantFrom('bytes=0-1', 'bytes=-1', 'items=0-10')],
      ['cookie', fc.constantFrom('session=abc', `a=${'b'.repeat(3_000)}`)],
      ['user-agent', hostileHeaderValue],
      ['origin', fc.constantFrom('null', 'https://evil.example', 'file://')],
      ['x-http-method-override', fc.constantFrom('DELETE', 'PUT', 'GET')],
      ['expect', fc.constantFrom('100-continue', 'something-odd')],
      ['x-custom', hostileHeaderValue],
    ] as const,
    { maxLength: 4 },
  )
  .chain((pairs) => fc.tuple(...pairs.map(([name, value]) => (value as fc.Arbitrary<string>).map((v) => [name, v] as const))))
  .map((pairs) => Object.fromEntries(pairs));
