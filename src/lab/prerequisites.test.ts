import { describe, expect, it } from 'vitest';
import { EnvironmentError } from '../errors.js';
import { checkPrerequisitesOf } from './index.js';

const all = (p: string): string => p;

describe('lab prerequisites', () => {
  it('pass on Linux as root with every program', () => {
    expect(() => checkPrerequisitesOf({ platform: 'linux', uid: 0, find: all })).not.toThrow();
  });

  it('refuse another system and a user other than root', () => {
    expect(() => checkPrerequisitesOf({ platform: 'darwin', uid: 0, find: all })).toThrow(/needs Linux/);
    expect(() => checkPrerequisitesOf({ platform: 'linux', uid: 1000, find: all })).toThrow(EnvironmentError);
    expect(() => checkPrerequisitesOf({ platform: 'linux', uid: 1000, find: all })).toThrow(/must run as root/);
  });

  it('name the missing programs and the one apt-get line that installs them', () => {
    const gone = new Set(['ovn-northd', '/usr/bin/etcd', 'ovs-vswitchd', 'ovsdb-server']);
    let err: unknown;
    try {
      checkPrerequisitesOf({ platform: 'linux', uid: 0, find: (p) => (gone.has(p) ? undefined : p) });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(EnvironmentError);
    expect((err as Error).message).toBe(
      'lab: missing ovsdb-server, ovs-vswitchd, ovn-northd, /usr/bin/etcd; install with:\n  apt-get install -y openvswitch-switch ovn-central etcd-server',
    );
    expect((err as EnvironmentError).exitCode).toBe(6);
  });
});
