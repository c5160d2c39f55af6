/**
 * `underlay run` end to end against real lab hosts over SSH: a playbook using every core
 * module converges; a second run changes nothing; --check on fresh hosts reports the changes
 * and changes nothing; --diff shows file diffs; --limit touches only the selected hosts; a
 * changed host key is refused; a host whose sshd is stopped is reported unreachable while
 * the others finish; a secret never appears in any output; a program that exits within its
 * `settle` fails its host at the follow-up check.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { labDown, labStatus, labUp } from '../../src/lab/index.js';
import { getLab, inHost, labOptionsOf, labSkipReason } from '../support/lab.js';

const lab = getLab();
const root = resolve(__dirname, '../..');
const bin = join(root, 'bin/underlay.js');
/** The code cache of these runs (src/cli/codecache.ts), not the user's. */
const cacheHome = mkdtempSync(join(tmpdir(), 'ul-e2e-cache-'));
afterAll(() => rmSync(cacheHome, { recursive: true, force: true }));

interface Ran {
  code: number;
  stdout: string;
  stderr: string;
  events: Record<string, any>[];
}

function underlay(args: string[], env: Record<string, string> = {}): Ran {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', env: { ...process.env, CI: 'true', XDG_CACHE_HOME: cacheHome, ...env }, timeout: 240_000 });
  const events = args.includes('--json')
    ? r.stdout
        .split('\n')
        .filter((l) => l.trim() !== '')
        .map((l) => JSON.parse(l) as Record<string, any>)
    : [];
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr, events };
}

/** PIDs of the lab hosts now (another test file may have rebuilt a host since the setup). */
const pids = new Map<string, number>();

/** Runs a command inside a lab host (all its namespaces), bypassing SSH, to inspect it. */
function onHost(host: string, script: string): { code: number; out: string } {
  const pid = pids.get(host);
  const h = lab!.hosts.find((x) => x.name === host);
  if (pid === undefined || !h) throw new Error(`no PID for lab host ${host}`);
  return inHost(h, pid, ['sh', '-c', script]);
}

const recapOf = (r: Ran) => r.events.find((e) => e['type'] === 'recap')!['hosts'] as Record<string, { changed: number; failed: number; unreachable: number; ok: number }>;

