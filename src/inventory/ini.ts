/**
 * The INI inventory format, read line by line as Ansible's `ini` inventory plugin reads it:
 *
 * - lines before any section are hosts of `ungrouped`; `[g]` holds hosts, `[g:vars]`
 *   variables, `[g:children]` child groups (which may be declared later in the file);
 * - a host line is split like a shell line (`shlex`, `#` starts a comment anywhere a word
 *   may start or continue) into a host pattern (ranges, `:port`) and `key=value` pairs;
 * - every value, on host lines and in `:vars` sections alike, goes through Python's
 *   `literal_eval`: `5` is a number, `True` a boolean, `'x y'` a string, `[1,2]` a list,
 *   anything else stays the text it is (in `:vars` the whole rest of the line, comment
 *   included, unless it is a literal followed by a comment);
 * - `#` and `;` at the start of a line are comments.
 */
import { InputError, type SourceLoc } from '../errors.js';
import type { InventoryData, VarOrigin } from './model.js';
import { LiteralTypeError, literalEval, ShlexError, shlexSplit } from './pylit.js';
import { expandHostPattern, HostPatternError } from './ranges.js';
import type { SourceContext } from './yaml.js';
import { containsVault } from './varsfiles.js';

const SECTION = /^\[([^:\]\s]+)(?::([\p{L}\p{N}_]+))?\]\s*(?:#.*)?$/u;
const GROUPNAME = /^([^:\]\s]+)\s*(?:#.*)?$/u;
/** Python's str.splitlines() line boundaries. */
const LINE_BREAKS = /\r\n|[\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]/;

interface Pending {
  line: number;
  col: number;
  state: 'vars' | 'children';
  name: string;
  parents: Array<{ name: string; loc: SourceLoc }>;
}

/** An INI parse failure, before it is known whether the file is INI at all. */
export class IniError extends InputError {}

/** `_parse_value`: a Python literal, or the text itself. */
export function iniValue(v: string, loc: SourceLoc): unknown {
  try {
    return literalEval(v);
  } catch (e) {
    if (e instanceof LiteralTypeError) throw new IniError(`cannot read value ${v}: ${e.message}`, loc);
    throw e;
  }
}

export function loadIniInventory(inv: InventoryData, text: string, ctx: SourceContext): void {
  const lines = text.split(LINE_BREAKS);
  // a final line break does not start another line
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  const pending = new Map<string, Pending>();
  let groupname = 'ungrouped';
  let state: 'hosts' | 'vars' | 'children' = 'hosts';
  const origin = (loc: SourceLoc, value: unknown): VarOrigin => ({
    file: ctx.file,
    loc,
    secret: ctx.secret || containsVault(value),
  });

  const addPendingChildren = (group: string): void => {
    const p = pending.get(group)!;
    for (const parent of p.parents) {
      inv.addChild(parent.name, group, parent.loc);
      const pp = pending.get(parent.name);
      if (pp && pp.state === 'children') addPendingChildren(parent.name);
    }
    pending.delete(group);
  };

  lines.forEach((raw, index) => {
    const lineno = index + 1;
    const line = raw.trim();
    if (!line || line[0] === '#' || line[0] === ';') return;
    const indent = raw.length - raw.trimStart().length;
    const at = (offset = 0): SourceLoc => ({ file: ctx.file, line: lineno, col: indent + offset + 1 });

    const m = SECTION.exec(line);
    if (m) {
      groupname = m[1]!;
      const tag = m[2] ?? 'hosts';
      if (tag !== 'hosts' && tag !== 'children' && tag !== 'vars') {
        throw new IniError(`Section [${m[1]}:${m[2]}] has unknown type: ${tag}`, at(m[1]!.length + 2));
      }
      state = tag;
      if (!inv.groups.has(groupname)) {
        if (state === 'vars' && !pending.has(groupname)) {
          pending.set(groupname, { line: lineno, col: indent + 1, state: 'vars', name: groupname, parents: [] });
        }
        inv.addGroup(groupname, at(1));
      }
      const p = pending.get(groupname);
      if (p && state !== 'vars') {
        if (p.state === 'children') addPendingChildren(groupname);
        else pending.delete(groupname);
      }
      return;
    }
    if (line.startsWith('[') && line.endsWith(']')) {
      throw new IniError(
        `Invalid section entry: '${line}'. Please make sure that there are no spaces in the section entry, and that there are no other invalid characters`,
        at(),
      );
    }

    if (state === 'hosts') {
      let tokens;
      try {
        tokens = shlexSplit(line);
      } catch (e) {
        if (e instanceof ShlexError) throw new IniError(`Error parsing host definition '${line}': ${e.message}`, at(e.offset));
        throw e;
      }
      const first = tokens[0];
      if (!first) throw new IniError(`Expected a host name, got: ${line}`, at());
      let expanded: { hosts: string[]; port: number | undefined };
      try {
        expanded = expandHostPattern(first.value, true);
      } catch (e) {
        if (e instanceof HostPatternError) throw new IniError(`bad host pattern '${first.value}': ${e.message}`, at(first.start));
        throw e;
      }
      const variables = new Map<string, { value: unknown; loc: SourceLoc }>();
      for (const t of tokens.slice(1)) {
        const eq = t.value.indexOf('=');
        if (eq < 0) throw new IniError(`Expected key=value host variable assignment, got: ${t.value}`, at(t.start));
        const k = t.value.slice(0, eq);
        const loc = at(t.start);
        const value = iniValue(t.value.slice(eq + 1), loc);
        const prev = variables.get(k);
        if (prev && !sameShallow(prev.value, value)) {
          inv.sink.add(`variable '${k}' is given twice on this line with different values (first at column ${prev.loc.col})`, loc);
        }
        variables.set(k, { value, loc });
      }
      const hostLoc = at(first.start);
      for (const h of expanded.hosts) {
        const host = inv.addHost(h, groupname, expanded.port, {
          file: ctx.inventoryFile,
          dir: ctx.inventoryDir,
          origin: origin(hostLoc, undefined),
        });
        for (const [k, { value, loc }] of variables) inv.setHostVar(host, k, value, origin(loc, value));
      }
    } else if (state === 'vars') {
      const eq = line.indexOf('=');
      if (eq < 0) throw new IniError(`Expected key=value, got: ${line}`, at());
      const k = line.slice(0, eq).trim();
      const rest = line.slice(eq + 1);
      const vStart = eq + 1 + (rest.length - rest.trimStart().length);
      const value = iniValue(rest.trim(), at(vStart));
      inv.setGroupVar(inv.groups.get(groupname)!, k, value, origin(at(), value));
    } else {
      const gm = GROUPNAME.exec(line);
      if (!gm) throw new IniError(`Expected group name, got: ${line}`, at());
      const child = gm[1]!;
      if (!inv.groups.has(child)) {
        const p = pending.get(child);
        if (!p) {
          pending.set(child, { line: lineno, col: indent + 1, state: 'children', name: child, parents: [{ name: groupname, loc: at() }] });
        } else {
          p.parents.push({ name: groupname, loc: at() });
        }
      } else {
        inv.addChild(groupname, child, at());
      }
    }
  });

  for (const p of pending.values()) {
    const loc = { file: ctx.file, line: p.line, col: p.col };
    if (p.state === 'vars') {
      throw new IniError(`Section [${p.name}:vars] not valid for undefined group: ${p.name}`, loc);
    }
    const parent = p.parents[p.parents.length - 1]!;
    throw new IniError(`Section [${parent.name}:children] includes undefined group: ${p.name}`, loc);
  }
}

function sameShallow(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
