import { describe, expect, it } from 'vitest';
import { InputError } from '../errors.js';
import {
  checkStateDir,
  fstab,
  hostOfLink,
  hostOfNetns,
  isLabLink,
  isLabNetns,
  labMac,
  netBatch,
  parseSubnet,
  planLab,
  rootBatchCreate,
  sshdConfig,
  tenantId,
  uuidV5,
} from './plan.js';

describe('planLab', () => {
  it('lays out the default lab: central, master, two workers on 10.213.0.0/24', () => {
    const p = planLab({});
    expect(p.name).toBe('lab');
    expect(p.subnet).toBe('10.213.0.0/24');
    expect(p.gateway).toBe('10.213.0.1');
    expect(p.bridge).toBe('ul-lab-br');
    expect(p.hosts.map((h) => [h.name, h.role, h.address, h.netns, h.link])).toEqual([
      ['central', 'central', '10.213.0.2', 'ul-lab-central', 'ul-lab-c'],
      ['master', 'master', '10.213.0.3', 'ul-lab-master', 'ul-lab-m'],
      ['worker1', 'worker', '10.213.0.4', 'ul-lab-worker1', 'ul-lab-w1'],
      ['worker2', 'worker', '10.213.0.5', 'ul-lab-worker2', 'ul-lab-w2'],
    ]);
    const master = p.hosts[1]!;
    expect(master.lsMasterVifId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(master.lsMasterVifId).not.toBe(master.vifId);
    expect(p.hosts[2]!.lsMasterVifId).toBeUndefined();
  });

  it('is deterministic per lab and host, and differs between labs', () => {
    const a = planLab({ name: 'e2e', workers: 3 });
    const b = planLab({ name: 'e2e', workers: 5 });
    const c = planLab({ name: 'other', workers: 3 });
    expect(b.hosts.slice(0, 5)).toEqual(a.hosts);
    expect(c.hosts.map((h) => h.vifId)).not.toEqual(a.hosts.map((h) => h.vifId));
    expect(c.hosts.map((h) => h.mac)).not.toEqual(a.hosts.map((h) => h.mac));
    const ids = new Set(b.hosts.flatMap((h) => [h.vifId, h.systemId, h.lsMasterVifId].filter(Boolean)));
    expect(ids.size).toBe(b.hosts.length * 2 + 1);
  });

  it('gives locally administered unicast MACs', () => {
    for (const h of planLab({ workers: 30 }).hosts) {
      expect(h.mac).toMatch(/^02(:[0-9a-f]{2}){5}$/);
    }
    expect(labMac('lab', 'x')).toBe(labMac('lab', 'x'));
  });

  it('keeps every link name within Linux 15 characters at the limits', () => {
    const p = planLab({ name: 'abcdefg', workers: 250, subnet: '10.1.0.0/16' });
    expect(p.hosts).toHaveLength(252);
    for (const h of p.hosts) expect(h.link.length).toBeLessThanOrEqual(15);
    expect(p.bridge.length).toBeLessThanOrEqual(15);
    expect(p.hosts.at(-1)!.address).toBe('10.1.0.253');
  });

  it('counts addresses: a /24 holds 250 workers, a /29 three', () => {
    expect(planLab({ workers: 250 }).hosts.at(-1)!.address).toBe('10.213.0.253');
    expect(planLab({ workers: 3, subnet: '192.168.7.8/29' }).hosts.map((h) => h.address)).toEqual([
      '192.168.7.10',
      '192.168.7.11',
      '192.168.7.12',
      '192.168.7.13',
      '192.168.7.14',
    ]);
    expect(() => planLab({ workers: 4, subnet: '192.168.7.8/29' })).toThrow(/room for 3 workers, not 4/);
  });

  it.each([
    [{ name: 'Lab' }, /invalid lab name 'Lab'/],
    [{ name: 'toolongname' }, /invalid lab name/],
    [{ name: 'lab-' }, /invalid lab name/],
    [{ name: '' }, /invalid lab name/],
    [{ workers: -1 }, /--workers must be an integer from 0 to 250/],
    [{ workers: 1.5 }, /--workers/],
    [{ workers: 251 }, /--workers/],
    [{ subnet: '10.213.0.5/24' }, /not a network address; did you mean 10.213.0.0\/24/],
    [{ subnet: '8.8.8.0/24' }, /not a private range/],
    [{ subnet: '10.0.0.0/30' }, /between \/8 and \/29/],
    [{ subnet: '10.213.0.0' }, /CIDR form/],
    [{ subnet: '10.213.0.300/24' }, /CIDR form/],
    [{ subnet: 'fd00::/64' }, /CIDR form/],
  ])('refuses %j', (input, message) => {
    expect(() => planLab(input)).toThrow(InputError);
    expect(() => planLab(input)).toThrow(message);
  });

  it('parses subnets', () => {
    expect(parseSubnet('172.16.4.0/22')).toMatchObject({ network: '172.16.4.0', prefixLength: 22 });
  });
});

describe('names a lab owns', () => {
  it('match exactly: lab e2e does not own the names of lab e2e-td', () => {
    expect(isLabNetns('e2e', 'ul-e2e-worker12')).toBe(true);
    expect(isLabNetns('e2e', 'ul-e2e-central')).toBe(true);
    expect(isLabNetns('e2e', 'ul-e2e-td-worker1')).toBe(false);
    expect(isLabNetns('e2e', 'ul-e2e-worker0')).toBe(false);
    expect(isLabNetns('e2e', 'ul-e2e-workerx')).toBe(false);
    expect(isLabLink('e2e', 'ul-e2e-br')).toBe(true);
    expect(isLabLink('e2e', 'ul-e2e-w3')).toBe(true);
    expect(isLabLink('e2e', 'ul-e2e-td-w1')).toBe(false);
    expect(isLabLink('e2e', 'ul-e2e-td-br')).toBe(false);
    expect(hostOfNetns('e2e', 'ul-e2e-master')).toBe('master');
    expect(hostOfLink('ul-e2e-', 'ul-e2e-w7')).toBe('worker7');
    expect(hostOfLink('ul-e2e-', 'ul-e2e-c')).toBe('central');
    expect(hostOfLink('ul-e2e-', 'ul-e2e-br')).toBeUndefined();
  });
});

describe('uuidV5', () => {
  it('follows RFC 4122 (known vector: DNS namespace, python.org)', () => {
    expect(uuidV5('python.org', '6ba7b810-9dad-11d1-80b4-00c04fd430c8')).toBe('886313e1-3b8a-5372-9b90-0c9aee199e5d');
  });
  it('tenant ids are 32 hex digits, stable per lab', () => {
    expect(tenantId('lab')).toMatch(/^[0-9a-f]{32}$/);
    expect(tenantId('lab')).toBe(tenantId('lab'));
    expect(tenantId('lab')).not.toBe(tenantId('lab2'));
  });
});

describe('checkStateDir', () => {
  it.each(['/var/lib/lab', '/etc/lab', '/usr', '/opt/x/y', '/proc/x', '/'])('refuses %s', (dir) => {
    expect(() => checkStateDir(dir)).toThrow(InputError);
  });
  it.each(['/tmp/lab', '/root/.lab/x', '/work/main/.lab/lab', '/variable/x', '/usrx'])('accepts %s', (dir) => {
    expect(() => checkStateDir(dir)).not.toThrow();
  });
});

describe('host files', () => {
  const p = planLab({ name: 't', workers: 1, subnet: '10.9.8.0/24' });
  const w = p.hosts[2]!;

  it('fstab: overlays first, then fresh directories, proc and shm, all relative to the host directory', () => {
    const lines = fstab()
      .split('\n')
      .filter((l) => l && !l.startsWith('#'));
    expect(lines.map((l) => l.split(' ')[1])).toEqual(['/etc', '/usr', '/opt', '/var', '/root', '/run', '/tmp', '/home', '/srv', '/mnt', '/proc', '/dev/shm']);
    expect(lines[0]).toBe('ul-etc /etc overlay lowerdir=/etc,upperdir=etc.upper,workdir=etc.work 0 0');
    expect(lines[4]).toBe('root /root none bind 0 0');
    // `mount -a` skips an entry whose source and target are mounted already: proc and
    // tmpfs need sources of their own to be mounted afresh.
    expect(lines[10]!.startsWith('ul-proc /proc proc ')).toBe(true);
    expect(lines[11]!.startsWith('ul-shm /dev/shm tmpfs ')).toBe(true);
  });

  it('network batches', () => {
    expect(netBatch(p, w)).toBe('link set lo up\naddr add 10.9.8.4/24 dev eth1\nlink set eth1 up\nroute add default via 10.9.8.1 dev eth1\n');
    expect(rootBatchCreate(p, [w])).toBe(
      `netns add ul-t-worker1\nlink add ul-t-w1 type veth peer name eth1 address ${w.mac} netns ul-t-worker1\nlink set ul-t-w1 master ul-t-br up\n`,
    );
  });

  it('sshd listens on eth1 only, keys only, without PAM', () => {
    const c = sshdConfig(w);
    expect(c).toContain('ListenAddress 10.9.8.4\n');
    expect(c).toContain('UsePAM no\n');
    expect(c).toContain('PasswordAuthentication no\n');
    expect(c).toContain('PermitRootLogin prohibit-password\n');
    expect(c).not.toMatch(/MaxSessions|MaxStartups/);
  });
});
