import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { InputError, VaultError } from '../errors.js';
import { VaultKeyring } from '../vars/vault.js';
import { listJson, loadInventory, loadVarsDir } from './index.js';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function tree(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'underlay-inv-vars-'));
  dirs.push(dir);
  for (const [p, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, p)), { recursive: true });
    writeFileSync(join(dir, p), text);
  }
  return dir;
}

/** parent > child > grandchild, host h in grandchild; `other` at depth 1 also holds h. */
const NESTED = `
all:
  vars: {v: all-inv}
  children:
    parent:
      vars: {v: parent-inv}
      children:
        child:
          vars: {v: child-inv}
          hosts:
            h:
    other:
      hosts:
        h:
`;

describe('variable precedence (low to high)', () => {
  const levels: Array<[string, Record<string, string>, string]> = [
    ['1. group all in the inventory file', {}, 'child-inv'],
    ['2. a child group beats its parent (inventory file)', {}, 'child-inv'],
    ['3. group_vars/all beats every group var of the inventory file', { 'group_vars/all.yml': 'v: gv-all\n' }, 'gv-all'],
    [
      '5. group_vars/GROUP beats group_vars/all, deeper groups last',
      { 'group_vars/all.yml': 'v: gv-all\n', 'group_vars/parent.yml': 'v: gv-parent\n', 'group_vars/child.yml': 'v: gv-child\n' },
      'gv-child',
    ],
    [
      '7. host vars of the inventory file beat group_vars',
      { 'group_vars/child.yml': 'v: gv-child\n', 'hosts.yml': NESTED.replace('hosts:\n            h:', 'hosts:\n            h: {v: host-inv}') },
      'host-inv',
    ],
    [
      '8. host_vars beat host vars of the inventory file',
      { 'host_vars/h.yml': 'v: hv\n', 'hosts.yml': NESTED.replace('hosts:\n            h:', 'hosts:\n            h: {v: host-inv}') },
      'hv',
    ],
  ];
  for (const [name, files, want] of levels) {
    it(name, () => {
      const dir = tree({ 'hosts.yml': NESTED, ...files });
      expect(loadInventory([join(dir, 'hosts.yml')]).hostVars('h')['v']).toBe(want);
    });
  }

  it('1. without any group var, all gives the value', () => {
    const dir = tree({ 'hosts.ini': '[all:vars]\nv=all\n[g]\nh\n' });
    expect(loadInventory([join(dir, 'hosts.ini')]).hostVars('h')['v']).toBe('all');
  });

  it('orders groups of equal depth by ansible_group_priority, then by name', () => {
    const dir = tree({
      'hosts.yml': `
a: {vars: {v: a, w: a}, hosts: {h: }}
b: {vars: {v: b, w: b, ansible_group_priority: 0}, hosts: {h: }}
c: {vars: {w: c}, hosts: {h: }}
`,
    });
    const inv = loadInventory([join(dir, 'hosts.yml')]);
    // b has the lowest priority so it applies first; a and c (priority 1) by name
    expect(inv.hostVars('h')).toMatchObject({ v: 'a', w: 'c' });
    expect(inv.groupsOf('h')).toEqual(['all', 'b', 'a', 'c']);
  });

  it('takes group_vars/ files source by source: a later source beats a deeper group of an earlier one', () => {
    const dir = tree({
      's1/hosts.yml': 'parent:\n  children:\n    child:\n      hosts: {h: }\n',
      's1/group_vars/child.yml': 'v: s1-child\n',
      's2/hosts.yml': 'parent:\n  hosts: {h: }\n',
      's2/group_vars/parent.yml': 'v: s2-parent\n',
    });
    const inv = loadInventory([join(dir, 's1/hosts.yml'), join(dir, 's2/hosts.yml')]);
    expect(inv.hostVars('h')['v']).toBe('s2-parent');
  });

  it('4/6/9. vars beside the playbook beat those beside the inventory at each level', () => {
    const dir = tree({
      'inv/hosts.yml': NESTED,
      'inv/group_vars/all.yml': 'a: inv\n',
      'inv/group_vars/child.yml': 'g: inv\n',
      'inv/host_vars/h.yml': 'hv: inv\n',
      'play/group_vars/all.yml': 'a: play\ng: play-all\n',
      'play/group_vars/child.yml': 'g: play\n',
      'play/host_vars/h.yml': 'hv: play\n',
    });
    const inv = loadInventory([join(dir, 'inv/hosts.yml')], { playbookDir: join(dir, 'play') });
    expect(inv.hostVars('h')).toMatchObject({ a: 'play', g: 'play', hv: 'play' });
    const later = loadInventory([join(dir, 'inv/hosts.yml')]);
    expect(later.hostVars('h')).toMatchObject({ a: 'inv', g: 'inv', hv: 'inv' });
    later.addPlaybookDir(join(dir, 'play'));
    expect(later.hostVars('h')).toMatchObject({ a: 'play', g: 'play', hv: 'play' });
  });

  it('replaces whole values (hash_behaviour=replace)', () => {
    const dir = tree({ 'hosts.yml': NESTED, 'group_vars/all.yml': 'd: {a: 1, b: 2}\n', 'host_vars/h.yml': 'd: {b: 3}\n' });
    expect(loadInventory([join(dir, 'hosts.yml')]).hostVars('h')['d']).toEqual({ b: 3 });
  });

  it('adds the magic variables a play sees', () => {
    const dir = tree({ 'hosts.yml': 'web:\n  hosts:\n    w1.example.com:\n    10.0.0.1:\n' });
    const inv = loadInventory([join(dir, 'hosts.yml')]);
    const v = inv.hostVars('w1.example.com');
    expect(v['inventory_hostname']).toBe('w1.example.com');
    expect(v['inventory_hostname_short']).toBe('w1');
    expect(inv.hostVars('10.0.0.1')['inventory_hostname_short']).toBe('10.0.0.1');
    expect(v['group_names']).toEqual(['web']);
    expect(v['groups']).toEqual({ all: ['w1.example.com', '10.0.0.1'], ungrouped: [], web: ['w1.example.com', '10.0.0.1'] });
    expect(v['inventory_file']).toBe(join(dir, 'hosts.yml'));
    expect(v['inventory_dir']).toBe(dir);
  });
});

