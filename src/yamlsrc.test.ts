import { describe, expect, it } from 'vitest';
import { keyLocOf, locOf, parseYaml, VaultText } from './yamlsrc.js';

describe('parseYaml: YAML as Ansible (PyYAML, YAML 1.1) reads it', () => {
  it.each([
    ['yes', true], ['No', false], ['on', true], ['OFF', false], ['true', true], ['False', false],
    ['y', 'y'], ['n', 'n'], ['Y', 'Y'],
    ['0755', 0o755], ['0x1F', 31], ['1e3', '1e3'], ['1.5e+3', 1500], ['1.0', 1], ['~', null], ['null', null],
    ['192.168.1.0/29', '192.168.1.0/29'], ['.', '.'], ['1.', 1], ['.5', 0.5], ['-2.50', -2.5], ['.inf', Infinity], ['.nan', NaN], ['1_000', 1000],
  ])('%s', (text, expected) => {
    expect(parseYaml(`v: ${text}\n`, 'f.yml')).toEqual({ v: expected });
  });

  it('keeps a __proto__ key as data', () => {
    const v = parseYaml('__proto__: {polluted: 1}\n', 'f.yml') as Record<string, unknown>;
    expect(Object.keys(v)).toEqual(['__proto__']);
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
  });

  it('records positions of mappings, keys, values and list items', () => {
    const v = parseYaml('a:\n  b: 1\n  list:\n    - x\n    - "y"\n', 'f.yml') as { a: { b: number; list: string[] } };
    expect(locOf(v.a, 'b')).toEqual({ file: 'f.yml', line: 2, col: 6 });
    expect(keyLocOf(v.a, 'list')).toEqual({ file: 'f.yml', line: 3, col: 3 });
    expect(locOf(v.a.list, 1)).toEqual({ file: 'f.yml', line: 5, col: 7 });
  });

  it('merge keys and anchors', () => {
    expect(parseYaml('base: &b {x: 1, y: 2}\nd:\n  <<: *b\n  y: 3\n', 'f.yml')).toEqual({ base: { x: 1, y: 2 }, d: { x: 1, y: 3 } });
  });

  it('!vault values become VaultText; errors name file:line:col', () => {
    const v = parseYaml('s: !vault |\n  $ANSIBLE_VAULT;1.1;AES256\n  6162\n', 'f.yml') as { s: VaultText };
    expect(v.s).toBeInstanceOf(VaultText);
    expect(v.s.ciphertext).toBe('$ANSIBLE_VAULT;1.1;AES256\n6162\n');
    expect(() => parseYaml('a: 1\na: 2\n', 'dup.yml')).toThrow(/^dup\.yml:2:1: bad YAML: Map keys must be unique/);
  });
});
