import { describe, expect, it } from 'vitest';
import { InputError, TaskError } from '../errors.js';
import type { Expr } from './ast.js';
import {
  evaluate,
  evaluateCondition,
  ExprEvalError,
  ExprSyntaxError,
  formatExpression,
  parseExpression,
  referencedNames,
  truthy,
  UndefinedError,
} from './index.js';

/** The shapes the engine gives (registered results, loop results, hostvars) plus plain values. */
function sampleVars(): Record<string, unknown> {
  return {
    result: { changed: false, failed: false, rc: 0, stdout: 'ok\nbr-int', stderr: '', stdout_lines: ['ok', 'br-int'] },
    bridges: { changed: false, failed: false, rc: 0, stdout: 'br-ex\nbr-int', stderr: '', stdout_lines: ['br-ex', 'br-int'] },
    bad: { changed: true, failed: true, rc: 2, stdout: '', stderr: 'boom', stdout_lines: [], msg: 'non-zero return code' },
    skipped_result: { changed: false, skipped: true, skip_reason: 'Conditional result was False' },
    // a loop's registered result with the aggregate flags, and one with only per-item results
    looped: {
      changed: true,
      failed: false,
      results: [
        { item: 'a', changed: false, failed: false, rc: 0 },
        { item: 'b', changed: true, failed: false, rc: 0 },
      ],
    },
    loop_only: {
      results: [
        { item: 'a', changed: false, failed: false, rc: 0 },
        { item: 'b', changed: false, failed: true, rc: 1 },
      ],
    },
    loop_changed: { results: [{ item: 'a', changed: true }, { item: 'b', changed: false }] },
    inventory_hostname: 'h1',
    hostvars: { h1: { x: 42, ansible_host: '10.0.0.1' }, h2: { x: 7 } },
    items: [1, 2, 3],
    names: ['b', 'A', 'c', 'a'],
    empty: [],
    emptystr: '',
    emptydict: {},
    zero: 0,
    nothing: null,
    flag: 'yes',
    off: 'off',
    t: true,
    f: false,
    n: 5,
    pi: 3.5,
    num_str: '42',
    float_str: '3.7',
    text: '  Hello World  ',
    csv: 'a,b,,c',
    ver: '1.10.2',
    pat: '(',
    mapping: { a: 1, b: [1, 2], c: { d: 'deep' } },
    users: [
      { name: 'ann', uid: 1000, shell: '/bin/bash' },
      { name: 'bob', uid: 0, shell: '/bin/sh' },
      { name: 'cyd', uid: 1001 },
    ],
  };
}

type Expected = { value: unknown } | { error: new (...a: never[]) => Error; message: string };
const err = (cls: new (...a: never[]) => Error, message: string): Expected => ({ error: cls, message });

