import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { inputErrorsOf } from '../errors.js';
import { VaultKeyring } from '../vars/vault.js';
import { loadPlaybook } from './load.js';
import { allTasks } from './model.js';

const fixtures = resolve(__dirname, '../../test/fixtures/playbooks');
const bad = (name: string) => join(fixtures, 'bad', name);

/** Loads a bad playbook and returns its errors as `file:line:col: message` with the path relative. */
function errorsOf(file: string, opts: Parameters<typeof loadPlaybook>[1] = {}): string[] {
  try {
    loadPlaybook(file, opts);
  } catch (e) {
    const errs = inputErrorsOf(e);
    if (errs.length === 0) throw e;
    return errs.map((x) => x.message.replace(join(fixtures, 'bad') + '/', ''));
  }
  throw new Error(`${file} loaded without errors`);
}

describe('loadPlaybook: a playbook using every loader feature', () => {
  const pb = loadPlaybook(join(fixtures, 'good/site.yml'));

  it('imports playbooks in order and names plays', () => {
    expect(pb.plays.map((p) => p.name)).toEqual(['web servers', 'second play']);
    expect(pb.plays[0]!.file).toBe(join(fixtures, 'good/web.yml'));
  });

  it('expands roles (with role params, tags) before tasks, and import_tasks with when/vars', () => {
    const web = pb.plays[0]!;
    expect(web.sections.map((s) => [s.name, s.tasks.map((t) => t.name)])).toEqual([
      ['pre_tasks', []],
      ['roles', ['show port', 'more from the role']],
      ['tasks', ['extra step']],
      ['post_tasks', []],
    ]);
    const [show, more] = web.sections[1]!.tasks;
    expect(show!.role?.name).toBe('web');
    expect(show!.role?.params).toEqual({ port: 8081 });
    expect(show!.role?.defaults).toEqual({ port: 80, web_name: 'default' });
    expect(show!.role?.vars).toEqual({ web_name: 'demo' });
    expect(show!.tags).toEqual(['web']);
    expect(more!.module).toBe('assert');
    expect(more!.baseDir).toBe(join(fixtures, 'good/roles/web'));
    const extra = web.sections[2]!.tasks[0]!;
    expect(extra.vars).toEqual({ extra_flag: true });
    expect(extra.when.map((c) => c.src)).toEqual(['enable_extra | default(true)']);
    expect(web.handlers.map((h) => h.name)).toEqual(['restart web', 'reload web']);
    expect(web.handlers[1]!.listen).toEqual(['web changed']);
    expect(web.become).toBe(true);
    expect(pb.varsFileValues.get(join(fixtures, 'good/vars/common.yml'))).toEqual({ common_value: 42 });
  });

  it('parses free-form and key=value parameters, FQCN module names and play options', () => {
    const p = pb.plays[1]!;
    expect(p.hosts).toBe('workers:&k8s');
    expect(p.serial).toEqual([1, '50%']);
    expect(p.strategy).toBe('free');
    expect(p.gatherFacts).toBe(false);
    expect(p.secretVars).toEqual(['db_password']);
    const [say, cmd, shell] = allTasks(p);
    expect(say!.module).toBe('debug');
    expect(say!.args).toEqual({ msg: '{{ greeting }} world' });
    expect(say!.tags).toEqual(['talk']);
    expect(cmd!.args).toEqual({ cmd: '/bin/true', creates: '/tmp/x', chdir: '/tmp' });
    expect(cmd!.register).toBe('out');
    expect(cmd!.changedWhen?.map((c) => c.src)).toEqual(['out.rc != 0']);
    expect(shell!.args).toEqual({ cmd: 'echo "a b" | tr a x' });
    expect(shell!.when.map((c) => c.src)).toEqual(['out is defined', "'x' in out.stdout or true"]);
    expect(shell!.id).toBe(`${join(fixtures, 'good/site.yml')}:19:7`);
  });
});

