import { describe, expect, it } from 'vitest';
import { literalEval, pyFloatRepr, pyRepr, pyReprStr, pyStr, ShlexError, shlexSplit } from './pylit.js';

// Expected values were taken from Python 3.11 (ast.literal_eval, shlex.split, repr).
describe('literalEval (ast.literal_eval, else the text)', () => {
  const cases: Array<[string, unknown]> = [
    ['5', 5],
    ['-3', -3],
    ['+7', 7],
    ['--5', '--5'],
    ['1.5', 1.5],
    ['1e3', 1000],
    ['1E-3', 0.001],
    ['.5', 0.5],
    ['5.', 5],
    ['0x1F', 31],
    ['0o17', 15],
    ['0b101', 5],
    ['1_000', 1000],
    ['010', '010'],
    ['00', 0],
    ['True', true],
    ['False', false],
    ['None', null],
    ['true', 'true'],
    ['yes', 'yes'],
    ["'a b'", 'a b'],
    ['"x"', 'x'],
    ["'it''s'", 'its'],
    ["u'uni'", 'uni'],
    ["r'\\n'", '\\n'],
    ["'\\n'", '\n'],
    ["'\\x41\\u00e9\\101'", 'AéA'],
    ["f'x'", "f'x'"],
    ["'''triple'''", 'triple'],
    ['"it\'s"', "it's"],
    ["[1, 'two', 3.5]", [1, 'two', 3.5]],
    ['(1,)', [1]],
    ['(1, 2)', [1, 2]],
    ['()', []],
    ['(5)', 5],
    ["{'k': 1}", { k: 1 }],
    ['{}', {}],
    ['{1, 2}', [1, 2]],
    ['set()', []],
    ["{'a': [1, {'b': None}]}", { a: [1, { b: null }] }],
    ['hello', 'hello'],
    ['hello world', 'hello world'],
    ['1 + 2', '1 + 2'],
    ['-True', '-True'],
    ["'a' # c", 'a'],
    ['5 # c', 5],
    ['[1,', '[1,'],
    ["'unterminated", "'unterminated"],
    ['  5', 5],
    ['-(5)', -5],
    ['-(-5)', '-(-5)'],
    ['1.5.3', '1.5.3'],
    ['1abc', '1abc'],
    ['', ''],
    ['=x', '=x'],
  ];
  for (const [text, want] of cases) {
    it(`${JSON.stringify(text)} -> ${JSON.stringify(want)}`, () => {
      expect(literalEval(text)).toEqual(want);
    });
  }
  it('rejects unhashable dict keys as Python does (TypeError, not a string)', () => {
    expect(() => literalEval('{[1]: 2}')).toThrow(/unhashable/);
  });
});

describe('shlexSplit (shlex.split(comments=True))', () => {
  const cases: Array<[string, string[]]> = [
    ['a b', ['a', 'b']],
    ['a "b c" d', ['a', 'b c', 'd']],
    ["a 'b c'", ['a', 'b c']],
    ['a=b#c d', ['a=b']],
    ['a #c', ['a']],
    ['x="a\\"b"', ['x=a"b']],
    ['x="a\\nb"', ['x=a\\nb']],
    ['x=a\\ b', ['x=a b']],
    ["x='a\\b'", ['x=a\\b']],
    ['""', ['']],
    ['a""b', ['ab']],
    ['x="y z"w', ['x=y zw']],
  ];
  for (const [line, want] of cases) {
    it(`${JSON.stringify(line)} -> ${JSON.stringify(want)}`, () => {
      expect(shlexSplit(line).map((t) => t.value)).toEqual(want);
    });
  }
  it('records where each word starts', () => {
    expect(shlexSplit('web1  a=1 "b=2 3"')).toEqual([
      { value: 'web1', start: 0 },
      { value: 'a=1', start: 6 },
      { value: 'b=2 3', start: 10 },
    ]);
  });
  it('fails on an unclosed quote and a trailing backslash, at the offending place', () => {
    expect(() => shlexSplit('a "b')).toThrow(ShlexError);
    try {
      shlexSplit('a "b');
    } catch (e) {
      expect((e as ShlexError).offset).toBe(2);
      expect((e as ShlexError).message).toBe('No closing quotation');
    }
    expect(() => shlexSplit('a\\')).toThrow('No escaped character');
  });
});

describe('Python repr/str', () => {
  it('formats floats as repr(float)', () => {
    expect([1e16, 0.0001, 0.00001, 1.5e-7, 123456789.123, 1e22, 2.5e-5, 1.5, -0.25].map(pyFloatRepr)).toEqual([
      '1e+16',
      '0.0001',
      '1e-05',
      '1.5e-07',
      '123456789.123',
      '1e+22',
      '2.5e-05',
      '1.5',
      '-0.25',
    ]);
  });
  it('quotes strings as repr(str)', () => {
    expect(pyReprStr("it's")).toBe(`"it's"`);
    expect(pyReprStr('say "hi"')).toBe(`'say "hi"'`);
    expect(pyReprStr(`both ' and "`)).toBe(`'both \\' and "'`);
    expect(pyReprStr('tab\tnl\n\x7f\x80\xa0é\u2028')).toBe(`'tab\\tnl\\n\\x7f\\x80\\xa0é\\u2028'`);
  });
  it('prints values as str() does', () => {
    expect(pyStr('plain')).toBe('plain');
    expect(pyStr(true)).toBe('True');
    expect(pyStr(null)).toBe('None');
    expect(pyStr([1, 'two', 3.5, false])).toBe("[1, 'two', 3.5, False]");
    expect(pyStr({ k: 'v', n: null, l: [] })).toBe("{'k': 'v', 'n': None, 'l': []}");
    expect(pyRepr('x')).toBe("'x'");
  });
});
