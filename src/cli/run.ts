/** `underlay run PLAYBOOK -i INVENTORY [options]` */
import { dirname, join, resolve } from 'node:path';
import { EXIT, InputError, PatternError } from '../errors.js';
import { LocalChannel, type HostChannel } from '../engine/channel.js';
import { EventBus } from '../engine/events.js';
import { runPlaybook, type RunResult } from '../engine/run.js';
import { tagSelected } from '../engine/tags.js';
import { loadInventory, type Inventory } from '../inventory/index.js';
import { checkVariables } from '../playbook/check.js';
import { loadPlaybook } from '../playbook/load.js';
import { networkPlanVars, PLAN_VARS } from '../net/vars.js';
import { allTasks, type Playbook } from '../playbook/model.js';
import { jsonReporter } from '../report/json.js';
import { liveReporter } from '../report/live.js';
import { plainReporter } from '../report/plain.js';
import { Connection } from '../transport/connection.js';
import type { Secrets } from '../vars/secrets.js';
import { VaultKeyring } from '../vars/vault.js';
import { parseExtraVars } from './extra-vars.js';
import { registerSecrets } from './secrets.js';
import { parseOptions, type Io } from './main.js';

const HELP = `underlay run PLAYBOOK -i INVENTORY [options]

  -i, --inventory PATH       inventory file or directory (repeatable; they merge)
  -l, --limit PATTERN        further limit the hosts (host patterns, @retry-file)
  -t, --tags TAGS            only tasks with these tags (comma-separated)
      --skip-tags TAGS       skip tasks with these tags
  -C, --check                change nothing; report what would change
  -D, --diff                 show the differences in changed files
  -f, --forks N              hosts worked on at once (default 50)
  -e, --extra-vars VARS      key=value, @file.yml or a YAML/JSON mapping (repeatable)
      --json                 newline-delimited JSON events on stdout, nothing else
      --start-at-task NAME   start at the task with this name
      --verify-idempotent    run twice; fail (exit 5) naming the tasks if the second run changes anything
      --no-pipelining        observe each task in its own round trip (default: a host's next tasks
                             are observed ahead, in the current task's round trip)
      --syntax-check         check the playbook and exit, contacting no host
      --list-hosts           list the hosts of each play and exit
      --list-tasks           list the tasks of each play and exit
      --list-tags            list the tags of each play and exit
      --vault-password-file FILE   vault password (or UNDERLAY_VAULT_PASSWORD)
      --known-hosts FILE     known_hosts file to verify host keys against (repeatable)
      --accept-new-host-keys record the keys of hosts not yet known (a changed key is always refused)
  -v, --verbose              print every host result, not only changes and failures
`;

