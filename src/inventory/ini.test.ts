import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { InputError, inputErrorsOf } from '../errors.js';
import { listJson, loadInventory } from './index.js';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** Writes files into a new temporary directory and returns its path. */
function tree(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'underlay-inv-ini-'));
  dirs.push(dir);
  for (const [p, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, p)), { recursive: true });
    writeFileSync(join(dir, p), text);
  }
  return dir;
}

function ini(text: string) {
  const dir = tree({ 'hosts.ini': text });
  return { inv: loadInventory([join(dir, 'hosts.ini')]), file: join(dir, 'hosts.ini') };
}

function errorOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    const errs = inputErrorsOf(e);
    if (errs.length) return errs.map((x) => x.message).join('\n');
    throw e;
  }
  throw new Error('expected an error');
}

describe('INI inventory', () => {
  it('puts hosts before any section, and in [ungrouped], into ungrouped', () => {
    const { inv } = ini('a\nb\n[web]\nw1\n[ungrouped]\nc\n');
    expect(inv.hostNames()).toEqual(['a', 'b', 'c', 'w1']);
    expect(listJson(inv)).toMatchObject({ ungrouped: { hosts: ['a', 'b', 'c'] }, web: { hosts: ['w1'] } });
  });

  it('takes a host out of ungrouped once it is in a group', () => {
    const { inv } = ini('a\n[web]\na\n');
    expect(inv.groupsOf('a')).toEqual(['all', 'web']);
    expect(inv.hostsOfGroup('ungrouped')).toEqual([]);
  });

  it('expands ranges on host lines and gives every host the line variables', () => {
    const { inv } = ini('[web]\nweb[01:03] role=web\ndb-[a:b]:2222\n');
    expect(inv.hostNames()).toEqual(['web01', 'web02', 'web03', 'db-a', 'db-b']);
    expect(inv.hostVars('web02')['role']).toBe('web');
    expect(inv.hostVars('db-b')['ansible_port']).toBe(2222);
  });

  it('reads inline values as Python literals', () => {
    const { inv } = ini(
      `[web]\nw1 n=5 f=1.5 t=True s=hello q="'x y'" l=[1,2] d="{'k': None}" z=010 c=abc#def after=1\n`,
    );
    const v = inv.hostVars('w1');
    expect([v['n'], v['f'], v['t'], v['s'], v['q'], v['l'], v['d'], v['z']]).toEqual([5, 1.5, true, 'hello', 'x y', [1, 2], { k: null }, '010']);
    // `#` ends the line for the shell-like split: `after` is a comment
    expect(v['c']).toBe('abc');
    expect(v).not.toHaveProperty('after');
  });

  it('reads :vars values as Python literals too, and keeps a trailing comment of plain text', () => {
    const { inv } = ini('[web]\nw1\n[web:vars]\nport=8080\nflag=True\nlabel=nightly # kept\nn=23 # dropped\nempty=\nspaced = padded value\n');
    const v = inv.hostVars('w1');
    expect([v['port'], v['flag'], v['label'], v['n'], v['empty'], v['spaced']]).toEqual([8080, true, 'nightly # kept', 23, '', 'padded value']);
  });

  it('accepts :children and :vars before the groups they name; children order follows their declarations', () => {
    const { inv } = ini('[app:children]\nweb\ndb\n[app:vars]\nname=shop\n[db]\nd1\n[web]\nw1\n[app]\n');
    expect(listJson(inv)['app']).toEqual({ children: ['db', 'web'] });
    expect(inv.hostVars('w1')['name']).toBe('shop');
    expect(inv.groupsOf('d1')).toEqual(['all', 'app', 'db']);
  });

  it('skips # and ; comments and blank lines, and section comments', () => {
    const { inv } = ini('# c\n; c\n\n   \n[web] # the web\n  w1   # indented\n');
    expect(inv.hostNames()).toEqual(['w1']);
  });

  it('sets ansible_port from host:port only when the host is new (as Ansible)', () => {
    const { inv } = ini('[a]\nh:2222\n[b]\nh\n');
    expect(inv.hostVars('h')['ansible_port']).toBe(2222);
  });

  it('merges a host defined twice with the same values, and rejects different values in one file', () => {
    const { inv } = ini('[a]\nh x=1\n[b]\nh x=1 y=2\n');
    expect(inv.hostVars('h')).toMatchObject({ x: 1, y: 2 });
    const dir = tree({ 'c.ini': '[a]\nh x=1\n[b]\nh x=2\n' });
    expect(errorOf(() => loadInventory([join(dir, 'c.ini')]))).toBe(
      `${join(dir, 'c.ini')}:4:3: host 'h': variable 'x' is set again with a different value (first set at ${join(dir, 'c.ini')}:2:3)`,
    );
  });

  it('rejects a variable given twice on one line with different values', () => {
    const dir = tree({ 'c.ini': '[a]\nh x=1 x=2\n' });
    expect(errorOf(() => loadInventory([join(dir, 'c.ini')]))).toBe(
      `${join(dir, 'c.ini')}:2:7: variable 'x' is given twice on this line with different values (first at column 3)`,
    );
  });

  it('rejects conflicting :vars for one group in one file', () => {
    const dir = tree({ 'c.ini': '[a]\nh\n[a:vars]\nx=1\n[a:vars]\nx=2\n' });
    expect(errorOf(() => loadInventory([join(dir, 'c.ini')]))).toMatch(/c\.ini:6:1: group 'a': variable 'x' is set again with a different value/);
  });

  it('lets a later source override an earlier one without complaint', () => {
    const dir = tree({ 'a.ini': '[g]\nh x=1\n', 'b.ini': '[g]\nh x=2\n' });
    const inv = loadInventory([join(dir, 'a.ini'), join(dir, 'b.ini')]);
    expect(inv.hostVars('h')['x']).toBe(2);
  });

  it('reports errors with line and column', () => {
    const cases: Array<[string, string]> = [
      ['[web]\n  w1 foo\n', '2:6: Expected key=value host variable assignment, got: foo'],
      ['[web:kids]\nw1\n', '1:6: Section [web:kids] has unknown type: kids'],
      ['[web hosts]\n', "1:1: Invalid section entry: '[web hosts]'. Please make sure that there are no spaces in the section entry, and that there are no other invalid characters"],
      ['[web:vars]\nnot a pair\n[web]\n', '2:1: Expected key=value, got: not a pair'],
      ['[web:children]\nbad:name\n', '2:1: Expected group name, got: bad:name'],
      ['[web]\nn[5:2]\n', "2:1: bad host pattern 'n[5:2]': host range [5:2] has its begin above its end"],
      ['[web]\nw1:\n', "2:1: bad host pattern 'w1:': Invalid host pattern 'w1:' supplied, ending in ':' is not allowed, this character is reserved to provide a port."],
      ['[x:vars]\na=1\n', '1:1: Section [x:vars] not valid for undefined group: x'],
      ['[p:children]\nkid\n', '2:1: Section [p:children] includes undefined group: kid'],
      ['[a:children]\nb\n[b:children]\na\n', "4:1: adding group 'a' as a child of 'b' makes a cycle: a -> b -> a"],
      ['[a:children]\na\n[a]\n', "2:1: group 'a' cannot be a child of itself"],
    ];
    for (const [text, want] of cases) {
      const dir = tree({ 'e.ini': text });
      const file = join(dir, 'e.ini');
      expect(errorOf(() => loadInventory([file]))).toBe(`${file}:${want}`);
    }
  });

  it('gives positions that count the indentation of the line', () => {
    const dir = tree({ 'e.ini': '[web]\n\t  w1 "a=1\n' });
    const file = join(dir, 'e.ini');
    try {
      loadInventory([file]);
      expect.fail('no error');
    } catch (e) {
      expect(e).toBeInstanceOf(InputError);
      expect((e as InputError).loc).toEqual({ file, line: 2, col: 7 });
    }
  });
});