/** [expression, expected value or error]; evaluated against sampleVars(). */
const CASES: [string, unknown][] = [
  // literals
  ["'single'", 'single'],
  ['"double"', 'double'],
  ["'it\\'s'", "it's"],
  ['"a\\tb\\n"', 'a\tb\n'],
  ["'\\d+'", '\\d+'],
  ["'\\\\d'", '\\d'],
  ["'\\x41\\u00e9'", 'Aé'],
  ["'a' 'b'", 'ab'],
  ['42', 42],
  ['1_000', 1000],
  ['0x1F', 31],
  ['0b101', 5],
  ['1.5', 1.5],
  ['1e3', 1000],
  ['true', true],
  ['True', true],
  ['false', false],
  ['False', false],
  ['none', null],
  ['None', null],
  ['null', null],
  ["[1, 'a']", [1, 'a']],
  ['[]', []],
  ["{'a': 1, \"b\": [true]}", { a: 1, b: [true] }],
  ["('a', 'b')", ['a', 'b']],
  ["('a',)", ['a']],
  ["('a')", 'a'],
  // variables and access
  ['result.rc', 0],
  ["result['rc']", 0],
  ['hostvars[inventory_hostname].x', 42],
  ["hostvars['h2']['x']", 7],
  ['items[0]', 1],
  ['items[-1]', 3],
  ['items.1', 2],
  ['mapping.c.d', 'deep'],
  ["mapping['b'][1]", 2],
  ['result.stdout_lines[-1]', 'br-int'],
  ['items[1:]', [2, 3]],
  ['items[:-1]', [1, 2]],
  ['items[::-1]', [3, 2, 1]],
  ["'hello'[1:3]", 'el'],
  ['text[2]', 'H'],
  // comparisons, logic, arithmetic
  ['result.rc == 0', true],
  ['result.rc != 0', false],
  ["'br-int' in bridges.stdout", true],
  ["'br-tun' not in bridges.stdout", true],
  ["'br-int' in bridges.stdout_lines", true],
  ["'a' in mapping", true],
  ["'zz' in mapping", false],
  ['2 in items', true],
  ['1 < n <= 5', true],
  ['1 < n < 5', false],
  ['not (x is defined)', true],
  ['not x is defined', true],
  ['not n == 5', false],
  ['t or f and f', true],
  ['f and f or t', true],
  ['(t or f) and f', false],
  ['items | length > 2', true],
  ['items|length>2', true],
  ["'abc' ~ 1 ~ none", 'abc1None'],
  ["'v' ~ items", 'v[1, 2, 3]'],
  ['1 + 2 * 3', 7],
  ['(1 + 2) * 3', 9],
  ['7 / 2', 3.5],
  ['7 // 2', 3],
  ['-7 // 2', -4],
  ['-7 % 3', 2],
  ['7 % -3', -2],
  ['2 ** 10', 1024],
  ['2 ** 3 ** 2', 64],
  ['-2 ** 2', 4],
  ['-n', -5],
  ["'ab' * 2", 'abab'],
  ['[1] + [2]', [1, 2]],
  ["'a' + 'b'", 'ab'],
  ['t + 1', 2],
  ["'yes' if t else 'no'", 'yes'],
  ["'yes' if f else 'no'", 'no'],
  ["'a' if f else 'b' if f else 'c'", 'c'],
  ["t and 'x'", 'x'],
  ["emptystr or 'fallback'", 'fallback'],
  ['nothing or 0', 0],
  ['f and x', false],
  ['t or x', true],
  ['1 == 1.0', true],
  ['1 == true', true],
  ["'1' == 1", false],
  ['[1, 2] == [1, 2]', true],
  ["{'a': 1} == {'a': 1}", true],
  ['none == nothing', true],
  ["'abc' < 'abd'", true],
  ['[1, 2] < [1, 3]', true],
  // truthiness as Python
  ['not emptystr', true],
  ['not empty', true],
  ['not emptydict', true],
  ['not zero', true],
  ['not nothing', true],
  ["not 'False'", false],
  // tests
  ['x is defined', false],
  ['x is not defined', true],
  ['x is undefined', true],
  ['result is defined', true],
  ['result.rcc is defined', false],
  ['x.y.z is defined', false],
  ['x[0].y is undefined', true],
  ['nothing is defined', true],
  ['nothing is none', true],
  ['nothing is not none', false],
  ['zero is none', false],
  ['text is string', true],
  ['n is string', false],
  ['n is number', true],
  ['pi is number', true],
  ['t is number', true],
  ['num_str is number', false],
  ['n is integer', true],
  ['pi is float', true],
  ['t is boolean', true],
  ['mapping is mapping', true],
  ['items is mapping', false],
  ['items is iterable', true],
  ['text is iterable', true],
  ['n is iterable', false],
  ['items is sequence', true],
  ['result is changed', false],
  ['bad is changed', true],
  ['bad is failed', true],
  ['result is failed', false],
  ['result is succeeded', true],
  ['result is success', true],
  ['bad is not succeeded', true],
  ['skipped_result is skipped', true],
  ['result is skipped', false],
  ['looped is changed', true],
  ['loop_changed is changed', true],
  ['loop_only is changed', false],
  ['loop_only is failed', true],
  ['loop_only is succeeded', false],
  ['result is ansible.builtin.succeeded', true],
  ["result.stdout is match('ok')", true],
  ["result.stdout is match('br')", false],
  ["result.stdout is search('br-\\w+')", true],
  ["result.stdout is search('^br')", false],
  ["result.stdout is search('^br', multiline=true)", true],
  ["result.stdout is search('OK', ignorecase=true)", true],
  ["result.stdout is regex('int$')", true],
  ["'ab\\n' is search('b$')", true],
  ["'ab\\nc' is search('b$')", false],
  ["'a\\nb' is search('a.b')", false],
  ["'John Smith' is match('(?P<first>\\w+) (?P=first)')", false],
  ["'hi hi' is match('(?P<w>\\w+) (?P=w)$')", true],
  ["('a' * 1000) is search('a' * 1000)", true],
  ["'a]' is search('[]a]+$')", true],
  ["'Ab' is match('(?i)ab')", true],
  ["'ab' is search('\\Aa')", true],
  ["'ab\n' is search('b\\Z')", false],
  ["'a\rb' is search('a.b')", true],
  ["'a\nb' is search('(?s)a.b')", true],
  ["'x1' is search('(?#note)x\\d')", true],
  ["ver is version('1.9', '>')", true],
  ["ver is version('1.10.2', '==')", true],
  ["ver is version('2.0', 'lt')", true],
  ["ver is version_compare('1.10', '>=')", true],
  ['n is divisibleby 5', true],
  ['n is divisibleby(3)', false],
  ['n is odd', true],
  ['n is even', false],
  ['2 is in(items)', true],
  ['n is in items', false],
  ['n is eq 5', true],
  ['n is ge(3)', true],
  ['n is lt 3', false],
  ['[1] is subset(items)', true],
  ['items is superset([1, 2])', true],
  ['items is contains(2)', true],
  ['[t, 1] is all', true],
  ['[f, 0] is any', false],
  ["'' is falsy", true],
  ['off is truthy', true],
  ['off is truthy(convert_bool=true)', false],
  ['t is sameas true', true],
  ["'abc' is lower", true],
  ['text is lower', false],
  ["'ABC' is upper", true],
  // filters
  ['flag | bool', true],
  ["'on' | bool", true],
  ["'1' | bool", true],
  ["'TRUE' | bool", true],
  ["'no' | bool", false],
  ["'y' | bool", false],
  ['off | bool', false],
  ['1 | bool', true],
  ['0 | bool', false],
  ['num_str | int', 42],
  ["' 42 ' | int", 42],
  ['float_str | int', 3],
  ["'abc' | int", 0],
  ["'abc' | int(7)", 7],
  ["'ff' | int(base=16)", 255],
  ["'0x1F' | int(base=16)", 31],
  ['pi | int', 3],
  ['nothing | int', 0],
  ['t | int', 1],
  ['float_str | float', 3.7],
  ["'1e3' | float", 1000],
  ["'x' | float", 0],
  ['n | float', 5],
  ['n | string', '5'],
  ['pi | string', '3.5'],
  ['items | string', '[1, 2, 3]'],
  ['t | string', 'True'],
  ['mapping.c | string', "{'d': 'deep'}"],
  ["[\"it's\"] | string", '["it\'s"]'],
  ['nothing | string', 'None'],
  ['items | length', 3],
  ['text | length', 15],
  ['mapping | length', 3],
  ["'héllo' | count", 5],
  ['text | lower', '  hello world  '],
  ['text | upper', '  HELLO WORLD  '],
  ['text | trim', 'Hello World'],
  ["'xxhixx' | trim('x')", 'hi'],
  ["'hello' | capitalize", 'Hello'],
  ["'a-b-c' | replace('-', '+')", 'a+b+c'],
  ['x | default(5)', 5],
  ["x | d('z')", 'z'],
  ['x | default', ''],
  ['n | default(1)', 5],
  ['n | default(y.z)', 5],
  ["emptystr | default('e')", ''],
  ["emptystr | default('e', true)", 'e'],
  ["emptystr | default('e', boolean=true)", 'e'],
  ['x.y | default(nothing)', null],
  ["result.rcc | default('no rc')", 'no rc'],
  ["hostvars['h3'].x | default(0)", 0],
  ['items | first', 1],
  ['items | last', 3],
  ["'abc' | first", 'a'],
  ["names | join(',')", 'b,A,c,a'],
  ['items | join', '123'],
  ["'abc' | list", ['a', 'b', 'c']],
  ['mapping | list', ['a', 'b', 'c']],
  ["csv | split(',')", ['a', 'b', '', 'c']],
  ["'a b  c' | split", ['a', 'b', 'c']],
  ["result.stdout | regex_search('br-\\w+')", 'br-int'],
  ["result.stdout | regex_search('(\\w+)-(\\w+)', '\\\\2')", ['int']],
  ["result.stdout | regex_search('(?P<a>\\w+)-(?P<b>\\w+)', '\\\\g<a>')", ['br']],
  ["'nomatch' | regex_search('x')", null],
  ["'a1b22' | regex_replace('\\d+', '#')", 'a#b#'],
  ["'john smith' | regex_replace('(?P<first>\\w+) (?P<last>\\w+)', '\\\\g<last>, \\\\g<first>')", 'smith, john'],
  ["'a.b' | regex_replace('\\.', '\\\\\\\\')", 'a\\b'],
  ["'a1b22' | regex_findall('\\d+')", ['1', '22']],
  ["'k=v a=b' | regex_findall('(\\w)=(\\w)')", [['k', 'v'], ['a', 'b']]],
  ["names | select('match', '[a-z]') | list", ['b', 'c', 'a']],
  ["names | reject('match', '[a-z]') | list", ['A']],
  ['[0, 1, none, 2] | select | list', [1, 2]],
  ["users | selectattr('uid', 'eq', 0) | map(attribute='name') | list", ['bob']],
  ["users | rejectattr('uid', '==', 0) | map(attribute='name') | list", ['ann', 'cyd']],
  ["users | selectattr('shell', 'defined') | list | length", 2],
  ["users | map(attribute='name') | join(',')", 'ann,bob,cyd'],
  ["users | map(attribute='shell', default='-') | list", ['/bin/bash', '/bin/sh', '-']],
  ["names | map('upper') | list", ['B', 'A', 'C', 'A']],
  ["['1', '2'] | map('int') | list", [1, 2]],
  ['names | sort', ['A', 'a', 'b', 'c']],
  ['names | sort(case_sensitive=true)', ['A', 'a', 'b', 'c']],
  ['names | sort(reverse=true)', ['c', 'b', 'A', 'a']],
  ["users | sort(attribute='uid') | map(attribute='name') | list", ['bob', 'ann', 'cyd']],
  ['names | unique', ['b', 'A', 'c']],
  ['names | unique(case_sensitive=true)', ['b', 'A', 'c', 'a']],
  ['items | max', 3],
  ['names | min', 'A'],
  ["(n > 3) | ternary('big', 'small')", 'big'],
  ["nothing | ternary('t', 'f', 'n')", 'n'],
  ["t | ternary('yes', undefined_name)", 'yes'],
  ['mapping | to_json', '{"a": 1, "b": [1, 2], "c": {"d": "deep"}}'],
  ["'é' | to_json", '"\\u00e9"'],
  ["'{\"k\": [1]}' | from_json", { k: [1] }],
  ["('{\"k\": 2}' | from_json).k", 2],
  ['n | type_debug', 'int'],
  ['mapping | dict2items | first', { key: 'a', value: 1 }],
  ['-n | abs', 5],
  ['items | reverse | list', [3, 2, 1]],
  ['n | mandatory', 5],
  ['flag | ansible.builtin.bool', true],
  ["n is match('5')", true],
  // methods
  ['text.strip()', 'Hello World'],
  ["text.strip().startswith('Hello')", true],
  ["'abc'.endswith('bc')", true],
  ["'abc'.startswith(('x', 'a'))", true],
  ["csv.split(',')", ['a', 'b', '', 'c']],
  ["'a,b,c'.split(',', 1)", ['a', 'b,c']],
  ["'a,b,c'.rsplit(',', 1)", ['a,b', 'c']],
  ["' a  b '.split()", ['a', 'b']],
  ["'xxhixx'.lstrip('x')", 'hixx'],
  ["'ABC'.lower()", 'abc'],
  ["'abc'.upper()", 'ABC'],
  ["mapping.get('a')", 1],
  ["mapping.get('zz', 9)", 9],
  ["mapping.get('zz')", null],
  ['mapping.keys() | list', ['a', 'b', 'c']],
  ["'a' in mapping.keys()", true],
  ['mapping.values() | length', 3],
  ['mapping.items() | first', ['a', 1]],
  ["'-'.join(names)", 'b-A-c-a'],
  ["'a\\nb\\n'.splitlines()", ['a', 'b']],
  ['items.index(2)', 1],
  ["'banana'.count('a')", 3],
  ["'banana'.find('n')", 2],
  ["'a-b'.replace('-', '+')", 'a+b'],
  ["'123'.isdigit()", true],
  ['bridges.stdout.split() | length', 2],
  // a whole expression in {{ }}
  ['{{ result.rc == 0 }}', true],
  ['  {{ n }}  ', 5],
  ["{{ {'a': {'b': 1}} }}", { a: { b: 1 } }],
];

