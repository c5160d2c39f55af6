/**
 * Open vSwitch database rows: `ovs-vsctl --format=json --columns=... find|list TABLE ...`,
 * one command and one pure parser; several finds in one ovs-vsctl process
 * (ovsFindsCommand + parseOvsTables); plus the encoding of values for `ovs-vsctl set`.
 *
 * OVSDB's JSON: an atom is a JSON string/number/boolean or `["uuid", "..."]`; a set of
 * other than one element is `["set", [atoms]]`; a map is `["map", [[key, value], ...]]`.
 */
import { CommandError } from '../errors.js';
import type { ExecResult, ModuleSchema } from '../modules/types.js';
import { contained, sh, type ShellCommand } from '../transport/quote.js';
import { parseJsonOutput } from './iplink.js';

export type OvsAtom = string | number | boolean | { uuid: string };
/** A column's value: an atom, a set (array) or a map (entries, keys as text). */
export type OvsValue = OvsAtom | OvsAtom[] | { pairs: [string, OvsAtom][] };
export type OvsRow = Record<string, OvsValue>;

export interface OvsTarget {
  /** `--db=` (e.g. `unix:/var/run/openvswitch/db.sock`); ovs-vsctl's default when absent. */
  db?: string;
  /** `--timeout=` in seconds: bounds the wait for the database and for ovs-vswitchd. */
  timeout?: number;
}

/** The parameters every ovs_* module takes to reach the database. */
export const ovsTargetParams: ModuleSchema['params'] = {
  db: {
    type: 'str',
    description: "The OVSDB server to talk to, passed as `--db=` (e.g. `unix:/var/run/openvswitch/db.sock`); ovs-vsctl's default when not given.",
  },
  timeout: {
    type: 'int',
    default: 30,
    description: 'Seconds ovs-vsctl may wait for the database and for ovs-vswitchd to apply a change (`--timeout=`); a change that takes longer fails.',
  },
};

/** `ovs-vsctl [--db=DB] [--timeout=S]` followed by already-safe arguments. */
export function ovsVsctl(t: OvsTarget, args: ShellCommand): ShellCommand {
  const opts: string[] = [];
  if (t.db !== undefined) opts.push(`--db=${t.db}`);
  if (t.timeout !== undefined) opts.push(`--timeout=${t.timeout}`);
  return opts.length > 0 ? sh`ovs-vsctl ${opts} ${args}` : sh`ovs-vsctl ${args}`;
}

/** One `find` of ovsFindsCommand: `--columns=C find TABLE COND...` (every row when no condition). */
export interface OvsFind {
  table: string;
  columns: readonly string[];
  conditions?: readonly string[];
}

/**
 * Several finds in ONE ovs-vsctl process (one read-only transaction):
 * `ovs-vsctl --format=json -- --columns=C find T COND... -- --columns=C find T ...`; it prints
 * one JSON table per find, one a line, in order (parseOvsTables). Only finds: a find that
 * matches nothing is an empty table, whereas a failing command (a `list` or `get` of a
 * missing record, `port-to-br` of a missing port) fails the whole invocation.
 */
export function ovsFindsCommand(t: OvsTarget, finds: readonly OvsFind[]): ShellCommand {
  if (finds.length === 0) throw new TypeError('ovsFindsCommand needs at least one find');
  const words = finds.flatMap((f) => ['--', `--columns=${f.columns.join(',')}`, 'find', f.table, ...(f.conditions ?? [])]);
  return ovsVsctl(t, sh`--format=json ${words}`);
}

/** `ovs-vsctl --format=json --columns=C list TABLE RECORD` (exit 1 when there is no such record). */
export function ovsListCommand(t: OvsTarget, table: string, record: string, columns: readonly string[]): ShellCommand {
  return ovsVsctl(t, sh`--format=json ${`--columns=${columns.join(',')}`} list ${table} ${record}`);
}

function atomOf(v: unknown, r: ExecResult): OvsAtom {
  if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return v;
  if (Array.isArray(v) && (v[0] === 'uuid' || v[0] === 'named-uuid') && typeof v[1] === 'string') return { uuid: v[1] };
  throw new CommandError(`ovs-vsctl: unexpected OVSDB atom ${JSON.stringify(v)}`, r);
}