describe('loadPlaybook: every error with file:line:col, all at once', () => {
  const cases: [string, string[]][] = [
    ['not-a-list.yml', ['not-a-list.yml:1:1: a playbook must be a list of plays, got mapping']],
    ['play-keyword.yml', ["play-keyword.yml:1:3: play has no 'hosts'", "play-keyword.yml:2:3: unknown play keyword 'hostz' (did you mean 'hosts'?)"]],
    ['unknown-module.yml', ["unknown-module.yml:4:7: unknown module 'comand' (did you mean 'command'?)"]],
    ['unknown-param.yml', ["unknown-param.yml:4:9: module 'debug' has no parameter 'msgg' (did you mean 'msg'?); it takes: msg, var, verbosity"]],
    ['missing-param.yml', ["missing-param.yml:4:15: module 'assert': missing required parameter 'that'"]],
    ['wrong-type.yml', ["wrong-type.yml:5:20: module 'debug': parameter 'verbosity': expected an integer, got string 'lots'"]],
    ['two-modules.yml', ['two-modules.yml:5:7: task has several modules (debug, command): give exactly one']],
    ['no-module.yml', ['no-module.yml:3:7: task has no module: give exactly one (e.g. command, copy, template, service; `underlay schema` lists them all)']],
    ['task-keyword.yml', ["task-keyword.yml:4:7: unknown task keyword 'whenn' (did you mean 'when'?)"]],
    ['bad-loop.yml', ["bad-loop.yml:4:13: 'loop' must be a list or a template giving one, got integer"]],
    ['bad-register.yml', ["bad-register.yml:4:17: 'register' must be a variable name, got 'my-result'"]],
    ['retries-without-until.yml', ["retries-without-until.yml:4:7: 'retries' needs 'until'"]],
    ['missing-handler.yml', ["missing-handler.yml:3:7: notify: no handler named or listening to 'restart kubelt' (did you mean 'restart kubelet'?)"]],
    ['vars-not-mapping.yml', ['vars-not-mapping.yml:3:5: play vars must be a mapping, got list']],
    ['bad-var-name.yml', ["bad-var-name.yml:3:5: invalid variable name 'pod-subnet' in play vars: use letters, digits and underscores, not starting with a digit"]],
    ['bad-serial.yml', ["bad-serial.yml:2:11: 'serial' must be a positive integer or a percentage like '30%', got string 'zero'"]],
    ['bad-strategy.yml', ["bad-strategy.yml:2:13: 'strategy' must be linear or free, got 'fast'"]],
    ['exclusive-params.yml', ["exclusive-params.yml:5:9: module 'debug': parameters msg and var are mutually exclusive"]],
    ['bad-choice.yml', ["bad-choice.yml:3:13: module 'meta': parameter 'action' must be one of flush_handlers, end_host, end_play, noop, got 'flush_everything'"]],
    [
      'several-errors.yml',
      [
        "several-errors.yml:2:17: 'gather_facts' must be a boolean, got string",
        "several-errors.yml:5:22: 'ignore_errors' must be a boolean, got string",
        "several-errors.yml:6:13: module 'shell': missing required parameter 'cmd'",
        "several-errors.yml:7:7: unknown task keyword 'creates'",
      ],
    ],
    ['missing-import.yml', [`missing-import.yml:1:20: cannot read ${bad('does-not-exist.yml')}: ENOENT`]],
    ['import-loop.yml', [`import-loop.yml:1:20: import_playbook loop: ${bad('import-loop.yml')} -> ${bad('import-loop.yml')}`]],
  ];

  it.each(cases)('%s', (file, expected) => {
    expect(errorsOf(bad(file))).toEqual(expected);
  });

  it('missing role names the places looked in', () => {
    expect(errorsOf(bad('missing-role.yml'))).toEqual([`missing-role.yml:3:7: role 'no-such-role' not found (looked in ${bad('roles/no-such-role')})`]);
  });

  it('bad YAML is reported at the offending place', () => {
    const [e] = errorsOf(bad('bad-yaml.yml'));
    expect(e).toMatch(/^bad-yaml\.yml:\d+:\d+: bad YAML: /);
  });

  it('a bad expression points at its column', () => {
    const [e, quoted] = errorsOf(bad('bad-expression.yml'));
    expect(e).toMatch(/^bad-expression\.yml:4:26: bad expression: /);
    expect(quoted).toBe("bad-expression.yml:6:19: bad expression: unexpected ')' in `a == )`");
  });

  it('a bad template names the place', () => {
    const [e] = errorsOf(bad('bad-template.yml'));
    expect(e).toMatch(/^bad-template\.yml:4:15: template syntax error: /);
  });

  it('a vault-encrypted vars file with the wrong password', () => {
    const vaultFixture = resolve(__dirname, '../../test/fixtures/vault/vars-1.1.yml');
    const keyring = new VaultKeyring([{ password: 'not-the-password' }]);
    const tmp = mkdtempSync(join(tmpdir(), 'ul-vault-'));
    const pbFile = join(tmp, 'pb.yml');
    writeFileSync(pbFile, `- hosts: all\n  vars_files:\n    - ${vaultFixture}\n  tasks: []\n`);
    const errs = (() => {
      try {
        loadPlaybook(pbFile, { keyring });
      } catch (e) {
        return inputErrorsOf(e).map((x) => x.message);
      }
      return [];
    })();
    expect(errs).toHaveLength(1);
    expect(errs[0]).toMatch(new RegExp(`^${vaultFixture.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:1:1: .*(password|decrypt)`));
  });
});

describe("the project's playbooks", () => {
  it('tag every Open vSwitch task of the worker role `ovs`, and nothing else (what --skip-tags ovs leaves out on a lab made --without-ovs)', () => {
    const pb = loadPlaybook(resolve(__dirname, '../../playbooks/worker.yml'));
    const tasks = pb.plays.flatMap((p) => allTasks(p));
    const ovsModule = tasks.filter((t) => t.module.startsWith('ovs_')).map((t) => t.name);
    const tagged = tasks.filter((t) => t.tags.includes('ovs')).map((t) => t.name);
    expect(ovsModule.length).toBeGreaterThanOrEqual(3);
    expect(tagged).toEqual(ovsModule);
  });
});