describe.skipIf(!lab)(`underlay run against the lab${lab ? '' : ` (skipped: ${labSkipReason()})`}`, () => {
  let dir: string;
  let pb: string;
  let password: string;
  const workers = ['worker1', 'worker2', 'worker3'];
  const appDir = '/opt/ul-e2e';

  beforeAll(async () => {
    for (const h of (await labStatus(labOptionsOf(lab!))).hosts) pids.set(h.name, h.pid);
    dir = mkdtempSync(join(tmpdir(), 'ul-e2e-run-'));
    password = String((readFileSync(lab!.inventoryPath, 'utf8').match(/os_password: (\S+)/) ?? [])[1] ?? '').replace(/^["']|["']$/g, '');
    expect(password.length).toBeGreaterThan(8);
    mkdirSync(join(dir, 'templates'));
    mkdirSync(join(dir, 'files'));
    writeFileSync(join(dir, 'templates/motd.hbs'), 'host {{ inventory_hostname }}\nextra {{ motd_extra }}\n');
    writeFileSync(join(dir, 'files/hello.txt'), 'hello from underlay\n');
    const helloSha = createHash('sha256').update('hello from underlay\n').digest('hex');
    // a release-like tarball and a tiny Debian package, made here
    mkdirSync(join(dir, 'tree/bundle'), { recursive: true });
    writeFileSync(join(dir, 'tree/bundle/tool.sh'), '#!/bin/sh\necho tool\n', { mode: 0o755 });
    execFileSync('tar', ['-czf', join(dir, 'bundle.tar.gz'), '-C', join(dir, 'tree'), 'bundle']);
    mkdirSync(join(dir, 'deb/DEBIAN'), { recursive: true });
    mkdirSync(join(dir, 'deb/usr/share/ul-e2e'), { recursive: true });
    writeFileSync(join(dir, 'deb/DEBIAN/control'), 'Package: ul-e2e-pkg\nVersion: 1.0\nArchitecture: all\nMaintainer: underlay tests <tests@underlay.invalid>\nDescription: underlay e2e test package\n');
    writeFileSync(join(dir, 'deb/usr/share/ul-e2e/marker'), 'installed\n');
    execFileSync('dpkg-deb', ['--build', '--root-owner-group', join(dir, 'deb'), join(dir, 'ul-e2e-pkg.deb')], { stdio: 'ignore' });
    pb = join(dir, 'site.yml');
    writeFileSync(
      pb,
      `- name: every core module
  hosts: workers
  vars:
    app_dir: ${appDir}
    motd_extra: first
  tasks:
    - name: directory
      file: { path: "{{ app_dir }}", state: directory, mode: "0755" }
    - name: secret file
      copy: { dest: "{{ app_dir }}/openrc", content: "OS_PASSWORD={{ os_password }}\\n", mode: "0600" }
    - name: copy a file
      copy: { src: hello.txt, dest: "{{ app_dir }}/hello.txt" }
    - name: template
      template: { src: motd.hbs, dest: "{{ app_dir }}/motd" }
      notify: motd changed
    - name: lineinfile
      lineinfile: { path: "{{ app_dir }}/settings.conf", line: "managed by underlay", create: true }
    - name: link
      file: { src: "{{ app_dir }}/motd", dest: "{{ app_dir }}/motd.link", state: link }
    - name: unarchive
      unarchive: { src: ${join(dir, 'bundle.tar.gz')}, dest: "{{ app_dir }}" }
    - name: get_url
      get_url: { url: "file://{{ app_dir }}/hello.txt", dest: "{{ app_dir }}/hello.copy", checksum: "sha256:${helloSha}" }
    - name: package from a local .deb
      package: { deb: ${join(dir, 'ul-e2e-pkg.deb')} }
    - name: sysctl
      sysctl: { name: net.ipv4.conf.all.forwarding, value: "1" }
    - name: service
      service: { name: ul-e2e-sleeper, exec: "sleep 100000", state: started }
    - name: wait_for
      wait_for: { path: "{{ app_dir }}/hello.copy", timeout: 5 }
      when: not ansible_check_mode
    - name: command with creates
      command: touch {{ app_dir }}/made creates={{ app_dir }}/made
    - name: shell, read only
      shell: cat {{ app_dir }}/hello.txt
      register: hello
      changed_when: false
      when: not ansible_check_mode
    - name: set_fact
      set_fact: { greeting: "{{ hello.stdout }}" }
      when: not ansible_check_mode
    - name: assert
      assert: { that: ["greeting == 'hello from underlay'"] }
      when: not ansible_check_mode
    - name: debug
      debug: { var: greeting }
      when: not ansible_check_mode
    - name: fail (not taken)
      fail: { msg: never }
      when: not ansible_check_mode and greeting != 'hello from underlay'
  handlers:
    - name: motd changed
      command: touch {{ app_dir }}/handler-ran
`,
    );
  });

  afterAll(async () => {
    for (const w of workers) onHost(w, `[ -f /run/underlay/ul-e2e-sleeper.pid ] && kill "$(cat /run/underlay/ul-e2e-sleeper.pid)"; rm -rf ${appDir}; dpkg -r ul-e2e-pkg >/dev/null 2>&1; true`);
    rmSync(dir, { recursive: true, force: true });
  });

  it('--check on fresh hosts reports the changes and changes nothing', () => {
    const r = underlay(['run', pb, '-i', lab!.inventoryPath, '--check', '--json']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const recap = recapOf(r);
    for (const w of workers) expect(recap[w]!.changed).toBeGreaterThanOrEqual(8);
    for (const w of workers) {
      expect(onHost(w, `test -e ${appDir} || echo absent`).out).toBe('absent\n');
      expect(onHost(w, 'dpkg-query -W ul-e2e-pkg 2>/dev/null || echo absent').out).toBe('absent\n');
    }
  });

  it('converges, then a second run changes nothing', () => {
    const first = underlay(['run', pb, '-i', lab!.inventoryPath, '--json']);
    expect(first.code, first.stderr + first.stdout.slice(-3000)).toBe(0);
    for (const w of workers) expect(recapOf(first)[w]!.changed).toBeGreaterThan(0);
    for (const w of workers) {
      expect(onHost(w, `cat ${appDir}/motd ${appDir}/settings.conf`).out).toBe(`host ${w}\nextra first\nmanaged by underlay\n`);
      expect(onHost(w, `stat -c %a ${appDir}/openrc`).out).toBe('600\n');
      expect(onHost(w, `readlink ${appDir}/motd.link; cat ${appDir}/bundle/tool.sh ${appDir}/hello.copy /usr/share/ul-e2e/marker; sysctl -n net.ipv4.conf.all.forwarding; test -e ${appDir}/handler-ran && echo handler`).out).toBe(
        `${appDir}/motd\n#!/bin/sh\necho tool\nhello from underlay\ninstalled\n1\nhandler\n`,
      );
      expect(onHost(w, 'kill -0 "$(cat /run/underlay/ul-e2e-sleeper.pid)" && echo running').out).toBe('running\n');
    }
    const second = underlay(['run', pb, '-i', lab!.inventoryPath, '--json']);
    expect(second.code).toBe(0);
    for (const w of workers) expect(recapOf(second)[w]).toMatchObject({ changed: 0, failed: 0, unreachable: 0 });
    const verify = underlay(['run', pb, '-i', lab!.inventoryPath, '--verify-idempotent']);
    expect(verify.code, verify.stdout).toBe(0);
    expect(verify.stdout).toContain('Idempotence check passed');
  });

  it('--diff shows the unified diff of a changed template', () => {
    const r = underlay(['run', pb, '-i', lab!.inventoryPath, '--diff', '-e', 'motd_extra=second', '--limit', 'worker1']);
    expect(r.code, r.stdout).toBe(0);
    expect(r.stdout).toMatch(/--- .*motd\n\+\+\+ .*motd\n@@ -1,2 \+1,2 @@\n host worker1\n-extra first\n\+extra second\n/);
    const back = underlay(['run', pb, '-i', lab!.inventoryPath, '--limit', 'worker1']);
    expect(back.code).toBe(0);
  });

  it('the code cache: written after a play (0600, in a 0700 directory), then used as it is', () => {
    const cache = join(cacheHome, 'underlay');
    rmSync(cache, { recursive: true, force: true });
    const check = underlay(['run', pb, '-i', lab!.inventoryPath, '--syntax-check']);
    expect(check.code, check.stderr).toBe(0);
    expect(existsSync(cache)).toBe(false); // no play: nothing written
    const first = underlay(['run', pb, '-i', lab!.inventoryPath, '--check', '--limit', 'worker1']);
    expect(first.code, first.stderr).toBe(0);
    const [name, ...more] = readdirSync(cache);
    expect(more).toEqual([]);
    expect(name).toMatch(/^v8-code-[0-9a-f]{24}-[0-9a-f]{16}\.bin$/);
    const file = join(cache, name!);
    expect(statSync(cache).mode & 0o777).toBe(0o700);
    const st = statSync(file);
    expect(st.mode & 0o777).toBe(0o600);
    // A cache V8 refused (or none) would be written anew, as a new file.
    const again = underlay(['run', pb, '-i', lab!.inventoryPath, '--check', '--limit', 'worker1']);
    expect(again.code, again.stderr).toBe(0);
    const st2 = statSync(file);
    expect([st2.ino, st2.mtimeMs]).toEqual([st.ino, st.mtimeMs]);
    const off = underlay(['run', pb, '-i', lab!.inventoryPath, '--check', '--limit', 'worker1'], { UNDERLAY_NO_CODE_CACHE: '1' });
    expect(off.code, off.stderr).toBe(0);
    expect(readdirSync(cache)).toEqual([name]);
  });

  it('--limit runs touch only the selected hosts', () => {
    const limited = join(dir, 'limited.yml');
    writeFileSync(limited, `- hosts: workers\n  tasks:\n    - command: touch /root/limited creates=/root/limited\n`);
    const r = underlay(['run', limited, '-i', lab!.inventoryPath, '--limit', 'worker2', '--json']);
    expect(r.code).toBe(0);
    expect(Object.keys(recapOf(r))).toEqual(['worker2']);
    expect(workers.map((w) => onHost(w, 'test -e /root/limited && echo yes || echo no').out.trim())).toEqual(['no', 'yes', 'no']);
    onHost('worker2', 'rm -f /root/limited');
  });

  it('settle: a program that exits within it fails its host at the follow-up check, at the end of the tasks that ran meanwhile; a later task of the same service waits for the check', () => {
    const fpb = join(dir, 'followup.yml');
    writeFileSync(
      fpb,
      `- hosts: worker1
  gather_facts: false
  tasks:
    - name: start a program that exits within settle
      service: { name: ul-e2e-brief, exec: ["sh", "-c", "sleep 0.4; echo gave up >&2; exit 1"], state: started, settle: 1.5 }
    - name: meanwhile
      command: touch /root/ul-e2e-meanwhile
    - name: wait past settle
      command: sleep 2
    - name: runs before the check
      command: touch /root/ul-e2e-before-check
- hosts: worker2
  gather_facts: false
  tasks:
    - name: start a program that stays up
      service: { name: ul-e2e-steady, exec: "sleep 100000", state: started, settle: 1 }
    - name: restart it at once
      service: { name: ul-e2e-steady, state: restarted, settle: 0.5 }
- hosts: worker3
  gather_facts: false
  tasks:
    - name: start a program that exits within settle, errors ignored
      service: { name: ul-e2e-brief, exec: ["sh", "-c", "sleep 0.2; exit 1"], state: started, settle: 0.5 }
      ignore_errors: true
    - name: wait past settle
      command: sleep 1
    - name: run after the ignored start
      command: touch /root/ul-e2e-after-ignored
`,
    );
    try {
      const r = underlay(['run', fpb, '-i', lab!.inventoryPath, '--json']);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(2);
      const result = (task: string, host: string) => r.events.find((e) => e['type'] === 'host_result' && e['task'] === task && e['host'] === host);
      // worker1: the start and the tasks after it went on; the check, at the end of the play's
      // tasks, fails the host
      expect(result('start a program that exits within settle', 'worker1')).toMatchObject({ status: 'changed' });
      expect(result('meanwhile', 'worker1')).toMatchObject({ status: 'changed' });
      expect(result('runs before the check', 'worker1')).toMatchObject({ status: 'changed' });
      expect(result('follow-up checks', 'worker1')).toMatchObject({ status: 'failed' });
      expect(result('follow-up checks', 'worker1')!['msg']).toMatch(
        /^ul-e2e-brief still runs 1\.5 s after its start: no \(checked after 'start a program that exits within settle'\)\nservice ul-e2e-brief exited within 1\.5 s of its start; the end of \/var\/log\/underlay\/ul-e2e-brief\.log:[\s\S]*gave up/,
      );
      expect(onHost('worker1', 'test -e /root/ul-e2e-meanwhile && test -e /root/ul-e2e-before-check && echo yes; true').out.trim()).toBe('yes');
      expect(recapOf(r)['worker1']).toMatchObject({ failed: 1 });
      // worker2: the restart waited for the start's check (1 s), then its own check ran at the end
      expect(result('restart it at once', 'worker2')).toMatchObject({ status: 'changed' });
      expect(result('restart it at once', 'worker2')!['durationMs']).toBeGreaterThanOrEqual(850);
      expect(result('follow-up checks', 'worker2')).toMatchObject({ status: 'ok', msg: 'ul-e2e-steady still runs 0.5 s after its start' });
      expect(recapOf(r)['worker2']).toMatchObject({ failed: 0, changed: 2 });
      // worker3: the task had ignore_errors, so its check is a warning and the host goes on
      expect(result('run after the ignored start', 'worker3')).toMatchObject({ status: 'changed' });
      expect(result('follow-up checks', 'worker3')).toMatchObject({ status: 'ok' });
      expect(r.events.filter((e) => e['type'] === 'warning' && e['host'] === 'worker3').map((e) => e['msg'])).toEqual([
        expect.stringMatching(/^ul-e2e-brief still runs 0\.5 s after its start: no \(checked after 'start a program that exits within settle, errors ignored'\)[\s\S]*\(ignored: ignore_errors\)$/),
      ]);
      expect(recapOf(r)['worker3']).toMatchObject({ failed: 0 });
    } finally {
      onHost('worker3', 'rm -f /root/ul-e2e-after-ignored');
      onHost('worker1', 'rm -f /root/ul-e2e-meanwhile /root/ul-e2e-before-check');
      onHost('worker2', '[ -f /run/underlay/ul-e2e-steady.pid ] && kill "$(cat /run/underlay/ul-e2e-steady.pid)"; true');
    }
  });

  it('a secret never appears in terminal output, JSON events, errors or diffs', () => {
    const leaky = join(dir, 'leaky.yml');
    writeFileSync(
      leaky,
      `- hosts: worker1
  tasks:
    - name: secret in a diff
      copy: { dest: /root/secret-file, content: "pw={{ os_password }} {{ round }}\\n" }
    - name: secret in a command and its output
      command: echo {{ os_password }}
    - name: secret in a message
      debug: { msg: "the password is {{ os_password }}" }
    - name: secret in a failure
      shell: echo "{{ os_password }}" >&2; exit 3
`,
    );
    const outputs: string[] = [];
    for (const [i, mode] of [['--json'], ['--diff'], ['--diff', '--json'], ['-v', '--diff']].entries()) {
      const r = underlay(['run', leaky, '-i', lab!.inventoryPath, '-e', `round=${i}`, ...mode]);
      expect(r.code).toBe(2);
      outputs.push(r.stdout, r.stderr);
    }
    const all = outputs.join('\n');
    expect(all).toContain('********');
    expect(all).toMatch(/\+pw=\*{8} 1/);
    expect(all).not.toContain(password);
    onHost('worker1', 'rm -f /root/secret-file');
  });

  it('a host presenting a changed host key is refused, naming the fingerprint', () => {
    const known = readFileSync(lab!.knownHostsFile, 'utf8').split('\n');
    const w3 = lab!.hosts.find((h) => h.name === 'worker3')!;
    const other = lab!.hosts.find((h) => h.name === 'worker1')!;
    const otherKey = known.find((l) => l.startsWith(`${other.address} `))!.split(' ').slice(1).join(' ');
    const tampered = known.map((l) => (l.startsWith(`${w3.address} `) ? `${w3.address} ${otherKey}` : l)).join('\n');
    const khFile = join(dir, 'known_hosts.tampered');
    writeFileSync(khFile, tampered);
    const inv = join(dir, 'inventory.yml');
    writeFileSync(inv, readFileSync(lab!.inventoryPath, 'utf8').replaceAll(lab!.knownHostsFile, khFile));
    const r = underlay(['run', pb, '-i', inv, '--json']);
    expect(r.code).toBe(3);
    const recap = recapOf(r);
    expect(recap['worker3']!.unreachable).toBe(1);
    expect(recap['worker1']).toMatchObject({ unreachable: 0, failed: 0 });
    const msg = r.events.find((e) => e['type'] === 'host_result' && e['host'] === 'worker3')!['msg'] as string;
    expect(msg).toMatch(/SHA256:[A-Za-z0-9+/]{43}/);
  });

  it('a host whose sshd is stopped is reported unreachable while the others finish', async () => {
    // a lab of its own: stopping a host's sshd ends that host, which the shared lab must not lose
    const opts = { name: 'e2eur', workers: 3, subnet: '10.213.105.0/24', stateDir: join(dir, 'lab-ur'), inventoryPath: join(dir, 'lab-ur.yml') };
    const small = await labUp(opts);
    try {
      const converge = underlay(['run', pb, '-i', small.inventoryPath, '--json']);
      expect(converge.code, converge.stdout.slice(-2000)).toBe(0);
      const w2 = small.hosts.find((h) => h.name === 'worker2')!;
      process.kill(w2.pid, 'SIGKILL');
      const r = underlay(['run', pb, '-i', small.inventoryPath, '--json']);
      expect(r.code).toBe(3);
      const recap = recapOf(r);
      expect(recap['worker2']!.unreachable).toBe(1);
      expect(recap['worker1']).toMatchObject({ unreachable: 0, failed: 0, changed: 0 });
      expect(recap['worker3']).toMatchObject({ unreachable: 0, failed: 0, changed: 0 });
      const msg = r.events.find((e) => e['type'] === 'host_result' && e['host'] === 'worker2')!['msg'] as string;
      expect(msg).toMatch(/worker2/);
    } finally {
      await labDown(opts);
    }
  });
});
