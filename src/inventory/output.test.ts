import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PatternError } from '../errors.js';
import { graph, listJson, loadInventory } from './index.js';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function tree(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'underlay-inv-out-'));
  dirs.push(dir);
  for (const [p, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, p)), { recursive: true });
    writeFileSync(join(dir, p), text);
  }
  return dir;
}

const INV = `
all:
  vars: {site: x}
  children:
    web:
      vars: {ansible_group_priority: 2, port: 80}
      hosts:
        w1: {ansible_host: 10.0.0.1, tags: [a, b]}
      children:
        web_eu:
          hosts: {eu1: }
    db:
      hosts: {d1: {ok: true, none: null}}
    empty:
    shared_parent:
      children:
        web_eu:
`;

describe('listJson', () => {
  it('matches the shape ansible-inventory --list prints', () => {
    const dir = tree({ 'hosts.yml': INV, 'group_vars/db.yml': 'engine: pg\n' });
    expect(listJson(loadInventory([join(dir, 'hosts.yml')]))).toEqual({
      _meta: {
        hostvars: {
          w1: { ansible_host: '10.0.0.1', port: 80, site: 'x', tags: ['a', 'b'] },
          eu1: { port: 80, site: 'x' },
          d1: { engine: 'pg', none: null, ok: true, site: 'x' },
        },
      },
      // ungrouped is named among all's children though it is left out as empty; so is `empty`
      all: { children: ['ungrouped', 'web', 'db', 'empty', 'shared_parent'] },
      web: { hosts: ['w1'], children: ['web_eu'] },
      web_eu: { hosts: ['eu1'] },
      db: { hosts: ['d1'] },
      shared_parent: { children: ['web_eu'] },
    });
  });

  it('leaves hosts without variables out of _meta.hostvars, and internal variables out of all', () => {
    const dir = tree({ 'hosts': 'h\n[g]\nv inventory_dir=/x groups=1 x=1\n' });
    expect(listJson(loadInventory([join(dir, 'hosts')]))['_meta']).toEqual({ hostvars: { v: { x: 1 } } });
  });

  it('sorts keys as Ansible does', () => {
    const dir = tree({ 'hosts': '[zeta]\nh b=1 a=2\n[alpha]\nh\n' });
    const out = listJson(loadInventory([join(dir, 'hosts')]));
    expect(Object.keys(out)).toEqual(['_meta', 'all', 'alpha', 'zeta']);
    expect(Object.keys((out['_meta'] as { hostvars: Record<string, object> }).hostvars['h']!)).toEqual(['a', 'b']);
  });
});

describe('graph', () => {
  it('draws the tree as ansible-inventory --graph', () => {
    const dir = tree({ 'hosts.yml': INV });
    const inv = loadInventory([join(dir, 'hosts.yml')]);
    expect(graph(inv)).toBe(
      [
        '@all:',
        '  |--@ungrouped:',
        '  |--@web:',
        '  |  |--@web_eu:',
        '  |  |  |--eu1',
        '  |  |--w1',
        '  |--@db:',
        '  |  |--d1',
        '  |--@empty:',
        '  |--@shared_parent:',
        '  |  |--@web_eu:',
        '  |  |  |--eu1',
        '',
      ].join('\n'),
    );
  });

  it('adds variables with --vars, as Python prints them, with the group priority when not 1', () => {
    const dir = tree({ 'hosts.yml': INV });
    const inv = loadInventory([join(dir, 'hosts.yml')]);
    expect(graph(inv, { group: 'web', vars: true })).toBe(
      [
        '@web:',
        '  |--@web_eu:',
        '  |  |--eu1',
        '  |  |  |--{port = 80}',
        '  |  |  |--{site = x}',
        '  |--w1',
        '  |  |--{ansible_host = 10.0.0.1}',
        '  |  |--{port = 80}',
        '  |  |--{site = x}',
        "  |  |--{tags = ['a', 'b']}",
        '  |--{ansible_group_priority = 2}',
        '  |--{port = 80}',
        '',
      ].join('\n'),
    );
    expect(graph(inv, { group: 'db', vars: true })).toContain('  |  |--{none = None}\n  |  |--{ok = True}\n');
  });

  it('refuses a start that is not a group', () => {
    const dir = tree({ 'hosts.yml': INV });
    expect(() => graph(loadInventory([join(dir, 'hosts.yml')]), { group: 'w1' })).toThrow(PatternError);
  });
});