function valueOf(v: unknown, r: ExecResult): OvsValue {
  if (Array.isArray(v) && v[0] === 'set' && Array.isArray(v[1])) return (v[1] as unknown[]).map((x) => atomOf(x, r));
  if (Array.isArray(v) && v[0] === 'map' && Array.isArray(v[1])) {
    return {
      pairs: (v[1] as unknown[]).map((pair) => {
        if (!Array.isArray(pair) || pair.length !== 2) throw new CommandError(`ovs-vsctl: bad map entry ${JSON.stringify(pair)}`, r);
        return [atomText(atomOf(pair[0], r)), atomOf(pair[1], r)] as [string, OvsAtom];
      }),
    };
  }
  return atomOf(v, r);
}

/** The rows of one `{"headings": [...], "data": [[...], ...]}` table, keyed by column. */
function tableRows(data: unknown, r: ExecResult): OvsRow[] {
  if (typeof data !== 'object' || data === null || Array.isArray(data)) throw new CommandError('ovs-vsctl --format=json: expected an object with headings and data', r);
  const d = data as { headings?: unknown; data?: unknown };
  if (!Array.isArray(d.headings) || !Array.isArray(d.data)) throw new CommandError('ovs-vsctl --format=json: expected headings and data', r);
  const headings = d.headings.map(String);
  return (d.data as unknown[]).map((row) => {
    if (!Array.isArray(row)) throw new CommandError('ovs-vsctl --format=json: a row is not an array', r);
    const out: OvsRow = {};
    headings.forEach((h, i) => {
      out[h] = valueOf(row[i], r);
    });
    return out;
  });
}

/** Parses `ovs-vsctl --format=json ... find|list`: one object per row, keyed by column. */
export function parseOvsTable(r: ExecResult): OvsRow[] {
  return tableRows(parseJsonOutput(r, 'ovs-vsctl --format=json'), r);
}

/**
 * Parses the output of ovsFindsCommand with `count` finds: one table (rows as parseOvsTable
 * gives them) per find, in order. A non-zero exit, a line that is not JSON or a count of
 * tables other than `count` is a CommandError.
 */
export function parseOvsTables(r: ExecResult, count: number): OvsRow[][] {
  const what = 'ovs-vsctl --format=json';
  if (r.exitCode !== 0) throw new CommandError(`${what}: exit code ${r.exitCode}: ${r.stderr.trim() || r.stdout.trim()}`, r);
  const lines = r.stdout.split('\n').filter((l) => l.trim() !== '');
  if (lines.length !== count) throw new CommandError(`${what}: expected ${count} tables, one a line, got ${lines.length}`, r);
  return lines.map((line) => {
    let data: unknown;
    try {
      data = JSON.parse(line) as unknown;
    } catch (e) {
      throw new CommandError(`${what}: output is not JSON: ${line.slice(0, 200)}`, r, { cause: e });
    }
    return tableRows(data, r);
  });
}

/** True when `list` failed because the record does not exist. */
export function isNoRow(r: ExecResult): boolean {
  return r.exitCode !== 0 && /no row .* in table|no (port|bridge|interface) named/i.test(r.stderr);
}

/** An atom as text: strings as they are, numbers and booleans printed, uuids bare. */
export function atomText(a: OvsAtom): string {
  return typeof a === 'object' ? a.uuid : String(a);
}

/** The atoms of a set column, whether OVSDB printed it as a set or as its single atom ([] for a map or nothing). */
export function setAtoms(v: OvsValue | undefined): OvsAtom[] {
  if (v === undefined) return [];
  if (Array.isArray(v)) return v;
  if (typeof v === 'object' && 'pairs' in v) return [];
  return [v];
}

/** The entries of a map value ([] for anything else). */
export function mapEntries(v: OvsValue | undefined): [string, OvsAtom][] {
  if (v === undefined || typeof v !== 'object' || Array.isArray(v) || !('pairs' in v)) return [];
  return v.pairs;
}

/** The value of a map column's key, or undefined. */
export function mapGet(v: OvsValue | undefined, key: string): OvsAtom | undefined {
  if (v === undefined || typeof v !== 'object' || Array.isArray(v) || !('pairs' in v)) return undefined;
  return v.pairs.find(([k]) => k === key)?.[1];
}

/** True for an empty set or map (an optional column with no value). */
export function isEmptyValue(v: OvsValue | undefined): boolean {
  if (v === undefined) return true;
  if (Array.isArray(v)) return v.length === 0;
  if (typeof v === 'object' && 'pairs' in v) return v.pairs.length === 0;
  return false;
}

/**
 * A value as canonical text, for comparing what the database holds with what a task asks
 * for: atoms as atomText, a one-element set as its element, sets sorted as `[a,b]`, maps
 * sorted as `{k=v,...}`.
 */
