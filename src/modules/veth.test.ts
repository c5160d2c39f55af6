import { describe, expect, it } from 'vitest';
import { actionTexts, decideWith } from '../../test/support/net-fixtures.js';
import { veth } from './veth.js';

const PAIR = { name: 'br-int-veth', peer: 'breth1-veth' };

describe('veth (decisions on real ip -j output)', () => {
  it('creates the pair and brings both ends up', async () => {
    const d = await decideWith(veth, 'empty', PAIR);
    expect(d.changed).toBe(true);
    expect(actionTexts(d)).toEqual(['ip link add br-int-veth up type veth peer name breth1-veth', 'ip link set dev breth1-veth up']);
    expect(actionTexts(await decideWith(veth, 'empty', { ...PAIR, mtu: 9000 }))).toEqual(['ip link add br-int-veth mtu 9000 up type veth peer name breth1-veth mtu 9000', 'ip link set dev breth1-veth up']);
    expect(actionTexts(await decideWith(veth, 'empty', { ...PAIR, up: false }))).toEqual(['ip link add br-int-veth type veth peer name breth1-veth']);
  });

  it('does nothing when the pair exists, paired, both up', async () => {
    const d = await decideWith(veth, 'bridge-ready', PAIR);
    expect(d).toMatchObject({ changed: false, actions: [] });
  });

  it('converges the MTU and the up state of both ends', async () => {
    expect(actionTexts(await decideWith(veth, 'bridge-ready', { ...PAIR, mtu: 1400 }))).toEqual(['ip link set dev br-int-veth mtu 1400', 'ip link set dev breth1-veth mtu 1400']);
    expect(actionTexts(await decideWith(veth, 'bridge-ready', { ...PAIR, up: false }))).toEqual(['ip link set dev br-int-veth down', 'ip link set dev breth1-veth down']);
  });

  it('deletes the pair through one end', async () => {
    expect(actionTexts(await decideWith(veth, 'bridge-ready', { ...PAIR, state: 'absent' }))).toEqual(['ip link del dev br-int-veth']);
    expect(await decideWith(veth, 'empty', { ...PAIR, state: 'absent' })).toMatchObject({ changed: false, actions: [] });
  });

  it('refuses a wrong pairing, a non-veth, a taken peer name and a peer in another namespace', async () => {
    expect((await decideWith(veth, 'bridge-ready', { name: 'br-int-veth', peer: 'other' })).failed).toBe('br-int-veth is a veth paired with breth1-veth, not with other: delete it first');
    expect((await decideWith(veth, 'bridge-ready', { name: 'breth1', peer: 'x' })).failed).toBe('breth1 exists and is a bridge interface, not a veth');
    expect((await decideWith(veth, 'bridge-ready', { name: 'newveth', peer: 'breth1' })).failed).toMatch(/^breth1 already exists/);
    expect((await decideWith(veth, 'eth1', { name: 'eth1', peer: 'p0' })).failed).toBe('eth1 is a veth paired with an interface in another network namespace, not with p0: delete it first');
  });
});