/** [expression, error class, message substring]; evaluated against sampleVars(). */
const EVAL_ERRORS: [string, Expected][] = [
  ['undefined_var == 1', err(UndefinedError, "'undefined_var' is undefined")],
  ['result.rcc == 0', err(UndefinedError, "'dict object' has no attribute 'rcc'")],
  ["result['rcc']", err(UndefinedError, "'dict object' has no attribute 'rcc'")],
  ['items[5]', err(UndefinedError, "'list object' has no element 5")],
  ['result.rc.x', err(UndefinedError, "'int object' has no attribute 'x'")],
  ['nothing.x', err(UndefinedError, "'None' has no attribute 'x'")],
  ['x.y.z', err(UndefinedError, "'x' is undefined")],
  ['x | length', err(UndefinedError, "'x' is undefined")],
  ['x or 1', err(UndefinedError, "'x' is undefined")],
  ['not x', err(UndefinedError, "'x' is undefined")],
  ['[x]', err(UndefinedError, "'x' is undefined")],
  ['x | default(y.z)', err(UndefinedError, "'y' is undefined")],
  ['x | mandatory', err(ExprEvalError, "'x' is undefined")],
  ["'abc' if f", err(UndefinedError, 'no else section')],
  ['empty | first', err(UndefinedError, 'No first item, sequence was empty.')],
  ['1 / 0', err(ExprEvalError, 'division by zero')],
  ['n // 0', err(ExprEvalError, 'integer division or modulo by zero')],
  ["'a' + 1", err(ExprEvalError, 'can only concatenate str (not "int") to str')],
  ["1 + 'a'", err(ExprEvalError, "unsupported operand type(s) for +: 'int' and 'str'")],
  ["'a' < 1", err(ExprEvalError, "'<' not supported between instances of 'str' and 'int'")],
  ["1 in 'abc'", err(ExprEvalError, "'in <string>' requires string as left operand, not int")],
  ['n in 5', err(ExprEvalError, "argument of type 'int' is not iterable")],
  ['n | length', err(ExprEvalError, "object of type 'int' has no len()")],
  ['n is changed', err(ExprEvalError, "the 'changed' test expects a dictionary")],
  ["'a' is match(5)", err(ExprEvalError, 'match pattern: expected a string, got int')],
  ["n.startswith('a')", err(ExprEvalError, "'int' object has no method 'startswith'")],
  ["'a'.startswith()", err(ExprEvalError, "str.startswith() is missing required argument 'prefix'")],
  ["'a' is match(pat)", err(ExprEvalError, 'bad regular expression "("')],
  ["'a' | regex_search('x' * 1001)", err(ExprEvalError, 'longer than 1000 characters')],
  ["ver is version('1.2', 'around')", err(ExprEvalError, 'invalid operator')],
  ["'1.2-RC1' is version('1.2.1', '<')", err(ExprEvalError, "'<' not supported between instances of 'str' and 'int'")],
  ["'x' * 100000000", err(ExprEvalError, 'too large')],
  ["'%s' % n", err(ExprEvalError, 'string formatting with % is not supported')],
  ['items[0:1:0]', err(ExprEvalError, 'slice step cannot be zero')],
  ["'inf' | int", err(ExprEvalError, 'cannot convert float infinity to integer')],
  ["'{' | from_json", err(ExprEvalError, 'from_json')],
  ["{items: 1}", err(ExprEvalError, 'a dict key must be a string or a number')],
];