export async function runCommand(args: string[], io: Io, secrets: Secrets): Promise<number> {
  const { values, positionals } = parseOptions(
    args,
    {
      inventory: { type: 'string', short: 'i', multiple: true },
      limit: { type: 'string', short: 'l' },
      tags: { type: 'string', short: 't', multiple: true },
      'skip-tags': { type: 'string', multiple: true },
      check: { type: 'boolean', short: 'C' },
      diff: { type: 'boolean', short: 'D' },
      forks: { type: 'string', short: 'f' },
      'extra-vars': { type: 'string', short: 'e', multiple: true },
      json: { type: 'boolean' },
      'start-at-task': { type: 'string' },
      'verify-idempotent': { type: 'boolean' },
      'no-pipelining': { type: 'boolean' },
      'syntax-check': { type: 'boolean' },
      'list-hosts': { type: 'boolean' },
      'list-tasks': { type: 'boolean' },
      'list-tags': { type: 'boolean' },
      'vault-password-file': { type: 'string', multiple: true },
      'known-hosts': { type: 'string', multiple: true },
      'accept-new-host-keys': { type: 'boolean' },
      verbose: { type: 'boolean', short: 'v', multiple: true },
      help: { type: 'boolean', short: 'h' },
    },
    'run',
  );
  if (values.help) {
    io.out(HELP);
    return EXIT.OK;
  }
  if (positionals.length !== 1) throw new InputError(`run: give exactly one playbook (got ${positionals.length})`);
  const playbookFile = positionals[0]!;
  let forks = 50;
  if (values.forks !== undefined) {
    forks = Number(values.forks);
    if (!Number.isInteger(forks) || forks < 1) throw new InputError(`run: --forks must be a positive integer, got '${values.forks}'`);
  }
  const split = (xs: string[] | undefined) => (xs ?? []).flatMap((x) => x.split(',')).map((x) => x.trim()).filter(Boolean);
  const tags = split(values.tags);
  const skipTags = split(values['skip-tags']);

  // Everything is read and checked before any host is contacted.
  const keyring = VaultKeyring.fromSources({ passwordFiles: values['vault-password-file'] ?? [], env: io.env });
  const kr = keyring.empty ? {} : { keyring };
  const playbook = loadPlaybook(playbookFile, { ...kr, rolesPath: [join(process.cwd(), 'roles')] });
  if (values['syntax-check']) {
    io.out(`playbook: ${playbookFile}\n`);
    return EXIT.OK;
  }
  const inventorySources = values.inventory ?? [];
  if (inventorySources.length === 0) throw new InputError('run: give an inventory with -i');
  // group_vars/ and host_vars/ beside the playbook apply too, as in Ansible
  const inventory = loadInventory(inventorySources, { ...kr, playbookDir: dirname(resolve(playbookFile)) });
  const extra = parseExtraVars(values['extra-vars'] ?? [], keyring.empty ? undefined : keyring);
  const plannedVars = networkPlanVars(inventory);
  checkVariables(playbook, inventory, extra.vars, plannedVars.size > 0 ? PLAN_VARS : []);
  registerSecrets(secrets, inventory, playbook, extra);
  const playHosts = selectPlayHosts(playbook, inventory, values.limit);

  if (values['list-hosts'] || values['list-tasks'] || values['list-tags']) {
    io.out(listing(playbook, playHosts, { hosts: Boolean(values['list-hosts']), tasks: Boolean(values['list-tasks']), tags: Boolean(values['list-tags']) }, tags, skipTags));
    return EXIT.OK;
  }

  const knownHosts = values['known-hosts'] ?? [];
  const connect = async (host: string): Promise<HostChannel> => {
    if (!inventory.hasHost(host)) {
      if (host === 'localhost' || host === '127.0.0.1') return new LocalChannel();
      throw new InputError(`delegate_to: no host '${host}' in the inventory`);
    }
    const hv = inventory.hostVars(host);
    if (hv['ansible_connection'] === 'local') return new LocalChannel();
    const c = inventory.connectionOf(host);
    const files = [...knownHosts, ...(c.knownHostsFile ? [c.knownHostsFile] : [])];
    return Connection.open({
      host,
      ...(c.address !== undefined ? { address: c.address } : {}),
      ...(c.port !== undefined ? { port: c.port } : {}),
      ...(c.user !== undefined ? { user: c.user } : {}),
      ...(c.privateKeyFile !== undefined ? { privateKeyFile: c.privateKeyFile } : {}),
      ...(files.length > 0 ? { knownHostsFiles: files } : {}),
      acceptNewHostKeys: Boolean(values['accept-new-host-keys']),
      ...(typeof hv['ansible_become_password'] === 'string' ? { becomePassword: hv['ansible_become_password'] } : {}),
    });
  };

  const runOnce = async (): Promise<RunResult> => {
    const bus = new EventBus();
    let done: Promise<void> = Promise.resolve();
    if (values.json) bus.on(jsonReporter(io.out));
    else if (io.isTTY && !io.env['CI']) {
      const live = liveReporter(playbook.plays, { diff: Boolean(values.diff), write: io.out, tags, skipTags });
      bus.on(live.listener);
      done = live.done;
    } else bus.on(plainReporter({ write: io.out, diff: Boolean(values.diff), verbose: (values.verbose?.length ?? 0) > 0 }));
    const result = await runPlaybook({
      playbook,
      inventory,
      limit: values.limit,
      tags,
      skipTags,
      check: Boolean(values.check),
      diff: Boolean(values.diff),
      forks,
      extraVars: extra.vars,
      plannedVars,
      startAtTask: values['start-at-task'],
      pipelining: !values['no-pipelining'],
      secrets,
      connect,
      bus,
    });
    await done;
    return result;
  };

  const first = await runOnce();
  if (!values['verify-idempotent'] || first.exitCode !== EXIT.OK) return first.exitCode;
  if (!values.json) io.out('\nIdempotence check: running the playbook again; nothing may change.\n');
  const second = await runOnce();
  if (second.exitCode !== EXIT.OK) return second.exitCode;
  if (second.changed.length > 0) {
    const lines = second.changed.map((c) => `  ${c.host}: ${c.task} (${c.taskId})`).join('\n');
    const msg = `not idempotent: the second run changed ${second.changed.length} task result${second.changed.length === 1 ? '' : 's'}:\n${lines}\n`;
    if (values.json) io.out(JSON.stringify({ type: 'idempotence', ok: false, changed: second.changed }) + '\n');
    io.err(secrets.mask(`error: ${msg}`));
    return EXIT.NOT_IDEMPOTENT;
  }
  if (values.json) io.out(JSON.stringify({ type: 'idempotence', ok: true, changed: [] }) + '\n');
  else io.out('Idempotence check passed: the second run changed nothing.\n');
  return EXIT.OK;
}

/** The hosts of each play; a pattern that selects nothing in every play is an error. */
function selectPlayHosts(playbook: Playbook, inventory: Inventory, limit: string | undefined): string[][] {
  const out: string[][] = [];
  const errors: PatternError[] = [];
  for (const play of playbook.plays) {
    try {
      out.push(inventory.selectHosts(play.hosts, limit));
    } catch (e) {
      if (!(e instanceof PatternError)) throw e;
      errors.push(e);
      out.push([]);
    }
  }
  if (out.every((h) => h.length === 0) && errors.length > 0) throw errors[0];
  return out;
}

function listing(playbook: Playbook, playHosts: string[][], what: { hosts: boolean; tasks: boolean; tags: boolean }, only: string[], skip: string[]): string {
  const lines = [`\nplaybook: ${playbook.file}\n`];
  playbook.plays.forEach((play, i) => {
    lines.push(`\n  play #${i + 1} (${play.hosts}): ${play.name}\tTAGS: [${play.tags.join(', ')}]`);
    if (what.hosts) {
      const hosts = playHosts[i] ?? [];
      lines.push(`    pattern: ['${play.hosts}']`, `    hosts (${hosts.length}):`, ...hosts.map((h) => `      ${h}`));
    }
    const tasks = allTasks(play).filter((t) => tagSelected(t.tags, only, skip));
    if (what.tasks) {
      lines.push('    tasks:');
      for (const t of tasks) lines.push(`      ${t.role ? `${t.role.name} : ` : ''}${t.name ?? t.module}\tTAGS: [${t.tags.join(', ')}]`);
    }
    if (what.tags) {
      const all = new Set<string>();
      for (const t of tasks) for (const tag of t.tags) all.add(tag);
      lines.push(`      TASK TAGS: [${[...all].sort().join(', ')}]`);
    }
  });
  return lines.join('\n') + '\n';
}
