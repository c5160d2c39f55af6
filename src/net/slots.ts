/**
 * How a stable per-host index maps to a pod subnet of the cluster range, and the set of
 * address ranges already taken.
 *
 * The cluster range is cut into subnets of the pod prefix ("slots"). Slot numbers follow a
 * fixed order that depends only on the cluster range and the pod prefix, never on the
 * hosts, so a host's index always gives the same subnet:
 *
 * - The range is first seen as blocks of 256 addresses (a /24; a pod subnet larger than a
 *   /24 makes the block that subnet, and a cluster range smaller than a /24 is one block).
 *   Slot k, for k below the number of blocks, is the FIRST pod subnet of block k:
 *   `cluster + k * 256`. With cluster 192.168.0.0/16 and /29 pods this is the seed's
 *   layout: slot 1 = 192.168.1.0/29 (worker1), slot 2 = 192.168.2.0/29 (worker2), and
 *   slot 255 = 192.168.255.0/29.
 * - The following slots are the remaining pod subnets, block by block and in address order
 *   within a block: with the same example slot 256 = 192.168.0.8/29, slot 257 =
 *   192.168.0.16/29, ..., slot 286 = 192.168.0.248/29, slot 287 = 192.168.1.8/29, and so
 *   on, so every /29 of the /16 (8192 of them) has a slot.
 * - Slot 0 (the first subnet of the cluster range, 192.168.0.0/29) is never allocated.
 *
 * Within each of the two runs (first-of-block slots, then the rest) addresses grow with
 * the slot number, which lets a search jump over a taken range in one step.
 */
import { netAt, type Net4 } from './cidr.js';

export class SlotMap {
  /** Addresses per pod subnet. */
  readonly podSize: number;
  /** Addresses per block (see above). */
  readonly blockSize: number;
  readonly blocks: number;
  /** Pod subnets per block. */
  readonly perBlock: number;
  /** Number of slots, slot 0 included. */
  readonly capacity: number;

  constructor(
    readonly cluster: Net4,
    readonly podPrefix: number,
  ) {
    if (podPrefix < cluster.prefix) throw new RangeError(`pod prefix /${podPrefix} is shorter than the cluster range /${cluster.prefix}`);
    const clusterSize = cluster.last - cluster.first + 1;
    this.podSize = 2 ** (32 - podPrefix);
    this.blockSize = Math.max(this.podSize, Math.min(256, clusterSize));
    this.blocks = clusterSize / this.blockSize;
    this.perBlock = this.blockSize / this.podSize;
    this.capacity = clusterSize / this.podSize;
  }

  /** The first address of slot k (0 <= k < capacity). */
  addrOf(k: number): number {
    if (k < this.blocks) return this.cluster.first + k * this.blockSize;
    const j = k - this.blocks;
    const rest = this.perBlock - 1;
    const blk = Math.floor(j / rest);
    const pos = 1 + (j % rest);
    return this.cluster.first + blk * this.blockSize + pos * this.podSize;
  }

  netOf(k: number): Net4 {
    return netAt(this.addrOf(k), this.podPrefix);
  }

  /** The slot of a network, or undefined when it is not one of this map's subnets. */
  slotOf(net: Net4): number | undefined {
    if (net.prefix !== this.podPrefix || net.first < this.cluster.first || net.last > this.cluster.last) return undefined;
    const off = net.first - this.cluster.first;
    const blk = Math.floor(off / this.blockSize);
    const pos = (off - blk * this.blockSize) / this.podSize;
    return pos === 0 ? blk : this.blocks + blk * (this.perBlock - 1) + pos - 1;
  }

  /**
   * The first slot after k whose subnet starts above `end` (an address), in slot order;
   * `capacity` when there is none. Used to jump over a taken range.
   */
  nextAfter(k: number, end: number): number {
    if (k < this.blocks) {
      const blk = Math.floor((end - this.cluster.first) / this.blockSize) + 1;
      return Math.min(Math.max(k + 1, blk), this.blocks);
    }
    const off = end + 1 - this.cluster.first;
    let blk = Math.floor(off / this.blockSize);
    let pos = Math.ceil((off - blk * this.blockSize) / this.podSize);
    if (pos === 0) pos = 1;
    if (pos >= this.perBlock) {
      blk += 1;
      pos = 1;
    }
    if (blk >= this.blocks) return this.capacity;
    return Math.max(k + 1, this.blocks + blk * (this.perBlock - 1) + pos - 1);
  }
}

/** Disjoint, sorted address ranges: what is taken so far. */
export class Occupied {
  private readonly firsts: number[] = [];
  private readonly lasts: number[] = [];

  /** Index of the first range whose last address is >= addr. */
  private lowerBound(addr: number): number {
    let lo = 0;
    let hi = this.lasts.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.lasts[mid]! < addr) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** The last address of a taken range overlapping [first, last], or undefined when free. */
  hit(first: number, last: number): number | undefined {
    const i = this.lowerBound(first);
    if (i < this.firsts.length && this.firsts[i]! <= last) return this.lasts[i];
    return undefined;
  }

  add(first: number, last: number): void {
    const i = this.lowerBound(first - 1);
    let j = i;
    let f = first;
    let l = last;
    while (j < this.firsts.length && this.firsts[j]! <= last + 1) {
      f = Math.min(f, this.firsts[j]!);
      l = Math.max(l, this.lasts[j]!);
      j++;
    }
    this.firsts.splice(i, j - i, f);
    this.lasts.splice(i, j - i, l);
  }

  get size(): number {
    return this.firsts.length;
  }
}