export function valueText(v: OvsValue): string {
  if (Array.isArray(v)) {
    if (v.length === 1) return atomText(v[0]!);
    return `[${v.map(atomText).sort().join(',')}]`;
  }
  if (typeof v === 'object' && 'pairs' in v) {
    return `{${v.pairs
      .map(([k, x]) => `${k}=${atomText(x)}`)
      .sort()
      .join(',')}}`;
  }
  return atomText(v);
}

/** The same canonical text for a value written in a task (string, number, boolean, list, mapping). */
export function desiredText(v: unknown): string {
  if (Array.isArray(v)) {
    if (v.length === 1) return desiredText(v[0]);
    return `[${v.map((x) => desiredText(x)).sort().join(',')}]`;
  }
  if (typeof v === 'object' && v !== null) {
    return `{${Object.entries(v as Record<string, unknown>)
      .map(([k, x]) => `${k}=${desiredText(x)}`)
      .sort()
      .join(',')}}`;
  }
  return String(v);
}

/** Words ovs-vsctl takes without quotes whatever the column's type. */
const BARE = /^[A-Za-z0-9_.\/+-]+$/;

/**
 * One atom in ovs-vsctl's argument syntax: bare when it is a plain word (ovs-vsctl then
 * reads it by the column's type, so `10` suits an integer column and a string column
 * alike), else an OVSDB quoted string (JSON string syntax: `"a \"b\" c"`). The result
 * is one ovs-vsctl argument fragment; quote it for the shell as a whole.
 */
export function encodeOvsAtom(v: string | number | boolean): string {
  const s = String(v);
  if (typeof v !== 'string' || BARE.test(s)) return s;
  return JSON.stringify(s);
}

/** A value in ovs-vsctl's syntax: an atom, a set `[a,b]` or a map `{k=v}`. */
export function encodeOvsValue(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map((x) => encodeOvsValue(x)).join(',')}]`;
  if (typeof v === 'object' && v !== null) {
    return `{${Object.entries(v as Record<string, unknown>)
      .map(([k, x]) => `${encodeOvsAtom(k)}=${encodeOvsValue(x)}`)
      .join(',')}}`;
  }
  if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return encodeOvsAtom(v);
  throw new TypeError(`cannot write ${typeof v} as an OVSDB value`);
}

/** An interface row's health: a datapath port exists (ofport >= 0) and no error is recorded. */
export function interfaceHealth(row: OvsRow | undefined): { ok: boolean; ofport?: number; error?: string } {
  if (!row) return { ok: false };
  const of = row['ofport'];
  const err = row['error'];
  const ofport = typeof of === 'number' ? of : undefined;
  const error = typeof err === 'string' && err !== '' ? err : undefined;
  return { ok: ofport !== undefined && ofport >= 0 && error === undefined, ...(ofport !== undefined ? { ofport } : {}), ...(error !== undefined ? { error } : {}) };
}

/**
 * An ovs-vsctl command that adds interfaces (add-br, add-port), failing where one of them
 * got no datapath port. ovs-vsctl checks the interfaces it adds itself, once ovs-vswitchd
 * has applied the change, but only says so ("Error detected while setting up 'NAME'") and
 * exits 0: its messages go to stderr as they are, and that one fails the command. One
 * ovs-vsctl instead of two (ovsInterfaceCheckCommand), each about 9 ms of CPU.
 */
export function ovsAddCommand(t: OvsTarget, args: ShellCommand): ShellCommand {
  return contained(sh`ul_err=$(${ovsVsctl(t, args)} 2>&1 >/dev/null); ul_rc=$?; [ -z "$ul_err" ] || printf '%s\\n' "$ul_err" >&2; [ "$ul_rc" -eq 0 ] || return "$ul_rc"; case $ul_err in *'Error detected while setting up'*) return 1 ;; esac`);
}

/**
 * A command that fails, with a clear message, unless the interface has a datapath port:
 * run after a `set` to prove it took (add-br and add-port check themselves: ovsAddCommand).
 */
export function ovsInterfaceCheckCommand(t: OvsTarget, name: string): ShellCommand {
  const getOfport = ovsVsctl(t, sh`get Interface ${name} ofport`);
  const getError = ovsVsctl(t, sh`get Interface ${name} error`);
  const what = `ovs: interface ${name} has no datapath port`;
  return sh`of=$(${getOfport}) || exit 1; case $of in [0-9]*) exit 0;; esac; err=$(${getError} 2>/dev/null); echo ${what}" (ofport $of, error $err)" >&2; exit 1`;
}
