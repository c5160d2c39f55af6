import { describe, expect, it } from 'vitest';
import { InputError } from '../errors.js';
import { VaultText } from '../yamlsrc.js';
import { InventoryData, sameValue, type VarOrigin } from './model.js';

const origin: VarOrigin = { file: 'f', loc: undefined, secret: false };
const src = { file: null, dir: null, origin };

function build(edges: Array<[string, string]>, hosts: Array<[string, string]>): InventoryData {
  const inv = new InventoryData();
  for (const [p, c] of edges) {
    inv.addGroup(p);
    inv.addGroup(c);
  }
  for (const [, g] of hosts) inv.addGroup(g);
  for (const [p, c] of edges) inv.addChild(p, c);
  for (const [h, g] of hosts) inv.addHost(h, g, undefined, src);
  inv.reconcile();
  return inv;
}

describe('inventory model', () => {
  it('orders a group\'s hosts level by level: its own, its children\'s, then deeper', () => {
    const inv = build(
      [
        ['top', 'a'],
        ['top', 'b'],
        ['a', 'a1'],
      ],
      [
        ['deep', 'a1'],
        ['ha', 'a'],
        ['hb', 'b'],
        ['htop', 'top'],
      ],
    );
    expect(inv.groups.get('top')!.getHosts().map((h) => h.name)).toEqual(['htop', 'ha', 'hb', 'deep']);
    expect(inv.groups.get('all')!.getHosts().map((h) => h.name)).toEqual(['htop', 'ha', 'hb', 'deep']);
  });

  it('keeps depth as the longest path from all, whatever the order edges were made in', () => {
    const inv = build(
      [
        ['b', 'c'],
        ['a', 'b'],
        ['a', 'c'],
      ],
      [['h', 'c']],
    );
    expect(['all', 'a', 'b', 'c'].map((g) => inv.groups.get(g)!.depth)).toEqual([0, 1, 2, 3]);
    expect(inv.groups.get('all')!.children.map((g) => g.name)).toEqual(['ungrouped', 'a']);
  });

  it('moves hosts without a group into ungrouped, and out of it once grouped', () => {
    const inv = new InventoryData();
    inv.addHost('lone', 'all', undefined, src);
    inv.addHost('both', 'ungrouped', undefined, src);
    inv.addGroup('g');
    inv.addHost('both', 'g', undefined, src);
    inv.reconcile();
    expect(inv.groups.get('ungrouped')!.hosts.map((h) => h.name)).toEqual(['lone']);
    expect(inv.hosts.get('both')!.groups().map((g) => g.name)).toEqual(['all', 'g']);
  });

  it('refuses cycles with the path', () => {
    const inv = build(
      [
        ['a', 'b'],
        ['b', 'c'],
      ],
      [],
    );
    expect(() => inv.addChild('c', 'a', { file: 'x', line: 3, col: 4 })).toThrow(
      new InputError("adding group 'a' as a child of 'c' makes a cycle: a -> b -> c -> a", { file: 'x', line: 3, col: 4 }),
    );
  });

  it('compares values deeply (a repeat is no conflict)', () => {
    expect(sameValue({ a: [1, { b: null }] }, { a: [1, { b: null }] })).toBe(true);
    expect(sameValue({ a: 1 }, { a: 1, b: 2 })).toBe(false);
    expect(sameValue([1], { 0: 1 })).toBe(false);
    expect(sameValue(new VaultText('x', undefined), new VaultText('x', undefined))).toBe(true);
    expect(sameValue(NaN, NaN)).toBe(true);
  });
});
