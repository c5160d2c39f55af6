import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { TemplateError, type SourceLoc } from '../errors.js';
import { locOf, parseYaml, VaultText } from '../yamlsrc.js';
import {
  checkTemplate,
  checkTemplateText,
  referencedVariables,
  renderDeep,
  renderString,
  renderTemplateFile,
  scalarPosition,
  setupOnce,
} from './template.js';

const tmp = mkdtempSync(join(tmpdir(), 'underlay-template-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const vars: Record<string, unknown> = {
  pod_subnet: '10.244.0.0/16',
  result: { stdout_lines: ['a', 'b'], rc: 0 },
  mtu: 1500,
  enabled: true,
  nothing: null,
  empty: '',
  empty_list: [],
  empty_map: {},
  items: [
    { name: 'eth0', vlan: 10 },
    { name: 'eth1', vlan: 20 },
  ],
  html: `<a href="x">&'</a>`,
  nested: { deep: { er: 'value' } },
};

function fail(f: () => unknown): TemplateError {
  try {
    f();
  } catch (e) {
    if (e instanceof TemplateError) return e;
    throw e;
  }
  throw new Error('expected a TemplateError');
}

const render = (t: string, v: Record<string, unknown> = vars): unknown => renderString(t, v);

describe('renderString: values', () => {
  it('returns strings without {{ unchanged', () => {
    for (const s of ['', 'plain', '{% if x %}', '{ {x} }', 'a } b {', '\\{']) expect(render(s)).toBe(s);
  });

  it('a lone mustache gives the native value', () => {
    expect(render('{{ pod_subnet }}')).toBe('10.244.0.0/16');
    expect(render('{{ result.stdout_lines }}')).toEqual(['a', 'b']);
    expect(render('{{result}}')).toEqual({ stdout_lines: ['a', 'b'], rc: 0 });
    expect(render('{{   mtu   }}')).toBe(1500);
    expect(render('{{ enabled }}')).toBe(true);
    expect(render('{{ nothing }}')).toBe(null);
    expect(render('{{{ items.[1].name }}}')).toBe('eth1');
    expect(render('{{~ mtu ~}}')).toBe(1500);
    expect(render('{{ default missing (lookup result "stdout_lines") }}')).toEqual(['a', 'b']);
    expect(render('{{ prefix pod_subnet }}')).toBe(16);
    expect(render('{{ 42 }}')).toBe(42);
    expect(render('{{ "text" }}')).toBe('text');
  });

  it('the native value is the variable itself, not a copy', () => {
    expect(render('{{ result }}')).toBe(vars['result']);
  });

  it('anything else renders to a string', () => {
    expect(render(' {{ mtu }}')).toBe(' 1500');
    expect(render('{{ mtu }}{{ mtu }}')).toBe('15001500');
    expect(render('mtu={{mtu}} ok={{enabled}}')).toBe('mtu=1500 ok=true');
    expect(render('[{{ nothing }}]')).toBe('[]');
    expect(render('lines: {{ result.stdout_lines }}')).toBe('lines: ["a","b"]');
    expect(render('{{#if enabled}}{{mtu}}{{/if}}')).toBe('1500');
  });

  it('never escapes HTML', () => {
    expect(render('x {{ html }}')).toBe(`x <a href="x">&'</a>`);
    expect(render('{{ html }}')).toBe(`<a href="x">&'</a>`);
  });

  it('literal braces: backslash and raw blocks', () => {
    expect(render('\\{{ mtu }} {{ mtu }}')).toBe('{{ mtu }} 1500');
    expect(render(`docker ps --format '{{{{raw}}}}{{.Names}} {{json .}}{{{{/raw}}}}'`)).toBe(
      `docker ps --format '{{.Names}} {{json .}}'`,
    );
  });

  it('list items by index', () => {
    expect(render('{{ items.[0].name }}')).toBe('eth0');
    expect(render('{{ result.stdout_lines.length }}')).toBe(2);
    expect(render('{{ lookup items 1 }}')).toEqual({ name: 'eth1', vlan: 20 });
  });

  it('caches compiled templates without mixing values', () => {
    for (let i = 0; i < 5; i++) {
      expect(render('n={{ n }}', { n: i })).toBe(`n=${i}`);
      expect(render('{{ n }}', { n: i })).toBe(i);
    }
  });

  it('works on a read-only Proxy of variables (lazily templated vars)', () => {
    const target: Record<string, unknown> = { a: 'x', b: { c: 1 } };
    const reads: string[] = [];
    const view = new Proxy(target, {
      get: (t, k) => (typeof k === 'string' && Object.hasOwn(t, k) ? (reads.push(k), t[k]) : undefined),
      getOwnPropertyDescriptor: (t, k) =>
        typeof k === 'string' && Object.hasOwn(t, k) ? { value: t[k], writable: false, enumerable: true, configurable: true } : undefined,
    });
    expect(render('{{a}}-{{b.c}}', view)).toBe('x-1');
    expect(reads).toContain('a');
    expect(fail(() => render('{{zz}}', view)).reason).toBe(`undefined variable 'zz' in "{{zz}}"`);
  });
});

describe('undefined variables', () => {
  it('are errors naming the variable', () => {
    expect(fail(() => render('{{ pod_subnett }}')).message).toBe(`undefined variable 'pod_subnett' in "{{ pod_subnett }}"`);
    expect(fail(() => render('x {{ result.stdout }}')).reason).toBe(
      `undefined variable 'result.stdout' ('result' has no key 'stdout') in "x {{ result.stdout }}"`,
    );
    expect(fail(() => render('{{ nested.deep.er.x }}')).reason).toMatch(/'nested\.deep\.er' is a string/);
    expect(fail(() => render('{{ nothing.x }}')).reason).toMatch(/'nothing' is null/);
    expect(fail(() => render('{{ items.[5] }}')).reason).toMatch(/'items' has no key '5'/);
    expect(fail(() => render('{{ lookup result "nope" }}')).reason).toMatch(/lookup: no key 'nope' in a mapping/);
  });

  it('are errors as helper arguments, at the argument', () => {
    const e = fail(() => renderString('{{ netmask subnet }}', vars, { file: '/nonexistent/x.yml', line: 4, col: 10 }));
    // file unreadable: assumed quoted, so col = 10 + 1 + offset of `subnet` (11)
    expect(e.message).toBe(`/nonexistent/x.yml:4:22: undefined variable 'subnet' in "{{ netmask subnet }}"`);
    expect(fail(() => render('{{ join (default a b) "," }}')).reason).toMatch(/^undefined variable 'b'/);
  });

  it('are errors in #if, #unless, #each and #with', () => {
    for (const t of ['{{#if maybe}}x{{/if}}', '{{#unless maybe}}x{{/unless}}', '{{#each maybe}}x{{/each}}', '{{#with maybe}}x{{/with}}']) {
      expect(fail(() => render(t)).reason, t).toMatch(/^undefined variable 'maybe'/);
    }
    expect(fail(() => render('{{#if enabled}}{{else if maybe}}{{/if}}', { enabled: false })).reason).toMatch(/'maybe'/);
  });

  it('default and defined accept them', () => {
    expect(render('{{ default maybe "fb" }}')).toBe('fb');
    expect(render('{{ default maybe.deeper.still "fb" }}')).toBe('fb');
    expect(render('{{ default mtu 9000 }}')).toBe(1500);
    expect(render('{{ default empty "fb" }}')).toBe('');
    expect(render('{{ default empty "fb" true }}')).toBe('fb');
    expect(render('{{#if (defined "maybe")}}yes{{else}}no{{/if}}')).toBe('no');
    expect(render('{{#if (defined "nested.deep.er")}}yes{{else}}no{{/if}}')).toBe('yes');
    expect(render('{{#if (defined "nested.deep.nope")}}yes{{else}}no{{/if}}')).toBe('no');
    expect(render('{{#if (defined maybe)}}yes{{else}}no{{/if}}')).toBe('no');
    expect(render('{{#if (defined nothing)}}yes{{else}}no{{/if}}')).toBe('yes');
    expect(render('{{#if (or (defined "maybe") enabled)}}on{{/if}}')).toBe('on');
    expect(render('{{#if (and (defined "maybe") maybe)}}on{{else}}off{{/if}}')).toBe('off');
  });

  it('a fallback that is itself undefined is an error when used', () => {
    expect(fail(() => render('{{ default a b }}')).reason).toMatch(/^undefined variable 'b'/);
    expect(render('{{ default mtu b }}')).toBe(1500);
  });

  it('defined takes a variable name', () => {
    expect(fail(() => checkTemplate('{{#if (defined "not a name!")}}{{/if}}')).reason).toMatch(/defined expects a variable name/);
  });
});

describe('blocks', () => {
  it('#if uses Jinja truthiness', () => {
    const t = (v: unknown): unknown => render('{{#if v}}T{{else}}F{{/if}}', { v });
    expect([0, '', null, [], {}, false].map(t)).toEqual(['F', 'F', 'F', 'F', 'F', 'F']);
    expect([1, 'x', [0], { a: 1 }, true, 'false'].map(t)).toEqual(['T', 'T', 'T', 'T', 'T', 'T']);
    expect(render('{{#unless empty_map}}none{{/unless}}')).toBe('none');
  });

  it('#each with the item as context, block params, @index, @root and ../', () => {
    expect(render('{{#each items}}{{name}}.{{vlan}} {{/each}}')).toBe('eth0.10 eth1.20 ');
    expect(render('{{#each items as |it i|}}{{i}}:{{it.name}}/{{@index}}/{{@root.mtu}}/{{../mtu}};{{/each}}')).toBe(
      '0:eth0/0/1500/1500;1:eth1/1/1500/1500;',
    );
    expect(render('{{#each result.stdout_lines}}[{{this}}]{{/each}}')).toBe('[a][b]');
    expect(render('{{#each empty_list}}x{{else}}none{{/each}}')).toBe('none');
    expect(render('{{#each nested.deep}}{{@key}}={{this}}{{/each}}')).toBe('er=value');
    expect(render('{{#with nested.deep}}{{er}}{{/with}}')).toBe('value');
    expect(render('{{#with nested.deep as |d|}}{{d.er}}{{/with}}')).toBe('value');
  });

  it('inside #each, a play variable is not found on the item', () => {
    const e = fail(() => render('{{#each items}}{{mtu}}{{/each}}'));
    expect(e.reason).toBe(`undefined variable 'mtu' in "{{#each items}}{{mtu}}{{/each}}"`);
    expect(fail(() => render('{{#each result.stdout_lines}}{{x}}{{/each}}')).reason).toMatch(/'x' \(the current context is a string\)/);
  });
});

describe('helpers in templates', () => {
  it('network helpers', () => {
    expect(render('ip addr add {{ host_cidr pod_subnet 1 }} dev br0')).toBe('ip addr add 10.244.0.1/16 dev br0');
    expect(render('{{netmask "192.168.1.0/29"}} {{first_host "192.168.1.0/29"}}-{{last_host "192.168.1.0/29"}}')).toBe(
      '255.255.255.248 192.168.1.1-192.168.1.6',
    );
    expect(render('{{#if (cidr_contains pod_subnet "10.244.3.4")}}in{{/if}}')).toBe('in');
    expect(render('{{ nth_host pod_subnet -2 }}')).toBe('10.244.255.254');
  });

  it('the same template rendered again and again: its helpers and blocks each time (Handlebars sets it up once)', () => {
    for (const [x, want] of [
      ['MiXeD', 'mixed:yes'],
      ['Other', 'other:yes'],
      ['', ':no'],
    ] as const) {
      expect(render('{{ lower x }}:{{#if x}}yes{{else}}no{{/if}}', { x })).toBe(want);
    }
  });

  it("Handlebars' set-up of a template runs at its first call only, unless a call brings its own helpers or partials", () => {
    let setups = 0;
    const fn = Object.assign((() => '') as unknown as Parameters<typeof setupOnce>[0], { _setup: () => void setups++ });
    const f = setupOnce(fn) as unknown as { _setup: (o: Record<string, unknown>) => void };
    f._setup({ data: {} });
    f._setup({ data: {} });
    f._setup({});
    expect(setups).toBe(1);
    f._setup({ helpers: { x: () => 1 } });
    f._setup({ partial: true });
    expect(setups).toBe(3);
    // after a call of its own kind, the next plain call is set up again
    f._setup({ data: {} });
    f._setup({ data: {} });
    expect(setups).toBe(4);
  });

  it('nesting, quoting, json', () => {
    expect(render('{{ join (lookup result "stdout_lines") ", " }}')).toBe('a, b');
    expect(render(`echo {{ quote html }}`)).toBe(`echo '<a href="x">&'\\''</a>'`);
    expect(render('{{ json items.[0] }}')).toBe('{"name":"eth0","vlan":10}');
    expect(render('{{ upper (lower "MiXeD") }}')).toBe('MIXED');
    expect(render('{{#if (eq mtu 1500)}}std{{/if}}{{#if (ne mtu 1500)}}jumbo{{/if}}')).toBe('std');
    expect(render('{{#if (not (eq (length items) 3))}}two{{/if}}')).toBe('two');
  });

  it('a failing helper is an error at the helper, naming it', () => {
    const e = fail(() => renderString('x {{ netmask "10.0.0.0/40" }}', vars, { file: '/nonexistent/y.yml', line: 2, col: 3 }));
    expect(e.message).toBe(
      `/nonexistent/y.yml:2:9: netmask: invalid IP network (CIDR): the prefix length must be 0..32: "10.0.0.0/40" in "x {{ netmask \\"10.0.0.0/40\\" }}"`,
    );
    expect(fail(() => render('{{ join mtu "," }}')).reason).toMatch(/^join: join expects a list, got integer/);
  });
});

describe('checks before running', () => {
  const bad: [string, RegExp][] = [
    ['{{ nth_host pod_subnet }}', /nth_host takes 2 arguments, got 1: \{\{nth_host "10\.0\.0\.0\/24" 5\}\}/],
    ['{{ netmask }}x', /^undefined variable 'netmask'/], // a bare name is a variable, never a helper
    ['{{ frobnicate x }}', /unknown helper 'frobnicate' \(helpers: and, broadcast,/],
    ['{{ x.y z }}', /unknown helper 'x\.y'/],
    ['{{ json x indent=2 }}', /json takes no named arguments/],
    ['{{ if x }}', /if is a block helper: write \{\{#if \.\.\.\}\}/],
    ['{{#join xs}}{{/join}}', /unknown block helper 'join'/],
    ['{{#items}}x{{/items}}', /unknown block helper 'items'.*\{\{#each items\}\}/],
    ['{{#if a b}}x{{/if}}', /#if takes one argument, got 2/],
    ['{{#if a as |x|}}x{{/if}}', /#if takes no block params/],
    ['{{#each xs as |a b c|}}x{{/each}}', /#each takes at most 2 block params/],
    ['{{> partial }}', /partials .* are not supported/],
    ['{{#> layout }}x{{/layout}}', /partials .* are not supported/],
    ['{{* deco }}', /decorators .* are not supported/],
    ['{{#*inline "p"}}x{{/inline}}', /decorators .* are not supported/],
    ['{{[ get] this "x" "" 1 1 "constructor"}}', /unknown helper ' get'/],
    ['{{log "x"}}', /unknown helper 'log'/],
    ['{{ x | default("y") }}', /template syntax error: unexpected "\|"; filters are helpers here/],
    ['{{ items.0 }}', /unexpected "0"; index a list as items\.\[0\]/],
    ['{{ foo }', /template syntax error: unexpected "}"/],
    ['{{ foo', /'\{\{' is not closed by '\}\}'/],
    ['a {{ b }} {{ c', /'\{\{' is not closed by '\}\}'/],
    ['{{#if x}}y', /unexpected end of template/],
    ['{{#if x}}y{{/each}}', /template error: if doesn't match each/],
    ['{{ foo/../bar }}', /template error: Invalid path: foo\/\.\./],
  ];
  for (const [t, re] of bad) {
    it(`rejects ${t}`, () => {
      const f = (): void => {
        checkTemplate(t, { file: '/nonexistent/p.yml', line: 1, col: 1 });
        // `{{ netmask }}` passes the check (a variable) and fails when rendered
        render(t, {});
      };
      expect(fail(f).reason).toMatch(re);
    });
  }

  it('accepts good templates without evaluating them', () => {
    for (const t of [
      '{{ anything.at.all }}',
      '{{#each xs as |x i|}}{{x.y}}{{i}}{{@index}}{{/each}}',
      '{{#if (and (defined "a") (eq a 1))}}{{else if b}}{{else}}{{/if}}',
      '{{ default (lookup m k) (nth_host c 1) }}',
      '{{{{raw}}}}{{ not parsed }}{{{{/raw}}}}',
      'no template at all',
    ]) {
      expect(() => checkTemplate(t), t).not.toThrow();
    }
  });

  it('points syntax errors at the offending token', () => {
    const e = fail(() => checkTemplate('abc {{ foo }', { file: '/nonexistent/p.yml', line: 7, col: 9 }));
    // `}` at offset 11; the unreadable file is assumed to be quoted: 9 + 1 + 11
    expect(e.loc).toEqual({ file: '/nonexistent/p.yml', line: 7, col: 21 });
    expect(e.message).toBe(`/nonexistent/p.yml:7:21: template syntax error: unexpected "}" in "abc {{ foo }"`);
  });

  it('without a location the message has none', () => {
    const e = fail(() => render('{{ missing }}'));
    expect(e.loc).toBeUndefined();
    expect(e.message).toBe(`undefined variable 'missing' in "{{ missing }}"`);
  });
});

describe('hostile templates', () => {
  it('cannot reach prototypes or functions', () => {
    for (const t of [
      '{{ constructor }}',
      '{{ __proto__ }}',
      '{{ toString }}',
      '{{ hasOwnProperty }}',
      '{{ constructor.constructor }}',
      '{{ pod_subnet.constructor }}',
      '{{ items.constructor }}',
      '{{ result.__proto__.polluted }}',
      '{{ lookup this "constructor" }}',
      '{{ lookup result "__proto__" }}',
      '{{#with __proto__}}x{{/with}}',
      '{{#each constructor}}x{{/each}}',
      '{{ @root.constructor }}',
      '{{ items.[-1] }}',
    ]) {
      expect(fail(() => render(t)).reason, t).toMatch(/undefined variable|lookup: no key/);
    }
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
  });

  it('does not execute values as templates, or shell', () => {
    const v = { evil: '{{ constructor.constructor "return process" }}', sh: '$(rm -rf /)' };
    expect(render('{{ evil }}', v)).toBe(v.evil);
    expect(render('x {{ evil }}', v)).toBe(`x ${v.evil}`);
    expect(render('echo {{ quote sh }}', v)).toBe(`echo '$(rm -rf /)'`);
  });

  it('refuses to print a vault value that was not decrypted', () => {
    const v = { secret: new VaultText('$ANSIBLE_VAULT;1.1;AES256\n00', undefined) };
    expect(fail(() => render('pw={{ secret }}', v)).reason).toMatch(/a vault-encrypted value was not decrypted/);
    expect(fail(() => render('{{ json secret }}', v)).reason).toMatch(/a vault-encrypted value was not decrypted/);
  });

  it('handles large and deeply nested templates', () => {
    const big = Array.from({ length: 3000 }, (_, i) => `{{ v${i % 10} }}`).join(',');
    const v = Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`v${i}`, i]));
    expect((render(big, v) as string).split(',').length).toBe(3000);
    const deep = `${'{{#if t}}'.repeat(200)}ok${'{{/if}}'.repeat(200)}`;
    expect(render(deep, { t: true })).toBe('ok');
    const paren = `{{ ${'(lower '.repeat(100)}"X"${')'.repeat(100)} }}`;
    expect(() => render(paren)).toThrow(TemplateError); // `(lower (lower ...))` at top level is not valid syntax
    const nested = `{{ lower ${'(lower '.repeat(100)}"X"${')'.repeat(100)} }}`;
    expect(render(nested)).toBe('x');
  });
});

describe('positions in YAML files', () => {
  const yaml = [
    'dq: "addr {{ pod_subnett }}"', // 1
    "sq: 'addr {{ pod_subnett }}'", // 2
    'plain: addr {{ pod_subnett }}', // 3
    'block: |', // 4
    '  first line', // 5
    '    indented {{ pod_subnett }}', // 6
    'esc: "a\\tb {{ pod_subnett }}"', // 7
    'folded: >', // 8
    '  one', // 9
    '  two {{ pod_subnett }}', // 10
    'list:', // 11
    '  - ok {{ mtu }}', // 12
    '  - "{{ pod_subnett }}"', // 13
    'multi: "line one', // 14
    '  {{ pod_subnett }}"', // 15
  ].join('\n');
  const file = join(tmp, 'play.yml');
  writeFileSync(file, `${yaml}\n`);
  const doc = parseYaml(`${yaml}\n`, file) as Record<string, unknown>;
  const at = (key: string, owner: object = doc): SourceLoc | undefined => {
    const value = (owner as Record<string, unknown>)[key];
    const e = fail(() => renderDeep(value, vars, owner, key));
    expect(e.reason).toMatch(/^undefined variable 'pod_subnett'/);
    return e.loc;
  };

  it('double- and single-quoted: after the quote', () => {
    // the column of the variable itself: `p` of pod_subnett
    expect(at('dq')).toEqual({ file, line: 1, col: 14 });
    expect(at('sq')).toEqual({ file, line: 2, col: 14 });
  });

  it('plain scalar', () => {
    expect(at('plain')).toEqual({ file, line: 3, col: 16 });
  });

  it('literal block: the template line, at the block indentation', () => {
    expect(at('block')).toEqual({ file, line: 6, col: 17 });
  });

  it('escapes and folded or multi-line scalars: the start of the value', () => {
    expect(at('esc')).toEqual({ file, line: 7, col: 6 });
    expect(at('folded')).toEqual({ file, line: 8, col: 9 });
    expect(at('multi')).toEqual({ file, line: 14, col: 8 });
  });

  it('inside lists', () => {
    expect(at('list')).toEqual({ file, line: 13, col: 9 });
  });

  it('scalarPosition falls back when the text does not match', () => {
    const loc = { file, line: 1, col: 5 };
    // the template does not appear at loc: the value start is given
    expect(scalarPosition(loc, 'something else {{ x }}', 1, 15)).toEqual(loc);
  });
});

describe('renderDeep', () => {
  it('renders strings in lists and mappings into new values, keeping positions', () => {
    const doc = parseYaml('a: "{{ mtu }}"\nb:\n  - "{{ result.stdout_lines }}"\n  - x{{ mtu }}\n  - 5\nc: {d: "{{ enabled }}"}\n', 'd.yml') as Record<string, unknown>;
    const before = JSON.stringify(doc);
    const out = renderDeep(doc, vars) as Record<string, unknown>;
    expect(out).toEqual({ a: 1500, b: [['a', 'b'], 'x1500', 5], c: { d: true } });
    expect(JSON.stringify(doc)).toBe(before);
    expect(out).not.toBe(doc);
    expect(out['b']).not.toBe(doc['b']);
    expect(locOf(out, 'b')).toEqual(locOf(doc, 'b'));
    expect(locOf(out['b'], 1)).toEqual({ file: 'd.yml', line: 4, col: 5 });
  });

  it('keeps non-string values and vault values as they are', () => {
    const v = new VaultText('$ANSIBLE_VAULT;1.1;AES256\n00', undefined);
    const out = renderDeep({ v, n: 1, b: false, z: null }, vars) as Record<string, unknown>;
    expect(out['v']).toBe(v);
    expect(out).toEqual({ v, n: 1, b: false, z: null });
    expect(renderDeep('{{ mtu }}', vars)).toBe(1500);
  });
});

describe('template files', () => {
  it('renders to a string, even a lone mustache', () => {
    const f = join(tmp, 'list.j2');
    writeFileSync(f, '{{ result.stdout_lines }}');
    expect(renderTemplateFile(f, vars)).toBe('["a","b"]');
    const g = join(tmp, 'conf.j2');
    writeFileSync(g, '# managed\n{{#each items}}\nauto {{name}}\n{{/each}}\nmtu {{ mtu }}\n');
    expect(renderTemplateFile(g, vars)).toBe('# managed\nauto eth0\nauto eth1\nmtu 1500\n');
  });

  it('errors name the template file, line and column and the variable', () => {
    const f = join(tmp, 'bad.j2');
    writeFileSync(f, 'line one\n  address {{ pod_subnet }}\n  gateway {{ gatway }}\n');
    const e = fail(() => renderTemplateFile(f, vars));
    expect(e.loc).toEqual({ file: f, line: 3, col: 14 });
    expect(e.message).toBe(`${f}:3:14: undefined variable 'gatway' in "gateway {{ gatway }}"`);
    const g = join(tmp, 'syntax.j2');
    writeFileSync(g, 'ok\n{{#each items}}\n{{ name }\n');
    expect(fail(() => renderTemplateFile(g, vars)).loc).toEqual({ file: g, line: 3, col: 9 });
    expect(fail(() => checkTemplateText('a\n{{ x | lower }}', 't.j2')).loc).toEqual({ file: 't.j2', line: 2, col: 6 });
  });

  it('a missing file is a TemplateError naming it', () => {
    expect(fail(() => renderTemplateFile(join(tmp, 'nope.j2'), vars)).message).toMatch(/cannot read template .*nope\.j2: ENOENT/);
  });
});

describe('referencedVariables', () => {
  it('lists root variables, not helpers, data, block params or item fields', () => {
    expect(
      referencedVariables(
        '{{ a }} {{ b.c }} {{ netmask s }} {{ default d 1 }} {{#if (defined "q")}}{{/if}} ' +
          '{{#each xs as |x i|}}{{x.y}}{{i}}{{name}}{{../top}}{{@root.r}}{{@index}}{{this}}{{/each}} ' +
          '{{#with w}}{{inner}}{{/with}} {{#if cond}}{{same_ctx}}{{/if}} {{ this.t }} {{ lookup m "k" }} {{ a }}',
      ),
    ).toEqual(['a', 'b', 's', 'xs', 'top', 'r', 'w', 'cond', 'same_ctx', 't', 'm']);
    expect(referencedVariables('no template')).toEqual([]);
    expect(referencedVariables('{{{{raw}}}}{{ hidden }}{{{{/raw}}}}')).toEqual([]);
  });

  it('throws a TemplateError on bad syntax', () => {
    expect(() => referencedVariables('{{ a | b }}')).toThrow(TemplateError);
  });
});
