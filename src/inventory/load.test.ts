import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { InputError } from '../errors.js';
import { loadInventory } from './index.js';
import { ignoredInDirectory } from './load.js';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function tree(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'underlay-inv-load-'));
  dirs.push(dir);
  for (const [p, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, p)), { recursive: true });
    writeFileSync(join(dir, p), text);
  }
  return dir;
}

describe('inventory sources', () => {
  it('reads a directory in name order, recursively, skipping what Ansible skips', () => {
    const dir = tree({
      'b.yml': 'g2:\n  hosts: {h2: }\n',
      'a': '[g1]\nh1\n',
      'sub/c.yaml': 'g3:\n  hosts: {h3: }\n',
      'skip.ini': '[x]\nini-host\n',
      'skip.md': 'x\n',
      'skip.txt': 'x\n',
      'skip.retry': 'x\n',
      'skip~': 'x\n',
      'skip.orig': 'x\n',
      '.hidden': 'x\n',
      'vars_plugins/x': 'x\n',
      'group_vars/g1.yml': 'gv: 1\n',
      'host_vars/h2.yml': 'hv: 2\n',
      'sub/group_vars/g3.yml': 'not_read: true\n',
    });
    const inv = loadInventory([dir]);
    expect(inv.groupNames()).toEqual(['all', 'ungrouped', 'g1', 'g2', 'g3']);
    expect(inv.hostNames()).toEqual(['h1', 'h2', 'h3']);
    expect(inv.hostVars('h1')['gv']).toBe(1);
    expect(inv.hostVars('h2')['hv']).toBe(2);
    expect(inv.hostVars('h3')).not.toHaveProperty('not_read');
  });

  it('knows the ignored names', () => {
    for (const n of ['x.ini', 'x.cfg', 'x.pyc', 'x~', '.x', 'group_vars', 'host_vars', 'x.bak', 'x.rst']) expect(ignoredInDirectory(n)).toBe(true);
    for (const n of ['hosts', 'x.yml', 'x.json', 'x.ini.yml', 'prod']) expect(ignoredInDirectory(n)).toBe(false);
  });

  it('reads an .ini file given directly', () => {
    const dir = tree({ 'x.ini': '[g]\nh\n' });
    expect(loadInventory([join(dir, 'x.ini')]).hostNames()).toEqual(['h']);
  });

  it('detects the format as Ansible does', () => {
    const dir = tree({
      'yaml-noext': 'g:\n  hosts: {yhost: }\n',
      'ini-noext': 'i1\ni2 a=1\n',
      'ini-in.yml': '[g]\nfromini\n',
      'scalar.yml': 'lonehost\n',
      'empty.yml': '',
      'comments.yaml': '# nothing yet\n',
      'hosts.cfg-like.hosts': '[g]\nother\n',
    });
    const inv = loadInventory(['yaml-noext', 'ini-noext', 'ini-in.yml', 'scalar.yml', 'empty.yml', 'comments.yaml', 'hosts.cfg-like.hosts'].map((f) => join(dir, f)));
    expect(inv.hostNames()).toEqual(['i1', 'i2', 'lonehost', 'yhost', 'fromini', 'other']);
  });

  it('reports the YAML error for a .yml file that is neither YAML nor INI, the INI error for an INI-looking file', () => {
    const dir = tree({ 'bad.yml': 'g:\n  hosts:\n   - [\n', 'bad': '[g]\nh "x\n', 'bad2': 'g:\n  - a\n b: 1\n' });
    expect(() => loadInventory([join(dir, 'bad.yml')])).toThrow(/bad\.yml:\d+:\d+: bad YAML/);
    expect(() => loadInventory([join(dir, 'bad')])).toThrow(/bad:2:3: Error parsing host definition/);
    expect(() => loadInventory([join(dir, 'bad2')])).toThrow(/bad2:\d+:\d+: bad YAML/);
  });

  it('refuses TOML and plugin configurations', () => {
    const dir = tree({ 'inv.toml': '[g.hosts]\n', 'aws.yml': 'plugin: aws_ec2\n' });
    expect(() => loadInventory([join(dir, 'inv.toml')])).toThrow(/TOML inventories are not supported/);
    expect(() => loadInventory([join(dir, 'aws.yml')])).toThrow(/inventory plugin configuration/);
  });

  it('takes a comma-separated host list', () => {
    const inv = loadInventory(['web1, web2:2222,[::1]:22,web[1:2],']);
    expect(inv.hostNames()).toEqual(['web1', 'web2', '::1', 'web[1:2]']);
    expect(inv.hostVars('web2')['ansible_port']).toBe(2222);
    expect(inv.groupsOf('web1')).toEqual(['all', 'ungrouped']);
  });

  it('merges several sources in order', () => {
    const dir = tree({ 'a.yml': 'g:\n  hosts:\n    h: {x: 1, w: 1}\n', 'b': '[g]\nh x=2\nh2\n[g:vars]\nz=3\n' });
    const inv = loadInventory([join(dir, 'a.yml'), join(dir, 'b')]);
    expect(inv.hostVars('h')).toMatchObject({ x: 2, w: 1, z: 3 });
    expect(inv.hostNames()).toEqual(['h', 'h2']);
    expect(inv.locOfHost('h')).toEqual({ file: join(dir, 'a.yml'), line: 3, col: 5 });
    expect(inv.hostVars('h2')['inventory_file']).toBe(join(dir, 'b'));
  });

  it('an empty list of sources is an empty inventory', () => {
    const inv = loadInventory([]);
    expect(inv.hostNames()).toEqual([]);
    expect(inv.groupNames()).toEqual(['all', 'ungrouped']);
  });

  it('names a missing source', () => {
    expect(() => loadInventory(['/nonexistent/inventory'])).toThrow(new InputError('inventory source not found: /nonexistent/inventory'));
  });
});
