import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main, ranPlay, type Io } from './main.js';

const root = resolve(__dirname, '../..');
const fx = (p: string) => join(root, 'test/fixtures', p);

async function cli(args: string[], env: NodeJS.ProcessEnv = {}) {
  let out = '';
  let err = '';
  const io: Io = { out: (s) => (out += s), err: (s) => (err += s), isTTY: false, env: { ...env } };
  const code = await main(args, io);
  return { code, out, err };
}

describe('underlay CLI (no host is contacted by any of these)', () => {
  it('--syntax-check passes a good playbook', async () => {
    const r = await cli(['run', fx('playbooks/good/site.yml'), '--syntax-check']);
    expect(r).toMatchObject({ code: 0, err: '' });
    expect(r.out).toBe(`playbook: ${fx('playbooks/good/site.yml')}\n`);
  });

  it('bad input: every error as file:line:col, exit 4', async () => {
    const r = await cli(['run', fx('playbooks/bad/several-errors.yml'), '--syntax-check']);
    expect(r.code).toBe(4);
    expect(r.err.split('\n').filter(Boolean)).toEqual([
      `error: ${fx('playbooks/bad/several-errors.yml')}:2:17: 'gather_facts' must be a boolean, got string`,
      `error: ${fx('playbooks/bad/several-errors.yml')}:5:22: 'ignore_errors' must be a boolean, got string`,
      `error: ${fx('playbooks/bad/several-errors.yml')}:6:13: module 'shell': missing required parameter 'cmd'`,
      `error: ${fx('playbooks/bad/several-errors.yml')}:7:7: unknown task keyword 'creates'`,
      '4 errors',
    ]);
  });

  it('an undefined variable is found before any host is contacted, with its column', async () => {
    const r = await cli(['run', fx('playbooks/bad/undefined-var.yml'), '-i', fx('precedence/inventory.yml'), '--list-tasks']);
    expect(r.code).toBe(4);
    expect(r.err).toBe(`error: ${fx('playbooks/bad/undefined-var.yml')}:6:41: undefined variable 'uplnk' in "bridge {{ bridge }} on {{ uplnk }}"\n`);
  });

  it('--list-hosts and --list-tasks print the plan', async () => {
    const r = await cli(['run', fx('playbooks/good/site.yml'), '-i', fx('inventory/yaml-nested/hosts.yml'), '--list-hosts', '--list-tasks', '-e', 'port=1']);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toContain('play #1 (web): web servers');
    expect(r.out).toContain('      web : show port\tTAGS: [web]');
  });

  it('a pattern that selects nothing is an error naming it (exit 4)', async () => {
    const r = await cli(['run', fx('playbooks/good/site.yml'), '-i', fx('precedence/inventory.yml'), '--list-hosts', '--limit', 'nosuchhost']);
    expect(r.code).toBe(4);
    expect(r.err).toMatch(/nosuchhost/);
  });

  it('unknown options and commands are bad input', async () => {
    expect((await cli(['run', 'x.yml', '--frobnicate'])).code).toBe(4);
    expect((await cli(['frobnicate'])).code).toBe(4);
    expect((await cli(['run', 'x.yml', '-f', '0'])).err).toMatch(/--forks must be a positive integer/);
    const misplaced = await cli(['lab', 'status', '--without-ovs']);
    expect(misplaced).toMatchObject({ code: 4, err: expect.stringMatching(/--without-ovs is an option of lab up/) });
  });

  it('inventory --list-hosts follows patterns', async () => {
    const r = await cli(['inventory', '-i', fx('precedence/inventory.yml'), '--list-hosts', 'child:&parent']);
    expect(r).toMatchObject({ code: 0, out: '  hosts (1):\n    h1\n' });
  });
});

describe('the README', () => {
  it("lists every module exactly as `underlay modules` prints the table", async () => {
    const { readFileSync } = await import('node:fs');
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    const r = await cli(['modules']);
    expect(r.code).toBe(0);
    expect(readme).toContain(r.out);
  });
});

describe('ranPlay (the code cache is written after such a command)', () => {
  it.each([
    [['run', 'site.yml', '-i', 'inv.yml'], 0, true],
    [['run', 'site.yml'], 2, true],
    [['run', 'site.yml'], 3, true],
    [['run', 'site.yml', '--verify-idempotent'], 5, true],
    [['run', 'site.yml'], 4, false],
    [['run', 'site.yml'], 1, false],
    [['run', 'site.yml', '--syntax-check'], 0, false],
    [['run', 'site.yml', '--list-tasks'], 0, false],
    [['run', '--help'], 0, false],
    [['lab', 'up'], 0, false],
    [['--version'], 0, false],
  ] as const)('%j exit %d: %s', (argv, code, yes) => {
    expect(ranPlay(argv, code)).toBe(yes);
  });
});
