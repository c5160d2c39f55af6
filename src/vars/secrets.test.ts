import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { quote } from '../transport/quote.js';
import { MASK, Secrets, secretForms } from './secrets.js';

function secrets(...values: unknown[]): Secrets {
  const s = new Secrets();
  for (const v of values) s.add(v);
  return s;
}

describe('Secrets.add', () => {
  it('takes strings, numbers and strings nested in lists and mappings; ignores empty strings', () => {
    const s = secrets('a1', 42, ['l1', { k: 'm1', n: [7] }], '', null, true);
    expect(s.size).toBe(5);
    for (const v of ['a1', '42', 'l1', 'm1', '7', 42, 7]) expect(s.isSecret(v), String(v)).toBe(true);
    for (const v of ['', 'k', 'true', true, null, 'a']) expect(s.isSecret(v), String(v)).toBe(false);
  });

  it('survives cycles and counts duplicates once', () => {
    const a: unknown[] = ['x1'];
    a.push(a);
    const s = secrets(a, 'x1');
    expect(s.size).toBe(1);
  });
});

describe('Secrets.mask', () => {
  it('masks every occurrence', () => {
    expect(secrets('hunter2').mask('pw=hunter2; again hunter2.')).toBe(`pw=${MASK}; again ${MASK}.`);
  });

  it('leaves text alone without secrets or matches', () => {
    expect(new Secrets().mask('hunter2')).toBe('hunter2');
    expect(secrets('hunter2').mask('nothing here')).toBe('nothing here');
    expect(secrets('hunter2').mask('')).toBe('');
  });

  it('treats regex metacharacters literally', () => {
    const meta = ['a.b*c', '(x|y)', '^$', '[a-z]+', '\\d{2}', 'q?', 'p+w', '${HOME}', '/slash/'];
    const s = secrets(...meta);
    for (const m of meta) expect(s.mask(`<${m}>`), m).toBe(`<${MASK}>`);
    // and matches nothing else
    expect(s.mask('axb cc xy a-z dd HOME slash')).toBe('axb cc xy a-z dd HOME slash');
    expect(s.mask('aXbbbc')).toBe('aXbbbc');
  });

  it('masks the longest of secrets sharing a prefix', () => {
    const s = secrets('pass', 'password123');
    expect(s.mask('password123 pass passw')).toBe(`${MASK} ${MASK} ${MASK}w`);
  });

  it('masks the union of overlapping secrets', () => {
    const s = secrets('abcd', 'cdef');
    expect(s.mask('xabcdefx')).toBe(`x${MASK}x`);
    expect(s.mask('xcdefx abcdx')).toBe(`x${MASK}x ${MASK}x`);
    // a secret inside another one
    expect(secrets('secretvalue', 'cretva').mask('-secretvalue-cretva-')).toBe(`-${MASK}-${MASK}-`);
    // chains of overlaps
    expect(secrets('aaa').mask('aaaaaaa!')).toBe(`${MASK}!`);
  });

  it('masks JSON-escaped forms', () => {
    const pw = 'pa"ss\\wo\nrd';
    const s = secrets(pw);
    expect(s.mask(JSON.stringify({ password: pw }))).toBe(`{"password":"${MASK}"}`);
    const uni = 'pässwörd✓';
    const s2 = secrets(uni);
    // as Python's json.dumps writes it (ensure_ascii)
    expect(s2.mask('{"p": "p\\u00e4ssw\\u00f6rd\\u2713"}')).toBe(`{"p": "${MASK}"}`);
    expect(s2.mask(JSON.stringify({ p: uni }))).toBe(`{"p":"${MASK}"}`);
  });

  it('masks the sh-quoted form, whole or inside a larger word', () => {
    const pw = "it's-a-secret";
    const s = secrets(pw);
    expect(s.mask(`mysql -p${quote(pw)}`)).toBe(`mysql -p'${MASK}'`);
    expect(s.mask(`echo ${quote(`--password=${pw}`)}`)).toBe(`echo '--password=${MASK}'`);
  });

  it('masks percent-encoded forms', () => {
    expect(secrets('p@ss/w:rd').mask('https://u:p%40ss%2Fw%3Ard@host/')).toBe(`https://u:${MASK}@host/`);
  });

  it('masks base64 at every alignment inside a longer base64 text', () => {
    const pw = 'correct horse battery';
    const s = secrets(pw);
    for (const pre of ['', 'a', 'ab', 'abc', 'abcd']) {
      const b64 = Buffer.from(`${pre}${pw}--trailer`).toString('base64');
      const masked = s.mask(b64);
      expect(masked, pre).toContain(MASK);
      // what is left cannot be decoded back to the secret
      expect(Buffer.from(masked.replace(MASK, ''), 'base64').toString('latin1')).not.toContain('battery');
    }
    // short secrets are not looked for in base64 (too many false hits)
    expect(secretForms('abc')).toEqual(['abc']);
  });

  it('masks each line of a multi-line secret, as a diff shows it', () => {
    const key = '-----BEGIN KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\nshort\n-----END KEY-----\n';
    const s = secrets(key);
    const diff = '+-----BEGIN KEY-----\n+MIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n+short\n';
    expect(s.mask(diff)).toBe(`+${MASK}\n+${MASK}\n+short\n`);
    expect(s.mask(`x${key}y`)).toBe(`x${MASK}y`);
    expect(s.mask(key.replace(/\n/g, '\r\n'))).not.toContain('MIIEvQ');
  });

  it('adding a secret after masking takes effect', () => {
    const s = secrets('one-secret');
    expect(s.mask('one-secret two-secret')).toBe(`${MASK} two-secret`);
    s.add('two-secret');
    expect(s.mask('one-secret two-secret')).toBe(`${MASK} ${MASK}`);
  });

  it('handles non-ASCII and astral characters', () => {
    const s = secrets('🔑ключ');
    expect(s.mask('a🔑ключb')).toBe(`a${MASK}b`);
    expect(s.mask('a🔑клю')).toBe('a🔑клю');
  });

  it('is fast with hundreds of secrets on a large output', () => {
    const many: string[] = [];
    // varied first characters, as real tokens have (a shared prefix would flatter any method)
    for (let i = 0; i < 500; i++) many.push(`${createHash('sha256').update(String(i)).digest('base64').slice(0, 20)}"'${i}`);
    const s = secrets(...many);
    const filler = 'lorem ipsum dolor sit amet, consectetur adipiscing elit 0123456789 {"k": [1,2,3]}\n';
    let text = filler.repeat(12_000); // ~1 MB
    text += many[123]! + filler + many[499]!;
    const t0 = performance.now();
    const out = s.mask(text);
    const ms = performance.now() - t0;
    expect(out.endsWith(`${MASK}${filler}${MASK}`)).toBe(true);
    expect(out.length).toBe(text.length - many[123]!.length - many[499]!.length + 2 * MASK.length);
    // about 20 ms here; generous for a loaded machine, and still far below a regex per secret
    expect(ms).toBeLessThan(1000);
  });
});

