import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { inputErrorsOf } from '../errors.js';
import { listJson, loadInventory } from './index.js';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function tree(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'underlay-inv-yaml-'));
  dirs.push(dir);
  for (const [p, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, p)), { recursive: true });
    writeFileSync(join(dir, p), text);
  }
  return dir;
}

function yaml(text: string, name = 'hosts.yml') {
  const dir = tree({ [name]: text });
  return loadInventory([join(dir, name)]);
}

function errorOf(text: string, name = 'e.yml'): string {
  const dir = tree({ [name]: text });
  const file = join(dir, name);
  try {
    loadInventory([file]);
  } catch (e) {
    const errs = inputErrorsOf(e);
    if (errs.length) return errs.map((x) => x.message.replaceAll(file, 'FILE')).join('\n');
    throw e;
  }
  throw new Error('expected an error');
}

describe('YAML inventory', () => {
  it('reads all: with vars, hosts and nested children', () => {
    const inv = yaml(`
all:
  vars: {env: lab}
  children:
    web:
      hosts:
        w1: {port: 80}
      children:
        web_eu:
          hosts: {eu1: }
`);
    expect(inv.hostNames()).toEqual(['w1', 'eu1']);
    expect(inv.groupsOf('eu1')).toEqual(['all', 'web', 'web_eu']);
    expect(inv.hostVars('eu1')['env']).toBe('lab');
    expect(inv.hostVars('w1')['port']).toBe(80);
  });

  it('takes any top-level group, and puts groups without parent under all', () => {
    const inv = yaml('db:\n  hosts: {d1: }\nweb:\n  hosts: {w1: }\n');
    expect(listJson(inv)['all']).toEqual({ children: ['ungrouped', 'db', 'web'] });
  });

  it('accepts a string for hosts, vars or children (a one-entry mapping)', () => {
    const inv = yaml('web:\n  hosts: w1\n  vars: flag\nparent:\n  children: web\n');
    expect(inv.groupsOf('w1')).toEqual(['all', 'parent', 'web']);
    expect(inv.hostVars('w1')).toHaveProperty('flag', null);
  });

  it('puts hosts listed directly under all into ungrouped', () => {
    const inv = yaml('all:\n  hosts:\n    lone:\n');
    expect(listJson(inv)).toMatchObject({ ungrouped: { hosts: ['lone'] } });
    expect(inv.groupsOf('lone')).toEqual(['all', 'ungrouped']);
  });

  it('expands ranges and ports in host keys', () => {
    const inv = yaml('web:\n  hosts:\n    web[1:3]:2222:\n      role: w\n');
    expect(inv.hostNames()).toEqual(['web1', 'web2', 'web3']);
    expect(inv.hostVars('web3')).toMatchObject({ role: 'w', ansible_port: 2222 });
  });

  it('processes sections in file order (children before hosts changes host order)', () => {
    const inv = yaml('web:\n  children:\n    sub:\n      hosts: {s1: }\n  hosts:\n    w1:\n');
    // host order follows the group tree, not the order of first definition
    expect(inv.hostNames()).toEqual(['w1', 's1']);
    expect(listJson(inv)['web']).toEqual({ hosts: ['w1'], children: ['sub'] });
  });

  it('merges a group that appears under two parents', () => {
    const inv = yaml('a:\n  children:\n    shared:\n      hosts: {h1: }\nb:\n  children:\n    shared:\n      hosts: {h2: }\n');
    expect(inv.hostsOfGroup('shared')).toEqual(['h1', 'h2']);
    expect(inv.groupsOf('h2')).toEqual(['all', 'a', 'b', 'shared']);
  });

  it('keeps ansible_group_priority out of the variables', () => {
    const inv = yaml('g:\n  vars: {ansible_group_priority: 3, x: 1}\n  hosts: {h: }\n');
    expect(inv.hostVars('h')).not.toHaveProperty('ansible_group_priority');
    expect(inv.data.groups.get('g')!.priority).toBe(3);
  });

  it('treats falsy host values as no variables, as Python does', () => {
    const inv = yaml('g:\n  hosts:\n    a: {}\n    b: []\n    c: ""\n    d: 0\n');
    expect(inv.hostNames()).toEqual(['a', 'b', 'c', 'd']);
  });

  it('reads JSON and extensionless YAML files', () => {
    const dir = tree({ 'inv.json': '{"g": {"hosts": {"j1": {"v": 1}}}}', 'noext': 'h:\n  hosts: {y1: }\n' });
    const inv = loadInventory([join(dir, 'inv.json'), join(dir, 'noext')]);
    expect(inv.hostNames()).toEqual(['j1', 'y1']);
    expect(inv.hostVars('j1')['v']).toBe(1);
  });

  it('reports structural errors at their place', () => {
    expect(errorOf('all:\n  children:\n    web:\n      hosst:\n        w1:\n')).toBe(
      `FILE:4:7: unexpected key 'hosst' in group 'web': only "vars", "children" and "hosts" are valid`,
    );
    expect(errorOf('web:\n  hosts:\n    - w1\n')).toBe(
      'FILE:3:5: Invalid "hosts" entry for "web" group, requires a dictionary, found list instead (write hosts as a mapping: `hosts: {web1: , web2: }`)',
    );
    expect(errorOf('web:\n  vars: [1]\n')).toBe('FILE:2:9: Invalid "vars" entry for "web" group, requires a dictionary, found list instead');
    expect(errorOf('all:\n  children:\n    web: 5\n')).toBe("FILE:3:10: group 'web' must be a mapping (with hosts, vars, children) or empty, got integer");
    expect(errorOf('web:\n  hosts:\n    w1: oops\n')).toBe("FILE:3:9: host 'w1' must have a mapping of variables (or nothing), got string");
    expect(errorOf('web:\n  hosts:\n    n[2:1]:\n')).toBe("FILE:3:5: bad host pattern 'n[2:1]': host range [2:1] has its begin above its end");
    expect(errorOf('plugin: aws_ec2\nregions: [x]\n')).toBe(
      'FILE:1:1: this is an inventory plugin configuration (it has a `plugin:` key); only YAML and INI inventories are supported',
    );
    expect(errorOf('g:\n  vars:\n    ansible_group_priority: x\n')).toBe(`FILE:3:29: ansible_group_priority of group 'g' must be an integer, got "x"`);
  });

  it('reports a cycle in children where the closing edge is written', () => {
    // children are read depth first: b -> a is made first, then a -> b closes the cycle
    expect(errorOf('a:\n  children:\n    b:\n      children:\n        a:\n')).toBe(
      "FILE:3:5: adding group 'b' as a child of 'a' makes a cycle: b -> a -> b",
    );
    expect(errorOf('p:\n  children:\n    q:\nq:\n  children:\n    p:\n')).toBe(
      "FILE:6:5: adding group 'p' as a child of 'q' makes a cycle: p -> q -> p",
    );
  });

  it('reports conflicting repeats in one file, and accepts equal ones', () => {
    expect(errorOf('a:\n  hosts:\n    h: {x: 1}\nb:\n  hosts:\n    h: {x: 2}\n')).toBe(
      "FILE:6:12: host 'h': variable 'x' is set again with a different value (first set at FILE:3:12)",
    );
    expect(errorOf('p:\n  children:\n    g: {vars: {x: [1]}}\nq:\n  children:\n    g: {vars: {x: [2]}}\n')).toBe(
      "FILE:6:19: group 'g': variable 'x' is set again with a different value (first set at FILE:3:19)",
    );
    const inv = yaml('a:\n  hosts:\n    h: {x: {k: [1]}}\nb:\n  hosts:\n    h: {x: {k: [1]}}\n');
    expect(inv.hostVars('h')['x']).toEqual({ k: [1] });
  });

  it('reports a name that is both a host and a group', () => {
    expect(errorOf('db:\n  hosts: {d1: }\nweb:\n  hosts:\n    db:\n')).toBe("FILE:5:5: 'db' is both a host and a group (the group is defined at FILE:1:1)");
  });
});