describe('group_vars/ and host_vars/ files', () => {
  it('uses NAME before NAME.yml/.yaml/.json, and reads a NAME/ directory recursively in name order', () => {
    const dir = tree({
      'group_vars/web': 'a: noext\n',
      'group_vars/web.yml': 'a: yml\n',
      'group_vars/db.yaml': 'a: yaml\n',
      'group_vars/db.json': '{"a": "json"}',
      'group_vars/app/10.yml': 'a: 10\nb: 10\n',
      'group_vars/app/20.json': '{"a": 20}',
      'group_vars/app/sub/30': 'c: 30\n',
      'group_vars/app/x.txt': 'a: txt\n',
      'group_vars/app/.h.yml': 'a: hidden\n',
      'group_vars/app/y.yml~': 'a: backup\n',
      'group_vars/app/empty.yml': '# nothing\n',
    });
    const vd = loadVarsDir(dir);
    const flat = (files: ReturnType<typeof vd.groupVars>) => Object.fromEntries(files.flatMap((f) => [...f.vars]));
    expect(flat(vd.groupVars('web'))).toEqual({ a: 'noext' });
    expect(flat(vd.groupVars('db'))).toEqual({ a: 'yaml' });
    expect(vd.groupVars('app').map((f) => f.file.slice(dir.length))).toEqual(['/group_vars/app/10.yml', '/group_vars/app/20.json', '/group_vars/app/sub/30']);
    expect(flat(vd.groupVars('app'))).toEqual({ a: 20, b: 10, c: 30 });
    expect(vd.groupVars('none')).toEqual([]);
    expect(vd.hostVars('web')).toEqual([]);
  });

  it('reports a vars file that is not a mapping, and bad YAML, with the place', () => {
    const dir = tree({ 'hosts': '[web]\nw\n', 'group_vars/web.yml': '- a\n- b\n' });
    expect(() => loadInventory([join(dir, 'hosts')])).toThrow(
      new InputError('a vars file must be a mapping of variable names to values, got list', { file: join(dir, 'group_vars/web.yml'), line: 1, col: 1 }),
    );
    const dir2 = tree({ 'hosts': '[web]\nw\n', 'host_vars/w.yml': 'a: [1,\n' });
    expect(() => loadInventory([join(dir2, 'hosts')])).toThrow(/host_vars\/w\.yml:\d+:\d+: bad YAML/);
  });

  it('does not read vars files of groups and hosts that do not exist', () => {
    const dir = tree({ 'hosts': '[web]\nw\n', 'group_vars/nosuch.yml': 'a: [\n' });
    expect(loadInventory([join(dir, 'hosts')]).hostVars('w')).not.toHaveProperty('a');
  });
});

