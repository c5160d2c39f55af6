import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { InputError, InputErrors } from '../errors.js';
import { loadInventory } from '../inventory/index.js';
import { checkVariables } from './check.js';
import { loadPlaybook } from './load.js';

const dir = mkdtempSync(join(tmpdir(), 'ul-check-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const inventoryFile = join(dir, 'hosts.yml');
writeFileSync(inventoryFile, 'all:\n  hosts:\n    h1:\n      known_var: 1\n');

/** The messages of checkVariables for a playbook text ([] when it passes). */
function problems(text: string, extra: Record<string, unknown> = {}): string[] {
  const file = join(dir, `p${Math.random().toString(36).slice(2)}.yml`);
  writeFileSync(file, text);
  try {
    checkVariables(loadPlaybook(file), loadInventory([inventoryFile]), extra);
    return [];
  } catch (e) {
    const errors = e instanceof InputErrors ? e.errors : e instanceof InputError ? [e] : null;
    if (errors === null) throw e;
    return errors.map((x) => `${x.loc ? `${x.loc.line}:${x.loc.col}` : '?'} ${x.message}`);
  }
}

describe('checkVariables', () => {
  it('passes variables from the inventory, play vars, register, set_fact, loops and extra vars', () => {
    expect(
      problems(`- hosts: all
  vars:
    a: "{{ known_var }}"
  tasks:
    - command: echo {{ a }} {{ inventory_hostname }} {{ from_cli }}
      register: out
    - set_fact:
        b: "{{ out.stdout }}"
    - debug:
        msg: "{{ b }} {{ item }}"
      loop: [1, 2]
`, { from_cli: 'x' }),
    ).toEqual([]);
  });

  it('reports an undefined variable with its line and column, and a suggestion', () => {
    const p = problems(`- hosts: all
  tasks:
    - debug:
        msg: "value {{ known_vra }}"
`);
    expect(p).toHaveLength(1);
    // column 24: where known_vra starts inside the quoted template
    expect(p[0]).toMatch(/^4:24 \S+\.yml:4:24: undefined variable 'known_vra' \(did you mean 'known_var'\?\)/);
  });

  it('accepts a variable the task only uses when it is defined', () => {
    expect(
      problems(`- hosts: all
  tasks:
    - debug:
        msg: "{{ maybe }}"
      when: maybe is defined
    - debug:
        msg: "{{ other }} {{ third }}"
      when:
        - known_var == 1 and other is defined
        - third is not undefined
`),
    ).toEqual([]);
  });

  it('still reports a variable whose guard does not protect it (or, not, another name)', () => {
    const p = problems(`- hosts: all
  tasks:
    - debug:
        msg: "{{ v1 }}"
      when: v1 is defined or known_var == 1
    - debug:
        msg: "{{ v2 }}"
      when: not (v2 is defined)
    - debug:
        msg: "{{ v3 }}"
      when: v4 is defined
    - debug:
        msg: "{{ v5 }}"
      when: v5 is undefined
`);
    expect(p.map((m) => /'(\w+)'/.exec(m)![1])).toEqual(['v1', 'v2', 'v3', 'v5']);
  });
});
