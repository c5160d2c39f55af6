/**
 * Bad inventories (test/fixtures/inventory/bad/): each must fail with the exact
 * `file:line:col: message`.
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { InputError, inputErrorsOf } from '../errors.js';
import { loadInventory } from './index.js';

const BAD = fileURLToPath(new URL('../../test/fixtures/inventory/bad/', import.meta.url));

const CASES: Array<[string, string]> = [
  ['yaml-syntax.yml', '5:1: bad YAML: All mapping items must start at the same column'],
  ['cycle.yml', "12:9: adding group 'a' as a child of 'c' makes a cycle: a -> b -> c -> a"],
  ['cycle.ini', "5:1: adding group 'a' as a child of 'b' makes a cycle: a -> b -> a"],
  ['conflict.ini', "5:6: host 'web1': variable 'http_port' is set again with a different value (first set at {}:2:6)"],
  ['conflict.yml', "10:13: host 'web1': variable 'role' is set again with a different value (first set at {}:8:13)"],
  ['range.ini', "2:1: bad host pattern 'node[3:1]': host range [3:1] has its begin above its end"],
  ['range-format.yml', "3:5: bad host pattern 'node[01:100]': host range must specify equal-length begin and end formats"],
  ['group-and-host.yml', "6:5: 'db' is both a host and a group (the group is defined at {}:1:1)"],
  ['unknown-key.yml', `4:7: unexpected key 'hosst' in group 'web': only "vars", "children" and "hosts" are valid`],
  ['hosts-list.yml', '3:5: Invalid "hosts" entry for "web" group, requires a dictionary, found list instead (write hosts as a mapping: `hosts: {web1: , web2: }`)'],
  ['section.ini', '4:6: Section [web:hosts_and_more] has unknown type: hosts_and_more'],
  ['undefined-child.ini', '6:1: Section [all_servers:children] includes undefined group: dbs'],
  ['no-equals.ini', '2:28: Expected key=value host variable assignment, got: primary'],
  ['quote.ini', `2:11: Error parsing host definition 'web1 motd="unterminated': No closing quotation`],
  ['vars-undefined.ini', '4:1: Section [dbs:vars] not valid for undefined group: dbs'],
  ['priority.yml', `3:29: ansible_group_priority of group 'web' must be an integer, got "high"`],
  ['top-level-list.yml', '1:1: a YAML inventory must be a mapping of group names (all:, web:, ...), got a list'],
  ['group-not-mapping.yml', "3:10: group 'web' must be a mapping (with hosts, vars, children) or empty, got list"],
  ['host-vars-not-mapping.yml', "3:11: host 'web1' must have a mapping of variables (or nothing), got string"],
  ['duplicate-key.json', '1:36: bad YAML: Map keys must be unique'],
];

function failure(sources: string[]): InputError[] {
  try {
    loadInventory(sources);
  } catch (e) {
    const errs = inputErrorsOf(e);
    if (errs.length) return errs;
    throw e;
  }
  return [];
}

describe('bad inventories', () => {
  for (const [name, want] of CASES) {
    it(name, () => {
      const file = join(BAD, name);
      const errs = failure([file]);
      expect(errs.map((e) => e.message)).toEqual([`${file}:${want.replaceAll('{}', file)}`]);
    });
  }

  it('a vars file that is a list (directory source)', () => {
    const file = join(BAD, 'vars-file-list/group_vars/web.yml');
    expect(failure([join(BAD, 'vars-file-list/hosts')]).map((e) => e.message)).toEqual([
      `${file}:1:1: a vars file must be a mapping of variable names to values, got list`,
    ]);
  });

  it('an encrypted vars file without a password', () => {
    const file = join(BAD, 'encrypted/group_vars/all.yml');
    expect(failure([join(BAD, 'encrypted/hosts')]).map((e) => e.message)).toEqual([
      `${file}:1:1: this file is vault-encrypted; give --vault-password-file or UNDERLAY_VAULT_PASSWORD`,
    ]);
  });

  it('a source that does not exist', () => {
    expect(failure([join(BAD, 'no-such-file')]).map((e) => e.message)).toEqual([`inventory source not found: ${join(BAD, 'no-such-file')}`]);
  });

  it('reports every conflict of a file at once', () => {
    const errs = failure([join(BAD, 'conflict.ini'), join(BAD, 'conflict.yml')]);
    expect(errs).toHaveLength(2);
  });
});