describe('Secrets.maskDeep', () => {
  it('copies, masking strings and keys, keeping other values', () => {
    const s = secrets('tops3cret');
    const buf = Buffer.from('tops3cret');
    const input = {
      msg: 'the password is tops3cret',
      nested: [{ 'tops3cret-key': 1, n: 5, b: true, z: null }],
      buf,
    };
    const out = s.maskDeep(input);
    expect(out).toEqual({
      msg: `the password is ${MASK}`,
      nested: [{ [`${MASK}-key`]: 1, n: 5, b: true, z: null }],
      buf,
    });
    expect(out.buf).toBe(buf);
    expect(input.msg).toBe('the password is tops3cret');
    expect(out.nested).not.toBe(input.nested);
  });

  it('masks secret numbers', () => {
    const s = secrets(4711);
    expect(s.maskDeep({ pin: 4711, other: 47, text: 'pin 4711', big: 147110 })).toEqual({
      pin: MASK,
      other: 47,
      text: `pin ${MASK}`,
      big: `1${MASK}0`,
    });
  });

  it('returns a copy even without secrets, and keeps cycles', () => {
    const a: Record<string, unknown> = { x: 'y' };
    a['self'] = a;
    const out = new Secrets().maskDeep(a);
    expect(out).not.toBe(a);
    expect(out['self']).toBe(out);
    const out2 = secrets('y').maskDeep(a);
    expect(out2['x']).toBe(MASK);
    expect(out2['self']).toBe(out2);
  });
});
