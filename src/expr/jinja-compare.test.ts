/**
 * Differential test: the same expressions evaluated here and by the real thing, through a
 * python3 subprocess: Ansible's Templar when ansible-core is importable (Ansible's filters,
 * tests and undefined handling), else plain Jinja2 with a chained strict undefined (then
 * only the Jinja2-only cases run). Skipped, saying so, when neither is importable.
 */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { evaluate, parseExpression } from './index.js';

const VARS = {
  result: { changed: false, failed: false, rc: 0, stdout: 'ok\nbr-int', stderr: '', stdout_lines: ['ok', 'br-int'] },
  bridges: { changed: false, failed: false, rc: 0, stdout: 'br-ex\nbr-int', stderr: '', stdout_lines: ['br-ex', 'br-int'] },
  bad: { changed: true, failed: true, rc: 2, stdout: '', stderr: 'boom', stdout_lines: [], msg: 'non-zero return code' },
  skipped_result: { changed: false, skipped: true },
  loop_changed: { results: [{ item: 'a', changed: true }, { item: 'b', changed: false }] },
  inventory_hostname: 'h1',
  hostvars: { h1: { x: 42 }, h2: { x: 7 } },
  items: [1, 2, 3],
  names: ['b', 'A', 'c', 'a'],
  emptystr: '',
  nothing: null,
  flag: 'yes',
  off: 'off',
  t: true,
  f: false,
  n: 5,
  float_str: '3.7',
  text: '  Hello World  ',
  csv: 'a,b,,c',
  ver: '1.10.2',
  mapping: { a: 1, b: [1, 2], c: { d: 'deep' } },
  users: [
    { name: 'ann', uid: 1000, shell: '/bin/bash' },
    { name: 'bob', uid: 0, shell: '/bin/sh' },
    { name: 'cyd', uid: 1001 },
  ],
};

/** Expressions valid in plain Jinja2. */
const JINJA: string[] = [
  'result.rc == 0',
  "'br-int' in bridges.stdout",
  'not (x is defined)',
  'not n == 5',
  't or f and f',
  'f and f or t',
  'items | length > 2',
  '7 // 2',
  '-7 // 2',
  '-7 % 3',
  '7 % -3',
  '2 ** 3 ** 2',
  '-2 ** 2',
  "'abc' ~ 1 ~ none ~ t",
  'items[-1]',
  'items[::-1]',
  "'hello'[1:3]",
  'mapping.c.d',
  "mapping['b'][1]",
  'hostvars[inventory_hostname].x',
  'result.rcc is defined',
  'x.y.z is defined',
  "x | default('z')",
  "emptystr | default('e', true)",
  'emptystr or nothing',
  '1 < n <= 5',
  '1 == 1.0 and 1 == true',
  'items | string',
  'mapping.c | string',
  "['it\\'s', none] | string",
  "names | join(',')",
  "'abc' | list",
  'text | trim',
  "'xxhixx' | trim('x')",
  'float_str | int',
  "'abc' | int(7)",
  "'ff' | int(base=16)",
  'float_str | float',
  'names | sort',
  'names | sort(reverse=true)',
  'names | unique | list',
  'names | min',
  "users | selectattr('uid', 'eq', 0) | map(attribute='name') | list",
  "users | selectattr('shell', 'defined') | list | length",
  "names | map('upper') | list",
  "'yes' if f else 'no'",
  'n is divisibleby 5',
  'n is in items',
  't is number',
  "text.strip().startswith('Hello')",
  "'a,b,c'.rsplit(',', 1)",
  "' a  b '.split()",
  "mapping.get('zz', 9)",
  "'-'.join(names)",
  "'a\\tb'",
  "'\\d'",
  '(n > 3, 1)',
  // errors: both sides must fail
  'undefined_var == 1',
  'result.rcc == 0',
  'x.y.z | length',
  "'a' + 1",
  "'a' < 1",
];

/** Expressions that need Ansible's filters and tests. */
const ANSIBLE: string[] = [
  'flag | bool',
  'off | bool',
  "'TRUE' | bool",
  'result is changed',
  'bad is failed',
  'result is succeeded',
  'bad is success',
  'skipped_result is skipped',
  'loop_changed is changed',
  "result.stdout is match('ok')",
  "result.stdout is match('br')",
  "result.stdout is search('br-\\w+')",
  "result.stdout is search('^br', multiline=true)",
  "'ab\\n' is search('b$')",
  "ver is version('1.9', '>')",
  "ver is version('1.10.2', '==')",
  "csv | split(',')",
  "result.stdout | regex_search('br-\\w+')",
  "result.stdout | regex_search('(\\w+)-(\\w+)', '\\\\2')",
  "'a1b22' | regex_replace('\\d+', '#')",
  "'john smith' | regex_replace('(?P<first>\\w+) (?P<last>\\w+)', '\\\\g<last>, \\\\g<first>')",
  "'a1b22' | regex_findall('\\d+')",
  "names | select('match', '[a-z]') | list",
  "(n > 3) | ternary('big', 'small')",
  'mapping | to_json',
  '[1] is subset(items)',
  "{'a': 1} | dict2items",
  // Python regular expressions translated for JS
  "'a]' is search('[]a]+$')",
  "'Ab' is match('(?i)ab')",
  "'ab\\nc' is search('\\Ab')",
  "'ab\\n' is search('b\\Z')",
  "'a\\rb' is search('a.b')",
  "'a\\nb' is search('a.b')",
  "'a\\nb' is search('(?s)a.b')",
  "'x1' is search('(?#note)x\\d')",
  "'a\\nb\\n' | regex_findall('^\\w$', multiline=true)",
  "'a.b.c' | regex_replace('\\.', '\\\\0')",
];

