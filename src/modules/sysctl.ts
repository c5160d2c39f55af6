/**
 * The `sysctl` module: a kernel parameter, at runtime (`sysctl -w`) and in a sysctl.d file.
 *
 * Observes, in one round trip, `sysctl -n NAME` and the file. Values compare
 * whitespace-normalised (`32768\t60999` equals `32768 60999`). The file is rewritten
 * whole and atomically (an upload: temporary file + rename) with the key's line replaced,
 * duplicates dropped, or the line appended; every other line is kept as it was.
 * `reload` runs `sysctl -p FILE` when the file changed (as Ansible does); `sysctl_set`
 * sets the runtime value when it differs. `state: absent` removes the key from the file
 * and leaves the runtime value alone.
 */
import {
  editSysctlConf,
  normalizeSysctlValue,
  parseSysctlFileResult,
  parseSysctlValue,
  sameSysctlName,
  SYSCTL_NAME,
  sysctlFileCommand,
  sysctlValueCommand,
  type SysctlFile,
  type SysctlValue,
} from '../facts/sysctl.js';
import { contained, sh } from '../transport/quote.js';
import type { Action, Decision, ModuleDef } from './types.js';

export interface SysctlParams extends Record<string, unknown> {
  name: string;
  value?: unknown;
  state: 'present' | 'absent';
  sysctl_file: string;
  sysctl_set: boolean;
  reload: boolean;
  ignoreerrors: boolean;
}

export interface SysctlObserved {
  runtime: SysctlValue;
  file: SysctlFile | { error: string };
}

export const DEFAULT_SYSCTL_FILE = '/etc/sysctl.d/99-underlay.conf';

/** YAML gives numbers and booleans; sysctl wants text (true is 1, as in Ansible). */
export function sysctlValueText(v: unknown): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'boolean') return v ? '1' : '0';
  if (typeof v === 'string' || typeof v === 'number') return normalizeSysctlValue(String(v));
  return undefined;
}

function dirOf(path: string): string {
  const i = path.lastIndexOf('/');
  return i <= 0 ? '/' : path.slice(0, i);
}

export const sysctl: ModuleDef<SysctlParams, SysctlObserved> = {
  name: 'sysctl',
  description: 'Set a kernel parameter at runtime and in a sysctl.d file (default /etc/sysctl.d/99-underlay.conf), idempotently.',
  schema: {
    params: {
      name: { type: 'str', required: true, aliases: ['key'], description: 'The parameter, e.g. net.ipv4.ip_forward.' },
      value: { type: 'raw', aliases: ['val'], description: 'The value (numbers and booleans are written as text; true is 1). Required with state present.' },
      state: { type: 'str', default: 'present', choices: ['present', 'absent'], description: 'present: set it; absent: remove it from the file.' },
      sysctl_file: { type: 'path', default: DEFAULT_SYSCTL_FILE, description: 'The file that keeps the setting across reboots.' },
      sysctl_set: { type: 'bool', default: true, description: 'Also set the runtime value (sysctl -w) when it differs.' },
      reload: { type: 'bool', default: true, description: 'Run `sysctl -p FILE` when the file changed.' },
      ignoreerrors: { type: 'bool', default: false, description: 'Accept keys the kernel does not know (written to the file only).' },
    },
    requiredIf: [['state', 'present', ['value']]],
  },
  async observe(ctx, p) {
    const [v, f] = await ctx.runBatch([sysctlValueCommand(p.name), sysctlFileCommand(p.sysctl_file)]);
    return { runtime: parseSysctlValue(v!), file: parseSysctlFileResult(f!) };
  },
  decide(p, o): Decision {
    if (!SYSCTL_NAME.test(p.name)) return { changed: false, actions: [], failed: `sysctl: bad name '${p.name}'` };
    if (!p.sysctl_file.startsWith('/')) return { changed: false, actions: [], failed: `sysctl: sysctl_file must be an absolute path, got '${p.sysctl_file}'` };
    if ('error' in o.file) return { changed: false, actions: [], failed: `sysctl: cannot read ${p.sysctl_file}: ${o.file.error}` };
    const file = o.file;
    const want = p.state === 'present' ? sysctlValueText(p.value) : null;
    if (p.state === 'present' && (want === undefined || want === '')) return { changed: false, actions: [], failed: `sysctl ${p.name}: value must be a string, number or boolean` };
    const value = want ?? null;
    const actions: Action[] = [];
    const done: string[] = [];
    const runtimeBefore = o.runtime.exists ? o.runtime.value : null;

    if (value !== null && p.sysctl_set) {
      if (!o.runtime.exists) {
        if (!p.ignoreerrors) return { changed: false, actions: [], failed: `sysctl ${p.name}: ${o.runtime.error}` };
      } else if (o.runtime.value !== value) {
        actions.push({ kind: 'run', cmd: sh`sysctl -w -- ${`${p.name}=${value}`}`, describe: `sysctl -w ${p.name}=${value}` });
        done.push(`set to ${value} (was ${o.runtime.value})`);
      }
    }

    const after = editSysctlConf(file.text, p.name, value);
    const fileChanged = after !== file.text || (!file.exists && value !== null);
    if (fileChanged) {
      if (!file.exists) actions.push({ kind: 'run', cmd: sh`mkdir -p -- ${dirOf(p.sysctl_file)}`, describe: `mkdir -p ${dirOf(p.sysctl_file)}` });
      actions.push({ kind: 'upload', path: p.sysctl_file, content: after, describe: `write ${p.sysctl_file}` });
      done.push(value === null ? `removed from ${p.sysctl_file}` : `written to ${p.sysctl_file}`);
      if (p.reload) {
        const ignore = p.ignoreerrors ? sh`-e ` : sh``;
        actions.push({ kind: 'run', cmd: contained(sh`sysctl ${ignore}-p -- ${p.sysctl_file} >/dev/null`), describe: `sysctl -p ${p.sysctl_file}` });
      }
    }
    const inFile = file.entries.filter((e) => sameSysctlName(e.key, p.name)).map((e) => e.value);
    const changed = actions.length > 0;
    return {
      changed,
      actions,
      ...(fileChanged ? { diff: [{ path: p.sysctl_file, before: file.text, after }] } : {}),
      msg: changed
        ? `${p.name}: ${done.join(', ')}`
        : value === null
          ? `${p.name} is not in ${p.sysctl_file}`
          : `${p.name} is ${value}${p.sysctl_set ? '' : ` in ${p.sysctl_file}`}`,
      result: {
        name: p.name,
        value,
        sysctl_file: p.sysctl_file,
        runtime_before: runtimeBefore,
        file_before: inFile.length > 0 ? inFile[inFile.length - 1] : null,
      },
    };
  },
};