describe('connectionOf', () => {
  it('reads ansible_host/port/user/key and the known hosts file, ansible_ssh_* winning', () => {
    const dir = tree({
      'hosts.ini':
        '[g]\n' +
        'a ansible_host=10.0.0.1 ansible_port=2222 ansible_user=ops ansible_ssh_private_key_file=/k underlay_known_hosts_file=/kh\n' +
        'b ansible_host=10.0.0.1 ansible_ssh_host=10.0.0.2 ansible_port=1 ansible_ssh_port="2200" ansible_ssh_user=root ansible_user=x\n' +
        'c:2022 ansible_user=u\n',
    });
    const inv = loadInventory([join(dir, 'hosts.ini')]);
    expect(inv.connectionOf('a')).toEqual({ address: '10.0.0.1', port: 2222, user: 'ops', privateKeyFile: '/k', knownHostsFile: '/kh' });
    expect(inv.connectionOf('b')).toEqual({ address: '10.0.0.2', port: 2200, user: 'root' });
    expect(inv.connectionOf('c')).toEqual({ address: 'c', port: 2022, user: 'u' });
  });
  it('defaults to the inventory name, port 22 and the local user', () => {
    const dir = tree({ 'hosts.ini': 'h\n' });
    const c = loadInventory([join(dir, 'hosts.ini')]).connectionOf('h');
    expect(c.address).toBe('h');
    expect(c.port).toBe(22);
    expect(typeof c.user).toBe('string');
    expect(c.user.length).toBeGreaterThan(0);
  });
  it('renders templated values when asked, and rejects a bad port at its place', () => {
    const dir = tree({ 'hosts.yml': 'g:\n  hosts:\n    h:\n      ansible_host: "10.0.0.{{ n }}"\n      ansible_port: "{{ p }}"\n    bad:\n      ansible_port: ssh\n' });
    const inv = loadInventory([join(dir, 'hosts.yml')]);
    const render = (v: unknown): unknown => (typeof v === 'string' ? v.replace('{{ n }}', '7').replace('{{ p }}', '2200') : v);
    expect(inv.connectionOf('h', { render })).toMatchObject({ address: '10.0.0.7', port: 2200 });
    expect(() => inv.connectionOf('bad')).toThrow(
      new InputError(`ansible_port of host 'bad' must be a port number (1-65535), got "ssh"`, { file: join(dir, 'hosts.yml'), line: 7, col: 21 }),
    );
  });
  it('rejects an unknown host', () => {
    const dir = tree({ 'hosts.ini': 'h\n' });
    expect(() => loadInventory([join(dir, 'hosts.ini')]).connectionOf('nope')).toThrow("unknown host 'nope'");
  });
});

describe('vault', () => {
  const keyring = new VaultKeyring([{ password: 'unit-test-password' }]);
  const inline = (plain: string, indent: string): string =>
    '!vault |\n' +
    keyring
      .encrypt(plain)
      .trimEnd()
      .split('\n')
      .map((l) => indent + l)
      .join('\n');

  function vaultTree() {
    return tree({
      'hosts.yml': `web:\n  hosts:\n    w1:\n      api_key: ${inline('k-123', '        ')}\n      plain: p\n    w2:\n`,
      'group_vars/all.yml': keyring.encrypt('db_password: pw-all\nshared: from-vault\n'),
      'group_vars/web.yml': 'shared: plain-web\n',
    });
  }

  it('decrypts encrypted vars files and !vault values, and names the secret variables', () => {
    const dir = vaultTree();
    const inv = loadInventory([join(dir, 'hosts.yml')], { keyring });
    expect(inv.hostVars('w1')).toMatchObject({ api_key: 'k-123', db_password: 'pw-all', shared: 'plain-web', plain: 'p' });
    // shared is overridden by a plain value, so it is no secret for the hosts
    expect([...inv.secretVarNames('w1')].sort()).toEqual(['api_key', 'db_password']);
    expect([...inv.secretVarNames('w2')]).toEqual(['db_password']);
    expect([...inv.secretVarNames()].sort()).toEqual(['api_key', 'db_password']);
  });

  it('lists !vault values as Ansible prints them, without needing the password', () => {
    const dir = tree({ 'hosts.yml': `web:\n  hosts:\n    w1:\n      api_key: ${inline('k-123', '        ')}\n` });
    const inv = loadInventory([join(dir, 'hosts.yml')]);
    const hv = (listJson(inv)['_meta'] as { hostvars: Record<string, Record<string, unknown>> }).hostvars;
    expect(hv['w1']!['api_key']).toEqual({ __ansible_vault: expect.stringMatching(/^\$ANSIBLE_VAULT;1\.1;AES256\n[0-9a-f\n]+$/) });
    // the value itself cannot be used without the password
    expect(() => inv.hostVars('w1')).toThrow(/hosts\.yml:4:23: this value is vault-encrypted; give --vault-password-file or UNDERLAY_VAULT_PASSWORD/);
  });

  it('without a keyring, an encrypted vars file is an error naming the file', () => {
    const dir = vaultTree();
    expect(() => loadInventory([join(dir, 'hosts.yml')])).toThrow(
      new InputError('this file is vault-encrypted; give --vault-password-file or UNDERLAY_VAULT_PASSWORD', { file: join(dir, 'group_vars/all.yml'), line: 1, col: 1 }),
    );
  });

  it('with the wrong password, says so at the file', () => {
    const dir = vaultTree();
    const wrong = new VaultKeyring([{ password: 'not-it' }]);
    expect(() => loadInventory([join(dir, 'hosts.yml')], { keyring: wrong })).toThrow(VaultError);
  });

  it('reads a vault-encrypted inventory file, all of whose variables are secret', () => {
    const dir = tree({ 'hosts': keyring.encrypt('[db]\nd1 password=hunter2\n') });
    const inv = loadInventory([join(dir, 'hosts')], { keyring });
    expect(inv.hostVars('d1')['password']).toBe('hunter2');
    expect(inv.secretVarNames('d1')).toEqual(new Set(['password']));
  });
});