function run(src: string, vars: Record<string, unknown> = sampleVars()): unknown {
  return evaluate(parseExpression(src), vars);
}

describe('expressions: values', () => {
  it('has a large table of cases', () => {
    expect(CASES.length + EVAL_ERRORS.length).toBeGreaterThanOrEqual(80);
  });
  it.each(CASES)('%s', (src, expected) => {
    expect(run(src)).toEqual(expected);
  });
});

describe('expressions: evaluation errors', () => {
  it.each(EVAL_ERRORS)('%s', (src, expected) => {
    if ('value' in expected) throw new Error('not an error case');
    let caught: unknown;
    try {
      run(src);
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(expected.error);
    expect(caught).toBeInstanceOf(TaskError);
    expect((caught as Error).message).toContain(expected.message);
  });
});

describe('evaluateCondition and truthy', () => {
  it('applies Python truthiness to the value', () => {
    const vars = sampleVars();
    expect(evaluateCondition(parseExpression('result.stdout'), vars)).toBe(true);
    expect(evaluateCondition(parseExpression('result.stderr'), vars)).toBe(false);
    expect(evaluateCondition(parseExpression('items'), vars)).toBe(true);
    expect(evaluateCondition(parseExpression('emptydict'), vars)).toBe(false);
    expect(evaluateCondition(parseExpression("'false'"), vars)).toBe(true);
  });
  it('truthy() follows Python', () => {
    expect([0, '', [], {}, null, false, undefined].map(truthy)).toEqual([false, false, false, false, false, false, false]);
    expect([1, -1, 'x', [0], { a: 0 }, true, NaN].map(truthy)).toEqual([true, true, true, true, true, true, true]);
  });
  it('an undefined condition is an error naming the variable', () => {
    expect(() => evaluateCondition(parseExpression('missing'), {})).toThrow(new UndefinedError("'missing' is undefined"));
  });
});

const LOC = { file: 'play.yml', line: 3, col: 11 };

/** [expression, 0-based offset of the offending token, message part] */
const SYNTAX_ERRORS: [string, number, string][] = [
  ['a == )', 5, "bad expression: unexpected ')' in `a == )`"],
  ['a ==', 4, 'unexpected end of expression in `a ==`'],
  ['a and', 5, 'unexpected end of expression'],
  ['result.rc = 0', 10, "unexpected '='"],
  ['a b', 2, "unexpected 'b'"],
  ['not', 3, 'unexpected end of expression'],
  ['(a', 2, "expected ')', got end of expression"],
  ['[1, 2', 5, "expected ']', got end of expression"],
  ["{'a' 1}", 5, "expected ':', got '1'"],
  ['x is sucess', 5, "unknown test 'sucess'"],
  ['x | lenght', 4, "unknown filter 'lenght'"],
  ["'abc", 0, 'unterminated string'],
  ['x $ y', 2, 'unexpected character "$"'],
  ['009', 0, "invalid number '009'"],
  ["'\\x4'", 1, 'truncated \\x escape'],
  ['x | default(1, 2, 3)', 4, "filter 'default' takes at most 2 arguments (3 given)"],
  ['x | int(bse=16)', 4, "filter 'int' got an unexpected keyword argument 'bse'"],
  ['x | default(a=1, 2)', 17, 'positional argument follows keyword argument'],
  ['x | regex_search', 4, "filter 'regex_search' is missing required argument 'regex'"],
  ['x is version', 5, "test 'version' is missing required argument 'version'"],
  ["x is match('(')", 11, 'bad regular expression "("'],
  ["x | regex_replace('[a-')", 18, 'bad regular expression'],
  ["x is search('(?i:a)')", 12, 'inline flags are only supported at the start'],
  ["x is search('(?x) a')", 12, 'verbose mode (?x) is not supported'],
  ["x is search('a++')", 12, 'possessive quantifiers are not supported'],
  ["x is search('(?>a)')", 12, 'atomic groups'],
  ["x | regex_search(regex='[')", 23, 'unterminated character set'],
  ["x.constructor('a')", 2, "unknown method 'constructor'"],
  ['x()', 1, 'only methods such as .startswith() can be called'],
  ['x.', 2, "expected an attribute name after '.', got end of expression"],
  ['x is defined is string', 13, 'tests cannot be chained with is'],
  ['x |', 3, 'expected a filter name, got end of expression'],
  ['{{ a == ) }}', 8, "unexpected ')' in `{{ a == ) }}`"],
  ["x == '{{ y }}' and {% if %}", 20, "unexpected '%' in `x == '{{ y }}' and {% if %}` (write the expression without {{ }}"],
  ['{{ a }} == {{ b }}', 5, "unexpected '}' in `{{ a }} == {{ b }}` (write the expression without {{ }}"],
  ['', 0, 'empty expression'],
  ['{{ }}', 3, 'empty expression'],
];

describe('expressions: syntax errors', () => {
  it.each(SYNTAX_ERRORS)('%s', (src, offset, message) => {
    let caught: unknown;
    try {
      parseExpression(src, LOC);
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(InputError);
    expect(caught).toBeInstanceOf(ExprSyntaxError);
    const e = caught as ExprSyntaxError;
    expect(e.offset).toBe(offset);
    expect(e.loc).toEqual({ file: 'play.yml', line: 3, col: LOC.col + offset });
    expect(e.reason).toContain(message);
    expect(e.message.startsWith(`play.yml:3:${LOC.col + offset}: bad expression: `)).toBe(true);
  });

  it('gives the exact message of the example', () => {
    try {
      parseExpression('a == )', { file: 'f.yml', line: 1, col: 1 });
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(InputError);
      expect((e as InputError).message).toBe("f.yml:1:6: bad expression: unexpected ')' in `a == )`");
      expect((e as InputError).loc).toEqual({ file: 'f.yml', line: 1, col: 6 });
    }
  });

  it('without a location, throws an InputError with no loc', () => {
    try {
      parseExpression('a ==');
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(InputError);
      expect((e as InputError).loc).toBeUndefined();
      expect((e as InputError).message).toBe('bad expression: unexpected end of expression in `a ==`');
    }
  });

  it('on several lines, keeps the location and names the line and column in the expression', () => {
    try {
      parseExpression('a ==\n  )', LOC);
      expect.unreachable();
    } catch (e) {
      expect((e as InputError).loc).toEqual(LOC);
      expect((e as InputError).reason).toBe("bad expression: unexpected ')' in `a ==   )` (line 2, column 3 of the expression)");
    }
  });
});

describe('expressions: hostile input', () => {
  const vars = () => ({ ...sampleVars(), obj: {}, fn: () => 1, date: new Date(0), proxied: {} });

  it.each([
    '__proto__',
    'constructor',
    'toString',
    'obj.constructor',
    'obj.__proto__',
    "obj['constructor']",
    "obj['__proto__']",
    'obj.hasOwnProperty',
    'text.constructor',
    'text.length',
    'items.constructor',
    'items.length',
    "items['length']",
    'n.constructor',
    'fn.call',
    'fn.name',
    'date.getTime',
    'mapping.toString',
    "{}['constructor']",
    "''.constructor",
    '[].constructor',
  ])('%s reaches nothing', (src) => {
    expect(run(`${src} is defined`, vars())).toBe(false);
    expect(() => run(src, vars())).toThrow(UndefinedError);
  });

  it.each([
    "x.constructor.constructor('return process')()",
    "x.constructor.constructor('return process')",
    "''.constructor.constructor('return 1')",
    "obj.__defineGetter__('a', 1)",
    "obj.hasOwnProperty('a')",
    "obj.valueOf()",
    "text.at(0)",
    'x | constructor',
    'x | __proto__',
    'x | toString',
    'x is constructor',
    'x is __proto__',
    "items | map('constructor')",
  ])('%s is refused', (src) => {
    let caught: unknown;
    try {
      run(src, vars());
    } catch (e) {
      caught = e;
    }
    // refused at parse time (unknown method / filter / test), or at run time by the whitelist
    expect(caught instanceof ExprSyntaxError || caught instanceof ExprEvalError).toBe(true);
  });

  it('the evaluator refuses non-whitelisted names even in a hand-made tree', () => {
    const x: Expr = { kind: 'name', name: 'obj' };
    const call: Expr = { kind: 'call', object: x, method: 'constructor', args: [], kwargs: [] };
    expect(() => evaluate(call, vars())).toThrow(ExprEvalError);
    const filt: Expr = { kind: 'filter', operand: x, name: 'constructor', args: [], kwargs: [] };
    expect(() => evaluate(filt, vars())).toThrow(ExprEvalError);
    const test: Expr = { kind: 'test', operand: x, name: 'hasOwnProperty', negated: false, args: [], kwargs: [] };
    expect(() => evaluate(test, vars())).toThrow(ExprEvalError);
  });

  it("a '__proto__' key in a dict literal is a plain key and pollutes nothing", () => {
    const v = run("{'__proto__': {'polluted': 1}}") as Record<string, unknown>;
    expect(Object.getPrototypeOf(v)).toBe(Object.prototype);
    expect(Object.keys(v)).toEqual(['__proto__']);
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
    expect(run("{'__proto__': {'polluted': 1}}['__proto__'].polluted")).toBe(1);
  });

  it('own __proto__ keys of parsed data are data, and nothing else is', () => {
    const data = JSON.parse('{"__proto__": {"a": 1}}') as unknown;
    expect(run('d.__proto__.a', { d: data })).toBe(1);
    expect(run("'{\"__proto__\": {\"a\": 2}}' | from_json | list")).toEqual(['__proto__']);
  });

  it('reads getters and proxies of plain data (hostvars views)', () => {
    const hv: Record<string, unknown> = {};
    Object.defineProperty(hv, 'h1', { enumerable: true, get: () => ({ x: 1 }) });
    const lazy = new Proxy({ a: 'raw' } as Record<string, unknown>, {
      get: (t, k) => (typeof k === 'string' && Object.prototype.hasOwnProperty.call(t, k) ? 'rendered' : undefined),
      getOwnPropertyDescriptor: (t, k) => (typeof k === 'string' && Object.prototype.hasOwnProperty.call(t, k) ? { value: 'rendered', writable: false, enumerable: true, configurable: true } : undefined),
    });
    expect(run("hostvars['h1'].x", { hostvars: hv })).toBe(1);
    expect(run('a', lazy)).toBe('rendered');
    expect(run('b is defined', lazy)).toBe(false);
    expect(run('v.a ~ v.b | default("-")', { v: lazy })).toBe('rendered-');
  });

  it('a JS undefined stored in the data counts as absent', () => {
    expect(run('r.msg is defined', { r: { msg: undefined } })).toBe(false);
    expect(run('m is defined', { m: undefined })).toBe(false);
  });
});

describe('expressions: nesting is bounded', () => {
  it.each([
    ['parentheses', '('.repeat(101) + 'x' + ')'.repeat(101)],
    ['100000 parentheses', '('.repeat(100_000) + 'x' + ')'.repeat(100_000)],
    ['lists', '['.repeat(150) + ']'.repeat(150)],
    ['dicts', "{'a': ".repeat(150) + '1' + '}'.repeat(150)],
    ['not', 'not '.repeat(200) + 'x'],
    ['unary minus', '-'.repeat(5000) + '1'],
    ['a long or chain', 'a' + ' or a'.repeat(500)],
    ['a long filter chain', 'x' + ' | length'.repeat(500)],
    ['a long attribute chain', 'x' + '.a'.repeat(500)],
    ['nested calls', "x.strip(".repeat(150) + ')'.repeat(150)],
  ])('%s', (_, src) => {
    expect(() => parseExpression(src, LOC)).toThrow(/nested too deeply \(more than 100 levels\)/);
  });

  it('accepts up to 100 levels', () => {
    expect(run('('.repeat(100) + 'n' + ')'.repeat(100))).toBe(5);
    expect(run('['.repeat(100) + ']'.repeat(100))).toEqual(JSON.parse('['.repeat(100) + ']'.repeat(100)));
    expect(run('not '.repeat(100) + 'n')).toBe(true);
    expect(() => parseExpression('not '.repeat(101) + 'n')).toThrow(/nested too deeply/);
    expect(run('n' + ' + 1'.repeat(100))).toBe(105);
    expect(() => parseExpression('n' + ' + 1'.repeat(101))).toThrow(/nested too deeply/);
  });
});

describe('referencedNames', () => {
  it('lists root names in order of first use', () => {
    const e = parseExpression("hostvars[inventory_hostname].x is defined and result.rc == 0 or y | default(z) or result.stdout.startswith(p) or 'lit' in [q]");
    expect(referencedNames(e)).toEqual(['hostvars', 'inventory_hostname', 'result', 'y', 'z', 'p', 'q']);
  });
  it('is empty for constants and ignores attribute names', () => {
    expect(referencedNames(parseExpression("'a' in 'abc' and true"))).toEqual([]);
    expect(referencedNames(parseExpression('a.b.c[d]'))).toEqual(['a', 'd']);
    expect(referencedNames(parseExpression("x if c else users | map(attribute='name')"))).toEqual(['x', 'c', 'users']);
  });
});

describe('formatExpression', () => {
  it.each([
    ['not a == b', 'not a == b'],
    ['not (a == b)', 'not a == b'],
    ['(not a) == b', '(not a) == b'],
    ['a or b and c', 'a or b and c'],
    ['(a or b) and c', '(a or b) and c'],
    ['x|length>2', 'x | length > 2'],
    ['(x|length)>2', 'x | length > 2'],
    ["result['rc']", "result['rc']"],
    ['items.0', 'items[0]'],
    ['-(x | abs)', '-(x | abs)'],
    ['-x | abs', '-x | abs'],
    ['{{ x }}', 'x'],
    ['x is not defined', 'x is not defined'],
    ['x is divisibleby 3', 'x is divisibleby(3)'],
    ['a if b else c', 'a if b else c'],
    ['(a if b else c) if d else e', '(a if b else c) if d else e'],
    ['"it\'s"', '"it\'s"'],
    ["'a\\nb'", "'a\\nb'"],
    ['TRUE_ if True else None', 'TRUE_ if true else none'],
    ['1 - (2 - 3)', '1 - (2 - 3)'],
    ['(1 - 2) - 3', '1 - 2 - 3'],
    ['2 ** (3 ** 2)', '2 ** (3 ** 2)'],
    ["x.split(',', maxsplit=1)", "x.split(',', maxsplit=1)"],
    ['items[1:]', 'items[1:]'],
    ['items[::-1]', 'items[::-1]'],
    ["('a',)", "('a',)"],
    ["{'a': [1, 2.5]}", "{'a': [1, 2.5]}"],
    ["a ~ (b | default('x'))", "a ~ b | default('x')"],
    ['(a ~ b) | lower', '(a ~ b) | lower'],
  ])('%s -> %s', (src, canonical) => {
    expect(formatExpression(parseExpression(src))).toBe(canonical);
  });

  it('trees are plain data', () => {
    const tree = parseExpression("hostvars[h].x | default(1) is number and y.split(',') or -z[1:2] if w else {'k': (1,)}");
    expect(JSON.parse(JSON.stringify(tree))).toEqual(tree);
  });

  it('parses back to the same tree for every case of the table', () => {
    for (const [src] of [...CASES, ...EVAL_ERRORS]) {
      const tree = parseExpression(src);
      expect(parseExpression(formatExpression(tree)), src).toEqual(tree);
    }
  });
});
