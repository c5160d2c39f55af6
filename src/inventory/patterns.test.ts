import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PatternError } from '../errors.js';
import { loadInventory, type Inventory } from './index.js';
import { applySubscript, fnmatchTranslate, orderPatterns, splitHostPattern, splitSubscript } from './patterns.js';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function tree(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'underlay-inv-pat-'));
  dirs.push(dir);
  for (const [p, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, p)), { recursive: true });
    writeFileSync(join(dir, p), text);
  }
  return dir;
}

describe('pattern syntax', () => {
  it('splits on commas, else on colons unless the whole is one address or range', () => {
    expect(splitHostPattern('a,b[1], c[2:3] , d')).toEqual(['a', 'b[1]', 'c[2:3]', 'd']);
    expect(splitHostPattern('web:!db:&prod')).toEqual(['web', '!db', '&prod']);
    expect(splitHostPattern('web[1:3]')).toEqual(['web[1:3]']);
    expect(splitHostPattern('2001:db8::1')).toEqual(['2001:db8::1']);
    expect(splitHostPattern('web[1:]:db')).toEqual(['web[1:]', 'db']);
    expect(splitHostPattern('host:2222')).toEqual(['host:2222']);
    expect(splitHostPattern('  ')).toEqual([]);
  });
  it('orders regular parts, then &, then !, starting from all when needed', () => {
    expect(orderPatterns(['!a', '&b', 'c', '', 'd'])).toEqual(['c', 'd', '&b', '!a']);
    expect(orderPatterns(['!a'])).toEqual(['all', '!a']);
  });
  it('translates globs as Python fnmatch does', () => {
    const m = (p: string, names: string[]): string[] => names.filter((n) => new RegExp(fnmatchTranslate(p), 's').test(n));
    const names = ['web1', 'webx', 'db-1', 'db-3', 'db-2', 'a]b', 'acb', 'xzy', 'xy', 'b', 'd', '-', 'w&', 'w|', 'a[b', '!', 'web01.example.com'];
    // expected lists from Python 3.11 re.match(fnmatch.translate(p), name)
    expect(m('web*', names)).toEqual(['web1', 'webx', 'web01.example.com']);
    expect(m('web?', names)).toEqual(['web1', 'webx']);
    expect(m('db-[13]', names)).toEqual(['db-1', 'db-3']);
    expect(m('db-[!1]', names)).toEqual(['db-3', 'db-2']);
    expect(m('a[]]b', names)).toEqual(['a]b']);
    expect(m('a[!]]b', names)).toEqual(['acb', 'a[b']);
    expect(m('x[z-a]y', names)).toEqual([]);
    expect(m('[a-c-e]', names)).toEqual(['b', '-']);
    expect(m('*.example.com', names)).toEqual(['web01.example.com']);
    expect(m('a[b', names)).toEqual(['a[b']);
    expect(m('[!]', names)).toEqual([]);
    expect(m('w[&~|]', names)).toEqual(['w&', 'w|']);
  });
  it('reads subscripts as Ansible does', () => {
    expect(splitSubscript('web[0]')).toEqual({ expr: 'web', sub: [0, undefined] });
    expect(splitSubscript('web[-1]')).toEqual({ expr: 'web', sub: [-1, undefined] });
    expect(splitSubscript('web[1:3]')).toEqual({ expr: 'web', sub: [1, 3] });
    expect(splitSubscript('web[2:]')).toEqual({ expr: 'web', sub: [2, -1] });
    expect(splitSubscript('~web[0]')).toEqual({ expr: '~web[0]', sub: undefined });
    const h = ['a', 'b', 'c', 'd'];
    expect(applySubscript(h, [1, 2], 'x')).toEqual(['b', 'c']);
    expect(applySubscript(h, [2, -1], 'x')).toEqual(['c', 'd']);
    expect(applySubscript(h, [-1, undefined], 'x')).toEqual(['d']);
    // an end of 0 is "no end" in Ansible: a single index
    expect(applySubscript(h, [2, 0], 'x')).toEqual(['c']);
    expect(applySubscript(h, [5, 9], 'x')).toEqual([]);
    expect(() => applySubscript(h, [4, undefined], 'web[4]')).toThrow("No hosts matched the subscripted pattern 'web[4]'");
    expect(() => applySubscript(h, [-5, undefined], 'web[-5]')).toThrow(PatternError);
  });
});

