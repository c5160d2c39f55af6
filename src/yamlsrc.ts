/**
 * YAML with source positions. Every mapping and sequence parsed here remembers where it,
 * each of its keys and each of its values stand in the file, so loaders can name
 * `file:line:col` for any error without threading positions through their own code.
 *
 * YAML 1.1 is used, as Ansible (PyYAML) does: `yes`/`no`/`on`/`off` are booleans, `0755`
 * is octal, and merge keys (`<<`) work.
 */
import { readFileSync } from 'node:fs';
import {
  isAlias,
  isMap,
  isPair,
  isScalar,
  isSeq,
  LineCounter,
  parseAllDocuments,
  type Node as YamlNode,
  type ScalarTag,
} from 'yaml';
import { InputError, type SourceLoc } from './errors.js';

/** A value written `!vault |` in YAML: ciphertext to decrypt with the vault password. */
export class VaultText {
  constructor(
    readonly ciphertext: string,
    readonly loc: SourceLoc | undefined,
  ) {}
}

interface Positions {
  self: SourceLoc;
  keys: Map<string | number, SourceLoc>;
  values: Map<string | number, SourceLoc>;
}

const positions = new WeakMap<object, Positions>();

/** Where an object/array starts, or where its `key` (or the value under it) stands. */
export function locOf(obj: unknown, key?: string | number): SourceLoc | undefined {
  if (obj === null || typeof obj !== 'object') return undefined;
  const p = positions.get(obj);
  if (!p) return undefined;
  if (key === undefined) return p.self;
  return p.values.get(key) ?? p.keys.get(key) ?? p.self;
}

/** Where the key itself stands (for "unknown key" errors). */
export function keyLocOf(obj: unknown, key: string | number): SourceLoc | undefined {
  if (obj === null || typeof obj !== 'object') return undefined;
  const p = positions.get(obj);
  return p?.keys.get(key) ?? p?.values.get(key) ?? p?.self;
}

/** Copies the recorded positions of `from` onto `to` (for objects rebuilt by a loader). */
export function copyLoc(from: object, to: object): void {
  const p = positions.get(from);
  if (p) positions.set(to, p);
}

const sourceLines = new Map<string, string[] | null>();

/**
 * Where a scalar's text starts: one column after the opening quote of a quoted scalar.
 * (Positions record where the YAML value starts, quote included.)
 */
export function contentLoc(loc: SourceLoc | undefined): SourceLoc | undefined {
  if (!loc) return loc;
  let lines = sourceLines.get(loc.file);
  if (lines === undefined) {
    try {
      lines = readFileSync(loc.file, 'utf8').split('\n');
    } catch {
      lines = null;
    }
    sourceLines.set(loc.file, lines);
  }
  const ch = lines?.[loc.line - 1]?.[loc.col - 1];
  return ch === '"' || ch === "'" ? { ...loc, col: loc.col + 1 } : loc;
}

/** Records a position for an object made by code rather than parsed. */
export function setLoc(obj: object, loc: SourceLoc): void {
  if (!positions.has(obj)) positions.set(obj, { self: loc, keys: new Map(), values: new Map() });
}

const vaultTag: ScalarTag = {
  tag: '!vault',
  identify: (v) => v instanceof VaultText,
  resolve: (str) => new VaultText(str, undefined),
};

/**
 * PyYAML's YAML 1.1 booleans (what Ansible sees): yes/no/true/false/on/off in three
 * casings — but not y/n, which the YAML 1.1 spec lists and PyYAML leaves as strings.
 */
const pyTrue: ScalarTag = {
  tag: 'tag:yaml.org,2002:bool',
  default: true,
  identify: (v) => v === true,
  test: /^(?:yes|Yes|YES|true|True|TRUE|on|On|ON)$/,
  resolve: () => true,
};
const pyFalse: ScalarTag = {
  tag: 'tag:yaml.org,2002:bool',
  default: true,
  identify: (v) => v === false,
  test: /^(?:no|No|NO|false|False|FALSE|off|Off|OFF)$/,
  resolve: () => false,
};

/** PyYAML's plain floats: digits around a dot (a lone `.` is a string, as `record: .` needs). */
const pyFloat: ScalarTag = {
  tag: 'tag:yaml.org,2002:float',
  default: true,
  identify: (v) => typeof v === 'number',
  test: /^[-+]?(?:[0-9][0-9_]*\.[0-9_]*|\.[0-9][0-9_]*)$/,
  resolve: (str) => Number.parseFloat(str.replace(/_/g, '')),
};

/** PyYAML needs a dot and a signed exponent: `1e3` stays a string there. */
const pyFloatExp: ScalarTag = {
  tag: 'tag:yaml.org,2002:float',
  identify: (v) => typeof v === 'number',
  default: true,
  format: 'EXP',
  test: /^[-+]?(?:[0-9][0-9_]*)?\.[0-9_]*[eE][-+][0-9]+$/,
  resolve: (str) => Number.parseFloat(str.replace(/_/g, '')),
};

const unsafeTag: ScalarTag = {
  tag: '!unsafe',
  identify: () => false,
  resolve: (str) => str,
};

