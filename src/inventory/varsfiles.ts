/**
 * `group_vars/` and `host_vars/` directories, found and read as Ansible's `host_group_vars`
 * vars plugin and `DataLoader.find_vars_files` do:
 *
 * - for an entity NAME, the first of `NAME`, `NAME.yml`, `NAME.yaml`, `NAME.json` that exists
 *   is used (only that one); if it is a directory, every file under it (recursively, sorted,
 *   hidden files and `~` backups skipped, only no extension or the three extensions) is
 *   read in order, later files overriding earlier ones;
 * - an empty file contributes nothing; anything but a mapping is an error;
 * - a file that is vault-encrypted as a whole is decrypted with the keyring (all its
 *   variables are then secret), `!vault` values inside a file are kept for decryption when
 *   used (their variables are secret too).
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { InputError, type SourceLoc } from '../errors.js';
import { isPlainObject, locOf, parseYaml, typeName, VaultText } from '../yamlsrc.js';

export interface Keyring {
  decrypt(text: string, loc?: SourceLoc): string;
}

/** One loaded vars file: its variables in file order, where each stands, and which are secret. */
export interface VarsFile {
  file: string;
  vars: Map<string, unknown>;
  locs: Map<string, SourceLoc | undefined>;
  secret: Set<string>;
}

export const VARS_EXTENSIONS = ['.yml', '.yaml', '.json'] as const;

export const VAULT_HEADER = '$ANSIBLE_VAULT;';

/** The error for vault data met without a keyring: `what` is "this file" or "this value". */
export function noKeyringMessage(what: string): string {
  return `${what} is vault-encrypted; give --vault-password-file or UNDERLAY_VAULT_PASSWORD`;
}

/** True when any part of `v` is a `!vault` value. */
export function containsVault(v: unknown): boolean {
  if (v instanceof VaultText) return true;
  if (Array.isArray(v)) return v.some(containsVault);
  if (isPlainObject(v)) return Object.values(v).some(containsVault);
  return false;
}

/** Python's os.path.splitext extension (leading dots of the name do not count). */
export function splitExt(name: string): string {
  const base = name.replace(/^\.+/, '');
  const i = base.lastIndexOf('.');
  return i < 0 ? '' : base.slice(i);
}

function isDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

function isFile(p: string): boolean {
  try {
    return statSync(p).isFile();
  } catch {
    return false;
  }
}

/** `DataLoader._get_dir_vars_files`. */
function dirVarsFiles(path: string): string[] {
  const out: string[] = [];
  let names: string[];
  try {
    names = readdirSync(path).sort();
  } catch (e) {
    throw new InputError(`cannot read directory ${path}: ${(e as NodeJS.ErrnoException).code ?? e}`);
  }
  for (const name of names) {
    if (name.startsWith('.') || name.endsWith('~')) continue;
    const ext = splitExt(name);
    const full = join(path, name);
    if (isDir(full) && !ext) out.push(...dirVarsFiles(full));
    else if (isFile(full) && (!ext || (VARS_EXTENSIONS as readonly string[]).includes(ext))) out.push(full);
  }
  return out;
}

/** `DataLoader.find_vars_files(path, name)`: the files that hold NAME's variables, in order. */
export function findVarsFiles(path: string, name: string): string[] {
  const base = join(path, name);
  for (const ext of ['', ...VARS_EXTENSIONS]) {
    const full = base + ext;
    if (!existsSync(full)) continue;
    if (isDir(full)) return dirVarsFiles(full);
    return [full];
  }
  return [];
}

/**
 * Reads one vars file (YAML or JSON; vault-encrypted as a whole or not). Returns undefined
 * for a file without variables (empty, or only comments).
 */
export function readVarsFile(file: string, keyring: Keyring | undefined): VarsFile | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new InputError(`cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? e}`);
  }
  let wholeSecret = false;
  if (text.startsWith(VAULT_HEADER)) {
    const at = { file, line: 1, col: 1 };
    if (!keyring) throw new InputError(noKeyringMessage('this file'), at);
    text = keyring.decrypt(text, at);
    wholeSecret = true;
  }
  const data = parseYaml(text, file);
  // Python truthiness: None, {}, [], '', 0 and False add nothing
  if (data === null || data === undefined || data === false || data === 0 || data === '') return undefined;
  if (Array.isArray(data) && data.length === 0) return undefined;
  if (!isPlainObject(data)) {
    throw new InputError(`a vars file must be a mapping of variable names to values, got ${typeName(data)}`, locOf(data) ?? { file, line: 1, col: 1 });
  }
  const vars = new Map<string, unknown>();
  const locs = new Map<string, SourceLoc | undefined>();
  const secret = new Set<string>();
  for (const [k, v] of Object.entries(data)) {
    vars.set(k, v);
    locs.set(k, locOf(data, k));
    if (wholeSecret || containsVault(v)) secret.add(k);
  }
  if (vars.size === 0) return undefined;
  return { file, vars, locs, secret };
}

/**
 * A directory that may hold `group_vars/` and `host_vars/`: beside an inventory source, or
 * beside a playbook. Files are read once, when first asked for.
 */
export class VarsDir {
  private readonly cache = new Map<string, VarsFile[]>();
  private readonly groupDir: string | undefined;
  private readonly hostDir: string | undefined;

  constructor(
    readonly dir: string,
    private readonly keyring: Keyring | undefined,
  ) {
    this.groupDir = VarsDir.sub(dir, 'group_vars');
    this.hostDir = VarsDir.sub(dir, 'host_vars');
  }

  private static sub(dir: string, name: string): string | undefined {
    const p = join(dir, name);
    return isDir(p) ? p : undefined;
  }

  /** Vars files of group NAME, in the order they apply. */
  groupVars(name: string): VarsFile[] {
    return this.load('g', this.groupDir, name);
  }

  /** Vars files of host NAME, in the order they apply. */
  hostVars(name: string): VarsFile[] {
    return this.load('h', this.hostDir, name);
  }

  private load(kind: 'g' | 'h', dir: string | undefined, name: string): VarsFile[] {
    // Ansible skips names that look like absolute paths ('chroot' style hosts)
    if (!dir || name.startsWith('/')) return [];
    const key = `${kind}:${name}`;
    const hit = this.cache.get(key);
    if (hit) return hit;
    const files: VarsFile[] = [];
    for (const f of findVarsFiles(dir, name)) {
      const vf = readVarsFile(f, this.keyring);
      if (vf) files.push(vf);
    }
    this.cache.set(key, files);
    return files;
  }
}

/** Loads the `group_vars/` and `host_vars/` beside `dir` (an inventory or a playbook directory). */
export function loadVarsDir(dir: string, opts: { keyring?: Keyring } = {}): VarsDir {
  return new VarsDir(dir, opts.keyring);
}
