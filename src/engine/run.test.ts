/**
 * The engine against real hosts of the cheapest kind: `ansible_connection: local` hosts,
 * whose commands run through the controller's own /bin/sh (LocalChannel). Every feature of
 * the engine that does not need SSH is exercised here; SSH runs are in test/e2e/.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { EXIT } from '../errors.js';
import { loadInventory } from '../inventory/index.js';
import { loadPlaybook } from '../playbook/load.js';
import { Secrets } from '../vars/secrets.js';
import { LocalChannel } from './channel.js';
import { EventBus, type EngineEvent, type HostResultEvent } from './events.js';
import { runPlaybook, type EngineOptions } from './run.js';

const dir = mkdtempSync(join(tmpdir(), 'ul-engine-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const invFile = join(dir, 'inv.yml');
writeFileSync(
  invFile,
  `all:
  vars:
    ansible_connection: local
    db_password: s3cr3t-P4ss
    underlay_secret_vars: [db_password]
  children:
    web:
      hosts:
        h1: { n: 1 }
        h2: { n: 2 }
        h3: { n: 3 }
`,
);

let counter = 0;
async function run(playbookYaml: string, opts: Partial<EngineOptions> = {}) {
  const file = join(dir, `pb${++counter}.yml`);
  writeFileSync(file, playbookYaml.replaceAll('$DIR', dir));
  const playbook = loadPlaybook(file);
  const inventory = loadInventory([invFile]);
  const secrets = opts.secrets ?? new Secrets();
  secrets.add('s3cr3t-P4ss');
  const bus = new EventBus();
  const events: EngineEvent[] = [];
  bus.on((e) => events.push(e));
  const result = await runPlaybook({ playbook, inventory, secrets, bus, connect: async () => new LocalChannel(), ...opts });
  const results = events.filter((e): e is HostResultEvent => e.type === 'host_result');
  if (process.env['DEBUG_ENGINE']) for (const r of results) if (r.status === 'failed') console.log(r.task, r.host, r.msg);
  const of = (task: string) => Object.fromEntries(results.filter((r) => r.task === task && r.item === undefined).map((r) => [r.host, r.status]));
  return { result, events, results, of };
}

describe('engine (linear strategy on local hosts)', () => {
  it('when, loop, register, set_fact and precedence of facts over play vars', async () => {
    const { result, of, results } = await run(`
- hosts: web
  vars: { greeting: hi }
  tasks:
    - name: only odd
      debug: msg="{{ greeting }} {{ n }}"
      when: n is odd or n == 1
    - name: facts
      set_fact: { greeting: "bye {{ inventory_hostname }}" }
    - name: loop
      command: echo {{ item }}
      loop: [a, b]
      register: echoes
    - name: check registered
      assert:
        that:
          - echoes.results | length == 2
          - echoes.results[1].stdout == 'b'
          - greeting == 'bye ' ~ inventory_hostname
`);
    expect(result.exitCode).toBe(EXIT.OK);
    expect(of('only odd')).toEqual({ h1: 'ok', h2: 'skipped', h3: 'ok' });
    expect(of('loop')).toEqual({ h1: 'changed', h2: 'changed', h3: 'changed' });
    expect(results.filter((r) => r.task === 'loop' && r.host === 'h1' && r.item !== undefined).map((r) => r.item)).toEqual(['a', 'b']);
    expect(of('check registered')).toEqual({ h1: 'ok', h2: 'ok', h3: 'ok' });
    expect(result.stats['h1']).toMatchObject({ ok: 4, changed: 1, skipped: 0, failed: 0 });
    expect(result.stats['h2']).toMatchObject({ ok: 3, changed: 1, skipped: 1 });
  });

  it('creates makes command idempotent; handlers run once, only when notified by a change', async () => {
    const pb = `
- hosts: web
  tasks:
    - name: make marker
      command: touch $DIR/marker-{{ inventory_hostname }} creates=$DIR/marker-{{ inventory_hostname }}
      notify: announce
    - name: again
      command: touch $DIR/marker-{{ inventory_hostname }} creates=$DIR/marker-{{ inventory_hostname }}
      notify: announce
  handlers:
    - name: announce
      command: sh -c "echo x >> $DIR/handler-{{ inventory_hostname }}"
`;
    const first = await run(pb);
    expect(first.of('make marker')).toEqual({ h1: 'changed', h2: 'changed', h3: 'changed' });
    expect(first.of('again')).toEqual({ h1: 'ok', h2: 'ok', h3: 'ok' });
    expect(first.of('announce')).toEqual({ h1: 'changed', h2: 'changed', h3: 'changed' });
    expect(readFileSync(join(dir, 'handler-h2'), 'utf8')).toBe('x\n');
    const second = await run(pb);
    expect(second.result.changed).toEqual([]);
    expect(second.of('announce')).toEqual({});
    expect(readFileSync(join(dir, 'handler-h2'), 'utf8')).toBe('x\n');
  });

  it('a failed host stops, the others go on; ignore_errors; failed_when and changed_when', async () => {
    const { result, of } = await run(`
- hosts: web
  tasks:
    - name: fails on h2
      command: test {{ n }} -ne 2
    - name: ignored failure
      command: "false"
      ignore_errors: true
    - name: rc 3 is fine
      shell: exit 3
      register: r
      failed_when: r.rc not in [0, 3]
      changed_when: false
    - name: after
      debug: msg="still here"
`);
    expect(result.exitCode).toBe(EXIT.HOST_FAILED);
    expect(of('fails on h2')).toEqual({ h1: 'changed', h2: 'failed', h3: 'changed' });
    expect(of('rc 3 is fine')).toEqual({ h1: 'ok', h3: 'ok' });
    expect(of('after')).toEqual({ h1: 'ok', h3: 'ok' });
    expect(result.stats['h1']).toMatchObject({ ignored: 1, failed: 0 });
    expect(result.stats['h2']).toMatchObject({ failed: 1 });
  });

  it('failure messages name the command, exit code and stderr tail', async () => {
    const { results } = await run(`
- hosts: h1
  tasks:
    - name: boom
      shell: echo to-stderr >&2; exit 7
`);
    const r = results.find((x) => x.task === 'boom')!;
    expect(r.status).toBe('failed');
    expect(r.msg).toBe('echo to-stderr >&2; exit 7: exit code 7\nto-stderr');
  });

  it('until/retries re-runs until the condition holds', async () => {
    const { of, results } = await run(`
- hosts: h1
  tasks:
    - name: third time lucky
      shell: echo x >> $DIR/tries; test $(wc -l < $DIR/tries) -ge 3
      register: t
      until: t.rc == 0
      retries: 5
      delay: 0
`);
    expect(of('third time lucky')).toEqual({ h1: 'changed' });
    expect(results.find((r) => r.task === 'third time lucky')!.result?.['attempts']).toBe(3);
  });

  it('retries and delay may be templates, rendered on each host', async () => {
    const { of, results } = await run(`
- hosts: web
  vars: { attempts_allowed: "{{ n }}", pause: 0 }
  tasks:
    - name: never
      command: "false"
      register: t
      until: t.rc == 0
      retries: "{{ attempts_allowed }}"
      delay: "{{ pause }}"
      ignore_errors: true
    - name: bad count
      command: "true"
      register: b
      until: b.rc == 0
      retries: "{{ 'many' }}"
      ignore_errors: true
`);
    expect(of('never')).toEqual({ h1: 'failed', h2: 'failed', h3: 'failed' });
    // n retries after the first attempt: h1 1 + 1, h2 1 + 2, h3 1 + 3
    const attempts = Object.fromEntries(results.filter((r) => r.task === 'never').map((r) => [r.host, r.result?.['attempts']]));
    expect(attempts).toEqual({ h1: 2, h2: 3, h3: 4 });
    expect(results.find((r) => r.task === 'bad count')?.msg).toBe(`'retries' must be an integer >= 0, got "many" from "{{ 'many' }}"`);
  });

  it('check mode changes nothing and says when it cannot predict', async () => {
    const marker = join(dir, 'check-marker');
    const { of, results } = await run(
      `
- hosts: h1
  tasks:
    - name: predictable
      command: touch ${marker} creates=${marker}
    - name: unpredictable
      command: touch ${marker}
`,
      { check: true },
    );
    expect(of('predictable')).toEqual({ h1: 'changed' });
    expect(of('unpredictable')).toEqual({ h1: 'skipped' });
    expect(results.find((r) => r.task === 'unpredictable')!.unpredictable).toBe(true);
    expect(existsSync(marker)).toBe(false);
  });

  it('run_once runs on one host and shares the registered result', async () => {
    const { of } = await run(`
- hosts: web
  tasks:
    - name: once
      command: echo shared
      run_once: true
      register: once
    - name: everyone sees it
      assert: { that: ["once.stdout == 'shared'"] }
`);
    expect(of('once')).toEqual({ h1: 'changed' });
    expect(of('everyone sees it')).toEqual({ h1: 'ok', h2: 'ok', h3: 'ok' });
  });

  it('serial batches run the whole play per batch', async () => {
    const { events } = await run(`
- hosts: web
  serial: [1, 2]
  tasks:
    - name: a
      debug: msg=a
    - name: b
      debug: msg=b
`);
    const seq = events.filter((e): e is HostResultEvent => e.type === 'host_result').map((e) => `${e.task}:${e.host}`);
    expect(seq.slice(0, 2)).toEqual(['a:h1', 'b:h1']);
    expect(new Set(seq.slice(2, 4))).toEqual(new Set(['a:h2', 'a:h3']));
    expect(new Set(seq.slice(4))).toEqual(new Set(['b:h2', 'b:h3']));
  });

  it('any_errors_fatal stops the play for every host', async () => {
    const { of, result } = await run(`
- hosts: web
  any_errors_fatal: true
  tasks:
    - name: fails on h3
      command: test {{ n }} -ne 3
    - name: never
      debug: msg=never
`);
    expect(of('never')).toEqual({});
    expect(result.exitCode).toBe(EXIT.HOST_FAILED);
  });

  it('tags and skip-tags select tasks (always, never)', async () => {
    const pb = `
- hosts: h1
  tasks:
    - { name: tagged-a, debug: msg=a, tags: [a] }
    - { name: tagged-b, debug: msg=b, tags: [b] }
    - { name: always, debug: msg=c, tags: [always] }
    - { name: never, debug: msg=d, tags: [never, debugonly] }
`;
    const only = await run(pb, { tags: ['a'] });
    expect(only.results.map((r) => r.task)).toEqual(['tagged-a', 'always']);
    const skip = await run(pb, { skipTags: ['a'] });
    expect(skip.results.map((r) => r.task)).toEqual(['tagged-b', 'always']);
    const never = await run(pb, { tags: ['debugonly'] });
    expect(never.results.map((r) => r.task)).toEqual(['always', 'never']);
  });

  it('free strategy lets each host run ahead', async () => {
    const { result, of } = await run(`
- hosts: web
  strategy: free
  tasks:
    - name: slow on h1
      shell: test {{ n }} -ne 1 || sleep 0.3
    - name: next
      debug: msg=next
`);
    expect(result.exitCode).toBe(EXIT.OK);
    expect(of('next')).toEqual({ h1: 'ok', h2: 'ok', h3: 'ok' });
  });

  it('a secret never appears in events: results, messages, items', async () => {
    const { events } = await run(`
- hosts: h1
  tasks:
    - name: leak attempt
      command: echo {{ db_password }}
    - name: leak in msg
      debug: msg="password is {{ db_password }}"
    - name: leak in item
      debug: msg=x
      loop: ["{{ db_password }}"]
    - name: leak in failure
      shell: echo {{ db_password }} >&2; exit 1
`);
    const text = JSON.stringify(events);
    expect(text).not.toContain('s3cr3t-P4ss');
    expect(text).toContain('********');
  });

  it('delegate_to localhost runs on the controller', async () => {
    const { of, results } = await run(`
- hosts: h2
  tasks:
    - name: delegated
      command: echo on-controller
      delegate_to: localhost
      register: d
`);
    expect(of('delegated')).toEqual({ h2: 'changed' });
    expect(results.find((r) => r.task === 'delegated')!.delegatedTo).toBe('localhost');
  });

  it('an unreachable host is reported as such and the others finish', async () => {
    const { result, of } = await run(
      `
- hosts: web
  tasks:
    - name: t
      debug: msg=x
    - name: cmd
      command: "true"
`,
      {
        connect: async (h) => {
          if (h === 'h3') {
            const { UnreachableError } = await import('../errors.js');
            throw new UnreachableError(h, 'connection refused');
          }
          return new LocalChannel();
        },
      },
    );
    expect(of('cmd')).toEqual({ h1: 'changed', h2: 'changed', h3: 'unreachable' });
    expect(result.exitCode).toBe(EXIT.HOST_UNREACHABLE);
    expect(result.stats['h3']).toMatchObject({ unreachable: 1 });
  });

  it('max_fail_percentage stops the play when too many hosts failed', async () => {
    const { of } = await run(`
- hosts: web
  max_fail_percentage: 30
  tasks:
    - name: fails on h1
      command: test {{ n }} -ne 1
    - name: after
      debug: msg=after
`);
    expect(of('fails on h1')).toEqual({ h1: 'failed', h2: 'changed', h3: 'changed' });
    expect(of('after')).toEqual({});
    const tolerant = await run(`
- hosts: web
  max_fail_percentage: 50
  tasks:
    - name: fails on h1
      command: test {{ n }} -ne 1
    - name: after
      debug: msg=after
`);
    expect(tolerant.of('after')).toEqual({ h2: 'ok', h3: 'ok' });
  });

  it('meta: flush_handlers runs notified handlers at that point, once', async () => {
    const { events } = await run(`
- hosts: h1
  tasks:
    - name: change
      command: "true"
      notify: h
    - meta: flush_handlers
    - name: after flush
      debug: msg=x
  handlers:
    - name: h
      debug: msg=handled
`);
    const order = events.filter((e): e is HostResultEvent => e.type === 'host_result').map((e) => e.task);
    expect(order).toEqual(['change', 'h', 'after flush']);
  });

  it('pipelining: an observation taken ahead of an action on the host is not used; a no-change run takes few round trips', async () => {
    const playbook = `
- hosts: web
  tasks:
    - name: write a
      copy: { dest: "$DIR/pl-{{ inventory_hostname }}-a", content: "x\\n" }
    - name: write a again
      copy: { dest: "$DIR/pl-{{ inventory_hostname }}-a", content: "x\\n" }
    - name: dir
      file: { path: "$DIR/pl-{{ inventory_hostname }}-d", state: directory }
    - name: write b
      copy: { dest: "$DIR/pl-{{ inventory_hostname }}-d/b", content: "y\\n" }
    - name: write b again
      copy: { dest: "$DIR/pl-{{ inventory_hostname }}-d/b", content: "y\\n" }
`;
    let batches = 0;
    class Counting extends LocalChannel {
      // runBatch goes through runEach
      override runEach(...a: Parameters<LocalChannel['runEach']>) {
        batches++;
        return super.runEach(...a);
      }
    }
    const connect = async () => new Counting();
    const first = await run(playbook, { connect });
    expect(first.result.exitCode).toBe(EXIT.OK);
    // the second write of each file was observed ahead, before the first wrote it: not used
    for (const [t, want] of [['write a', 'changed'], ['write a again', 'ok'], ['dir', 'changed'], ['write b', 'changed'], ['write b again', 'ok']] as const) {
      expect(first.of(t), t).toEqual({ h1: want, h2: want, h3: want });
    }
    batches = 0;
    const again = await run(playbook, { connect });
    expect(again.results.every((r) => r.status === 'ok')).toBe(true);
    // five observations per host in two round trips: the first takes one ahead (used: the
    // window doubles), the third two
    expect(batches).toBe(6);
    batches = 0;
    const plain = await run(playbook, { connect, pipelining: false });
    expect(plain.results.every((r) => r.status === 'ok')).toBe(true);
    expect(batches).toBe(15);
  });
});