/** Parses YAML text (one document) into plain values with positions recorded. */
export function parseYaml(text: string, file: string): unknown {
  const docs = parseYamlDocuments(text, file);
  if (docs.length > 1) {
    throw new InputError('expected one YAML document, found several', { file, line: 1, col: 1 });
  }
  return docs[0] ?? null;
}

/** Parses every document of a YAML stream. */
export function parseYamlDocuments(text: string, file: string): unknown[] {
  const lc = new LineCounter();
  const docs = parseAllDocuments(text, {
    lineCounter: lc,
    version: '1.1',
    merge: true,
    uniqueKeys: true,
    customTags: (tags) => [
      ...tags.filter((t) => {
        const tt = t as { tag?: string; format?: string; test?: RegExp };
        if (tt.tag === 'tag:yaml.org,2002:bool') return false;
        if (tt.tag !== 'tag:yaml.org,2002:float') return true;
        // keep .inf/.nan; replace the plain and exponent floats by PyYAML's
        return tt.format !== 'EXP' && (tt.test?.test('.inf') ?? false);
      }),
      pyFloat,
      pyFloatExp,
      pyTrue,
      pyFalse,
      vaultTag,
      unsafeTag,
    ],
    prettyErrors: false,
  });
  const at = (offset: number): SourceLoc => {
    const p = lc.linePos(offset);
    return { file, line: p.line, col: p.col };
  };
  if (!Array.isArray(docs)) {
    // an EmptyStream
    return [];
  }
  const out: unknown[] = [];
  for (const doc of docs) {
    const err = doc.errors[0];
    if (err) {
      const offset = err.pos[0];
      const reason = err.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
      throw new InputError(`bad YAML: ${reason}`, at(offset));
    }
    const anchors = new Map<YamlNode, unknown>();
    const convert = (node: unknown): unknown => {
      if (node === null || node === undefined) return null;
      if (isAlias(node)) {
        const target = node.resolve(doc);
        return target ? convert(target) : null;
      }
      if (isScalar(node)) {
        const v = node.value;
        if (v instanceof VaultText) {
          return new VaultText(v.ciphertext, node.range ? at(node.range[0]) : undefined);
        }
        return v;
      }
      if (isMap(node)) {
        if (anchors.has(node)) return anchors.get(node);
        const obj: Record<string, unknown> = {};
        const pos: Positions = {
          self: at(node.range?.[0] ?? 0),
          keys: new Map(),
          values: new Map(),
        };
        positions.set(obj, pos);
        anchors.set(node, obj);
        for (const pair of node.items) {
          if (!isPair(pair)) continue;
          const keyNode = pair.key as YamlNode | null;
          const rawKey = isScalar(keyNode) ? keyNode.value : convert(keyNode);
          const key = rawKey === null || rawKey === undefined ? '' : typeof rawKey === 'symbol' ? '<<' : String(rawKey);
          if (key === '<<') {
            // merge key: copy entries that are not already set
            const src = convert(pair.value);
            const list = Array.isArray(src) ? src : [src];
            for (const m of list) {
              if (m && typeof m === 'object' && !Array.isArray(m)) {
                const mp = positions.get(m);
                for (const [k, v] of Object.entries(m)) {
                  if (!Object.prototype.hasOwnProperty.call(obj, k)) {
                    Object.defineProperty(obj, k, { value: v, enumerable: true, writable: true, configurable: true });
                    const vl = mp?.values.get(k);
                    if (vl) pos.values.set(k, vl);
                    const kl = mp?.keys.get(k);
                    if (kl) pos.keys.set(k, kl);
                  }
                }
              }
            }
            continue;
          }
          const keyRange = (keyNode as { range?: [number, number, number] } | null)?.range;
          if (keyRange) pos.keys.set(key, at(keyRange[0]));
          const valNode = pair.value as YamlNode | null;
          const valRange = (valNode as { range?: [number, number, number] } | null)?.range;
          if (valRange) pos.values.set(key, at(valRange[0]));
          else if (keyRange) pos.values.set(key, at(keyRange[0]));
          Object.defineProperty(obj, key, { value: convert(valNode), enumerable: true, writable: true, configurable: true });
        }
        return obj;
      }
      if (isSeq(node)) {
        if (anchors.has(node)) return anchors.get(node);
        const arr: unknown[] = [];
        const pos: Positions = {
          self: at(node.range?.[0] ?? 0),
          keys: new Map(),
          values: new Map(),
        };
        positions.set(arr, pos);
        anchors.set(node, arr);
        node.items.forEach((item, i) => {
          const r = (item as { range?: [number, number, number] } | null)?.range;
          if (r) pos.values.set(i, at(r[0]));
          arr.push(convert(item));
        });
        return arr;
      }
      return null;
    };
    out.push(convert(doc.contents));
  }
  return out;
}

/** Reads and parses a YAML file; a missing file is an InputError naming it. */
export function readYamlFile(file: string, from?: SourceLoc): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new InputError(`cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? e}`, from);
  }
  return parseYaml(text, file);
}

/** A short name for a JS value's YAML type, for "expected X, got Y" messages. */
export function typeName(v: unknown): string {
  if (v === null || v === undefined) return 'null';
  if (Array.isArray(v)) return 'list';
  if (v instanceof VaultText) return 'vault-encrypted string';
  if (typeof v === 'object') return 'mapping';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof VaultText);
}