const SCRIPT = String.raw`
import json, sys
req = json.load(sys.stdin)
try:
    from ansible.parsing.dataloader import DataLoader
    from ansible.template import Templar
    templar = Templar(loader=DataLoader(), variables=req['vars'])
    mode = 'ansible'
    def run(expr):
        out = templar.template('{{ (' + expr + ') | to_json }}', escape_backslashes=False)
        return json.loads(out) if isinstance(out, str) else out
except ImportError:
    import jinja2
    class ChainedStrictUndefined(jinja2.StrictUndefined):
        def __getattr__(self, name):
            if name[:2] == '__':
                raise AttributeError(name)
            return self
        def __getitem__(self, key):
            return self
    def to_json(v):
        if isinstance(v, jinja2.Undefined):
            v._fail_with_undefined_error()
        return json.dumps(v)
    env = jinja2.Environment(undefined=ChainedStrictUndefined)
    env.filters['to_json'] = to_json
    mode = 'jinja2'
    def run(expr):
        return json.loads(env.from_string('{{ (' + expr + ') | to_json }}').render(req['vars']))
results = []
for e in req['exprs']:
    try:
        results.append({'ok': run(e)})
    except Exception as ex:
        results.append({'error': type(ex).__name__ + ': ' + str(ex)})
print(json.dumps({'mode': mode, 'results': results}))
`;

type Outcome = { ok: unknown } | { error: string };

/** $UNDERLAY_TEST_PYTHON when set; else the first python3 that can import ansible, else the first that can import jinja2. */
function findPython(): { python: string; ansible: boolean } | undefined {
  const chosen = process.env['UNDERLAY_TEST_PYTHON'];
  const candidates = chosen ? [chosen] : ['python3', '/usr/bin/python3'];
  let jinjaOnly: string | undefined;
  for (const py of candidates) {
    const probe = spawnSync(py, ['-c', 'import jinja2\ntry:\n import ansible.template\n print("ansible")\nexcept ImportError:\n print("jinja2")'], {
      encoding: 'utf8',
      timeout: 30_000,
    });
    if (probe.status !== 0) continue;
    if (probe.stdout.trim() === 'ansible') return { python: py, ansible: true };
    jinjaOnly ??= py;
  }
  return jinjaOnly ? { python: jinjaOnly, ansible: false } : undefined;
}

function ours(src: string): Outcome {
  try {
    // through JSON, as the python side reports its values
    return { ok: JSON.parse(JSON.stringify(evaluate(parseExpression(src), VARS))) as unknown };
  } catch (e) {
    return { error: `${(e as Error).name}: ${(e as Error).message}` };
  }
}

const found = findPython();

describe.skipIf(!found)(`same results as ${found ? (found.ansible ? 'Ansible (Templar)' : 'Jinja2') : 'Jinja2 (skipped: no python3 can import jinja2)'}`, () => {
  const exprs = found?.ansible ? [...JINJA, ...ANSIBLE] : JINJA;
  let theirs: Outcome[] = [];

  it('runs the python side', () => {
    const run = spawnSync(found!.python, ['-c', SCRIPT], { input: JSON.stringify({ vars: VARS, exprs }), encoding: 'utf8', timeout: 120_000 });
    expect(run.status, run.stderr).toBe(0);
    const out = JSON.parse(run.stdout) as { mode: string; results: Outcome[] };
    expect(out.mode).toBe(found!.ansible ? 'ansible' : 'jinja2');
    theirs = out.results;
    expect(theirs).toHaveLength(exprs.length);
  });

  it('compares enough expressions', () => {
    expect(exprs.length).toBeGreaterThanOrEqual(30);
  });

  it.each(exprs.map((e, i) => [e, i] as const))('%s', (src, i) => {
    const t = theirs[i];
    if (t === undefined) throw new Error('the python side did not run');
    const o = ours(src);
    if ('error' in t) {
      expect(o, `python: ${t.error}`).toHaveProperty('error');
      if ('error' in o && /UndefinedError/.test(o.error)) {
        // the same undefined message as Ansible / Jinja2
        expect(t.error).toContain(o.error.replace(/^UndefinedError: /, ''));
      }
    } else {
      expect(o).toEqual({ ok: t.ok });
    }
  });
});