describe('selectHosts', () => {
  let inv: Inventory;
  let dir: string;
  beforeAll(() => {
    dir = tree({
      'hosts.yml': `
all:
  hosts:
    lone:
  children:
    web:
      hosts: {web1: , web2: , web3: }
      children:
        web_eu:
          hosts: {eu1: , web2: }
    db:
      hosts: {db1: , db2: }
    prod:
      hosts: {web1: , db1: , eu1: }
`,
      'retry': 'db2\nweb3\n\n',
    });
    inv = loadInventory([join(dir, 'hosts.yml')]);
  });
  const cases: Array<[string, string | undefined, string[]]> = [
    ['all', undefined, ['lone', 'web1', 'web2', 'web3', 'db1', 'db2', 'eu1']],
    ['*', undefined, ['lone', 'web1', 'web2', 'web3', 'db1', 'db2', 'eu1']],
    ['web', undefined, ['web1', 'web2', 'web3', 'eu1']],
    ['web*', undefined, ['web1', 'web2', 'web3', 'eu1']],
    ['db?', undefined, ['db1', 'db2']],
    ['web:db', undefined, ['web1', 'web2', 'web3', 'eu1', 'db1', 'db2']],
    ['db,web', undefined, ['db1', 'db2', 'web1', 'web2', 'web3', 'eu1']],
    ['web:&prod', undefined, ['web1', 'eu1']],
    ['web:!web_eu', undefined, ['web1', 'web3']],
    ['!web', undefined, ['lone', 'db1', 'db2']],
    ['&prod', undefined, ['web1', 'db1', 'eu1']],
    ['!prod:web', undefined, ['web2', 'web3']],
    ['~web[12]', undefined, ['web1', 'web2']],
    ['~(?i)DB', undefined, ['db1', 'db2']],
    ['web[0]', undefined, ['web1']],
    ['web[1:2]', undefined, ['web2', 'web3']],
    ['web[-1]', undefined, ['eu1']],
    ['web[2:]', undefined, ['web3', 'eu1']],
    ['db1', undefined, ['db1']],
    ['ungrouped', undefined, ['lone']],
    ['all', 'web_eu', ['web2', 'eu1']],
    ['web', '!web2', ['web1', 'web3', 'eu1']],
    ['all', 'db1,web3', ['web3', 'db1']],
  ];
  for (const [pattern, limit, want] of cases) {
    it(`'${pattern}'${limit ? ` --limit '${limit}'` : ''}`, () => {
      expect(inv.selectHosts(pattern, limit)).toEqual(want);
    });
  }
  it('reads @file patterns, one per line, in --limit and in the pattern', () => {
    expect(inv.selectHosts('all', `@${join(dir, 'retry')}`)).toEqual(['web3', 'db2']);
    expect(inv.selectHosts(`@${join(dir, 'retry')}`)).toEqual(['db2', 'web3']);
    expect(() => inv.selectHosts('all', `@${join(dir, 'missing')}`)).toThrow(/Unable to find limit file/);
  });
  it('selects an implicit localhost', () => {
    const fresh = loadInventory([join(dir, 'hosts.yml')]);
    expect(fresh.selectHosts('localhost')).toEqual(['localhost']);
    expect(fresh.hasHost('localhost')).toBe(false);
    expect(fresh.hostVars('localhost')).toMatchObject({ ansible_connection: 'local', inventory_hostname: 'localhost', group_names: [] });
    expect(fresh.connectionOf('localhost')).toMatchObject({ address: 'localhost', connection: 'local' });
    // the implicit localhost is not part of all
    expect(fresh.selectHosts('all')).not.toContain('localhost');
  });
  it('throws a PatternError naming the pattern when nothing is selected', () => {
    expect(() => inv.selectHosts('nosuch')).toThrow(new PatternError("host pattern 'nosuch' selects no host (no group or host matches 'nosuch')"));
    expect(() => inv.selectHosts('db', 'web')).toThrow(new PatternError("host pattern 'db' with --limit 'web' selects no host"));
    expect(() => inv.selectHosts('web[9]')).toThrow(PatternError);
    expect(() => inv.selectHosts('~(')).toThrow(new PatternError('Invalid host list pattern: ~('));
  });
  it('still selects what matches when a part matches nothing, and says which part', () => {
    expect(inv.matchHosts('db:nosuch')).toEqual({ hosts: ['db1', 'db2'], unmatched: ['nosuch'] });
  });
  it('is fast on 1000 hosts', () => {
    const lines = ['[all:vars]', 'x=1'];
    for (let g = 0; g < 20; g++) {
      lines.push(`[g${g}]`, `n${g}-[000:049] rack=${g}`);
      lines.push(`[g${g}:vars]`, `gv=${g}`);
    }
    lines.push('[even:children]', ...Array.from({ length: 10 }, (_, i) => `g${i * 2}`));
    const big = tree({ 'big.ini': lines.join('\n') + '\n' });
    const t0 = performance.now();
    const b = loadInventory([join(big, 'big.ini')]);
    expect(b.hostNames()).toHaveLength(1000);
    expect(b.selectHosts('even:!n0-0*')).toHaveLength(450);
    expect(b.selectHosts('~n1[0-9]-04.')).toHaveLength(100);
    expect(b.selectHosts('all[100:199]')).toHaveLength(100);
    for (const h of b.hostNames()) b.hostVars(h);
    const ms = performance.now() - t0;
    expect(ms).toBeLessThan(1500);
  });
});
