/**
 * Inventory sources, taken as Ansible takes them (`InventoryManager.parse_sources`):
 *
 * - a file: YAML when its extension is `.yml`, `.yaml`, `.json` or none and it reads as a
 *   non-empty YAML mapping; otherwise INI (so an INI file may be called `hosts`, and an empty
 *   file is an empty inventory);
 * - a directory: every entry in name order, recursively, except hidden names,
 *   `group_vars`, `host_vars`, `vars_plugins` and names ending in one of Ansible's
 *   INVENTORY_IGNORE_EXTS (note `.ini` is among them: an `.ini` file inside an inventory
 *   directory is skipped, as Ansible skips it);
 * - a string with a comma that is no existing path: a host list (`web1,web2:2222,`).
 *
 * Sources merge in order; then groups without a parent are put under `all` and hosts
 * without a group into `ungrouped`. `group_vars/` and `host_vars/` are read beside each
 * source (the directory itself for a directory source; not in its subdirectories).
 *
 * Where Ansible warns and carries on, this stops with an InputError: a source that does not
 * exist or that no format can read, a conflicting repeat in one file, a name that is both a
 * host and a group.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { InputError } from '../errors.js';
import { parseYaml } from '../yamlsrc.js';
import { IniError, loadIniInventory } from './ini.js';
import { Inventory } from './inventory.js';
import { InventoryData } from './model.js';
import { parseAddress } from './ranges.js';
import { noKeyringMessage, splitExt, VarsDir, VAULT_HEADER, type Keyring } from './varsfiles.js';
import { loadYamlInventory, pyFalsy, yamlPluginAccepts, type SourceContext } from './yaml.js';

export interface LoadOptions {
  /** Decrypts vault-encrypted files and `!vault` values. */
  keyring?: Keyring;
  /**
   * Directories whose `group_vars/` and `host_vars/` apply "beside the playbook" (as
   * `ansible-inventory --playbook-dir`, or the playbook's directory in a run).
   */
  playbookDir?: string | string[];
}

/** Ansible's INVENTORY_IGNORE_EXTS (defaults). */
export const INVENTORY_IGNORE_EXTS = ['.pyc', '.pyo', '.swp', '.bak', '~', '.rpm', '.md', '.txt', '.rst', '.orig', '.ini', '.cfg', '.retry'];
const IGNORED_NAMES = /^\.|^host_vars$|^group_vars$|^vars_plugins$/;

export const YAML_EXTENSIONS = ['.yml', '.yaml', '.json'];

/** Whether an entry of an inventory directory is skipped. */
export function ignoredInDirectory(name: string): boolean {
  return IGNORED_NAMES.test(name) || INVENTORY_IGNORE_EXTS.some((e) => name.endsWith(e));
}

function isDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/** Whether text that is neither valid INI nor YAML was more likely meant as YAML. */
function meantAsYaml(text: string): boolean {
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line || line.startsWith('#') || line.startsWith(';')) continue;
    if (line.startsWith('[')) return false;
    return line === '---' || /^[^\s=]+:(\s|$)/.test(line);
  }
  return false;
}

function parseFile(inv: InventoryData, file: string, keyring: Keyring | undefined): void {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new InputError(`cannot read inventory ${file}: ${(e as NodeJS.ErrnoException).code ?? e}`);
  }
  let secret = false;
  if (text.startsWith(VAULT_HEADER)) {
    const at = { file, line: 1, col: 1 };
    if (!keyring) throw new InputError(noKeyringMessage('this file'), at);
    text = keyring.decrypt(text, at);
    secret = true;
  }
  const abs = resolve(file);
  const ctx: SourceContext = { file, inventoryFile: abs, inventoryDir: dirname(abs), secret };
  const ext = splitExt(file.split('/').pop() ?? file);
  if (ext === '.toml') throw new InputError('TOML inventories are not supported; use YAML or INI', { file, line: 1, col: 1 });
  const yamlCandidate = ext === '' || YAML_EXTENSIONS.includes(ext);
  let yamlError: InputError | undefined;
  let yamlData: unknown;
  if (yamlCandidate) {
    try {
      yamlData = parseYaml(text, file);
    } catch (e) {
      if (!(e instanceof InputError)) throw e;
      yamlError = e;
    }
    if (!yamlError && yamlPluginAccepts(yamlData)) {
      loadYamlInventory(inv, yamlData as Record<string, unknown>, ctx);
      return;
    }
  }
  try {
    loadIniInventory(inv, text, ctx);
  } catch (e) {
    if (!(e instanceof IniError) || !yamlCandidate) throw e;
    if (ext !== '') {
      // a .yml/.yaml/.json file: the YAML reading is what was meant
      if (yamlError) throw yamlError;
      throw new InputError(
        `a YAML inventory must be a mapping of group names (all:, web:, ...), got ${pyFalsy(yamlData) ? 'nothing' : Array.isArray(yamlData) ? 'a list' : 'a scalar'}`,
        { file, line: 1, col: 1 },
      );
    }
    if (yamlError && meantAsYaml(text)) throw yamlError;
    throw e;
  }
}

function parseSource(inv: InventoryData, source: string, keyring: Keyring | undefined): void {
  if (isDir(source)) {
    let names: string[];
    try {
      names = readdirSync(source).sort();
    } catch (e) {
      throw new InputError(`cannot read inventory directory ${source}: ${(e as NodeJS.ErrnoException).code ?? e}`);
    }
    for (const name of names) {
      if (ignoredInDirectory(name)) continue;
      parseSource(inv, join(source, name), keyring);
    }
    return;
  }
  parseFile(inv, source, keyring);
}

/** The `host_list` source: `a,b:2222,c`. */
function parseHostList(inv: InventoryData, source: string): void {
  for (const part of source.split(',')) {
    const h = part.trim();
    if (!h) continue;
    let host = h;
    let port: number | undefined;
    try {
      ({ host, port } = parseAddress(h, false));
    } catch {
      host = h;
      port = undefined;
    }
    if (!inv.hosts.has(host)) {
      inv.addHost(host, 'ungrouped', port, {
        file: source,
        dir: null,
        origin: { file: source, loc: undefined, secret: false },
      });
    }
  }
}

/** Loads inventory sources (files, directories, host lists), merged in order. */
export function loadInventory(sources: string[], opts: LoadOptions = {}): Inventory {
  const inv = new InventoryData();
  const varsDirs: VarsDir[] = [];
  const keyring = opts.keyring;
  for (const source of sources) {
    if (!source) continue;
    if (source.includes(',') && !existsSync(source)) {
      parseHostList(inv, source);
      continue;
    }
    if (!existsSync(source)) throw new InputError(`inventory source not found: ${source}`);
    parseSource(inv, source, keyring);
    varsDirs.push(new VarsDir(isDir(source) ? source : dirname(source), keyring));
  }
  inv.reconcile();
  for (const [name, h] of inv.hosts) {
    const g = inv.groups.get(name);
    if (g) {
      inv.sink.add(
        `'${name}' is both a host and a group${g.loc ? ` (the group is defined at ${g.loc.file}:${g.loc.line}:${g.loc.col})` : ''}`,
        h.loc,
      );
    }
  }
  inv.sink.throwIfAny();
  const playDirs = (opts.playbookDir === undefined ? [] : Array.isArray(opts.playbookDir) ? opts.playbookDir : [opts.playbookDir]).map(
    (d) => new VarsDir(d, keyring),
  );
  const inventory = new Inventory(inv, varsDirs, playDirs, keyring);
  inventory.preload();
  return inventory;
}
