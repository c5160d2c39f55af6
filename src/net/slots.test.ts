import { describe, expect, it } from 'vitest';
import { formatAddr, formatNet, parseNet } from './cidr.js';
import { Occupied, SlotMap } from './slots.js';

function net(text: string) {
  const p = parseNet(text);
  if (!p.ok) throw new TypeError(p.why);
  return p.value;
}

function mapOf(cluster: string, prefix: number): SlotMap {
  return new SlotMap(net(cluster), prefix);
}

/** A deterministic pseudo-random sequence (xorshift32). */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 0x1_0000_0000;
  };
}

describe('SlotMap', () => {
  it("reproduces the seed's layout: worker N of 192.168.0.0/16 at 192.168.N.0/29", () => {
    const m = mapOf('192.168.0.0/16', 29);
    expect(m.capacity).toBe(8192);
    expect(formatNet(m.netOf(0))).toBe('192.168.0.0/29');
    expect(formatNet(m.netOf(1))).toBe('192.168.1.0/29');
    expect(formatNet(m.netOf(2))).toBe('192.168.2.0/29');
    expect(formatNet(m.netOf(255))).toBe('192.168.255.0/29');
    // then the rest of each /24, block by block
    expect(formatNet(m.netOf(256))).toBe('192.168.0.8/29');
    expect(formatNet(m.netOf(286))).toBe('192.168.0.248/29');
    expect(formatNet(m.netOf(287))).toBe('192.168.1.8/29');
    expect(formatNet(m.netOf(8191))).toBe('192.168.255.248/29');
  });

  it('uses the pod subnet as the block when it is larger than a /24, and one block for a small cluster', () => {
    const big = mapOf('10.0.0.0/16', 22);
    expect(big.capacity).toBe(64);
    expect(formatNet(big.netOf(1))).toBe('10.0.4.0/22');
    expect(formatNet(big.netOf(63))).toBe('10.0.252.0/22');
    const exact = mapOf('10.0.0.0/16', 24);
    expect(formatNet(exact.netOf(7))).toBe('10.0.7.0/24');
    const small = mapOf('192.168.0.0/26', 29);
    expect(small.capacity).toBe(8);
    expect(formatNet(small.netOf(1))).toBe('192.168.0.8/29');
    expect(formatNet(small.netOf(7))).toBe('192.168.0.56/29');
  });

  it('is a bijection between slots and the pod subnets of the range', () => {
    for (const [cluster, prefix] of [
      ['10.0.0.0/20', 29],
      ['10.0.0.0/22', 30],
      ['10.0.0.0/24', 29],
      ['10.0.0.0/27', 29],
      ['10.0.0.0/16', 20],
      ['10.0.0.0/20', 24],
    ] as const) {
      const m = mapOf(cluster, prefix);
      const seen = new Set<number>();
      for (let k = 0; k < m.capacity; k++) {
        const n = m.netOf(k);
        expect((n.first - m.cluster.first) % m.podSize).toBe(0);
        expect(n.first >= m.cluster.first && n.last <= m.cluster.last).toBe(true);
        expect(m.slotOf(n)).toBe(k);
        seen.add(n.first);
      }
      expect(seen.size).toBe(m.capacity);
    }
    const m = mapOf('10.0.0.0/24', 29);
    expect(m.slotOf(net('10.0.0.0/28'))).toBeUndefined();
    expect(m.slotOf(net('10.0.1.0/29'))).toBeUndefined();
  });

  it('nextAfter gives the first later slot of the same run that starts above an address', () => {
    for (const [cluster, prefix] of [
      ['10.0.0.0/22', 29],
      ['10.0.0.0/26', 29],
      ['10.0.0.0/20', 22],
    ] as const) {
      const m = mapOf(cluster, prefix);
      const run = (k: number): number => (k < m.blocks ? 0 : 1);
      for (let k = 0; k < m.capacity; k++) {
        const start = m.addrOf(k);
        for (let end = start; end <= Math.min(m.cluster.last, start + 400); end += 5) {
          let want = k + 1;
          while (want < m.capacity && run(want) === run(k) && m.addrOf(want) <= end) want++;
          expect(m.nextAfter(k, end), `k=${k} end=${formatAddr(end)}`).toBe(want);
        }
      }
    }
  });
});

describe('Occupied', () => {
  it('merges ranges and answers overlaps as a plain list would', () => {
    const r = rng(7);
    const occ = new Occupied();
    const taken = new Uint8Array(2000);
    for (let i = 0; i < 300; i++) {
      const first = Math.floor(r() * 1990);
      const last = first + Math.floor(r() * 8);
      occ.add(first, last);
      taken.fill(1, first, last + 1);
      const qf = Math.floor(r() * 1990);
      const ql = qf + Math.floor(r() * 10);
      const hit = occ.hit(qf, ql);
      const any = taken.subarray(qf, ql + 1).some((x) => x === 1);
      expect(hit !== undefined).toBe(any);
      if (hit !== undefined) {
        // the end of the merged taken run that overlaps the query
        expect(taken[hit]).toBe(1);
        expect(taken[hit + 1] ?? 0).toBe(0);
      }
    }
    let runs = 0;
    for (let i = 0; i < taken.length; i++) if (taken[i] === 1 && (i === 0 || taken[i - 1] === 0)) runs++;
    expect(occ.size).toBe(runs);
  });
});
