import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Ajv } from 'ajv';
import { describe, expect, it } from 'vitest';
import { moduleNames } from '../modules/registry.js';
import { parseYaml } from '../yamlsrc.js';
import { playbookSchema } from './schema.js';

const root = resolve(__dirname, '../..');
const schema = playbookSchema();
const ajv = new Ajv({ allErrors: true, strict: false });
const validate = ajv.compile(schema);

function yamlFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) => {
    const p = join(dir, d.name);
    if (d.isDirectory()) return ['defaults', 'vars', 'templates', 'files', 'group_vars', 'host_vars'].includes(d.name) ? [] : yamlFiles(p);
    return /\.ya?ml$/.test(d.name) ? [p] : [];
  });
}

describe('the playbook JSON Schema', () => {
  it('is the committed schema/playbook.schema.json (run `npm run schema` after changing modules)', () => {
    const committed = JSON.parse(readFileSync(join(root, 'schema/playbook.schema.json'), 'utf8'));
    expect(committed).toEqual(JSON.parse(JSON.stringify(schema)));
  });

  it('describes every module, with and without the ansible.builtin. prefix', () => {
    const props = (schema['$defs'] as { task: { properties: Record<string, unknown> } }).task.properties;
    for (const m of moduleNames()) {
      expect(props[m], m).toBeDefined();
      expect(props[`ansible.builtin.${m}`], m).toBeDefined();
    }
  });

  it.each([...yamlFiles(join(root, 'test/fixtures/playbooks/good')), ...yamlFiles(join(root, 'playbooks'))].map((f) => [f.slice(root.length + 1), f]))(
    'accepts %s',
    (_name, file) => {
      const ok = validate(parseYaml(readFileSync(file, 'utf8'), file));
      expect(validate.errors ?? [], JSON.stringify(validate.errors, null, 1)).toEqual([]);
      expect(ok).toBe(true);
    },
  );

  it.each([
    ['an unknown play keyword', '- hosts: all\n  hostz: x\n'],
    ['an unknown module parameter', '- hosts: all\n  tasks:\n    - debug: { msgg: hi }\n'],
    ['an unknown task keyword', '- hosts: all\n  tasks:\n    - debug: msg=hi\n      whenn: x\n'],
    ['a bad strategy', '- hosts: all\n  strategy: fast\n'],
    ['a task without a module', '- hosts: all\n  tasks:\n    - name: nothing\n'],
  ])('rejects %s', (_name, text) => {
    expect(validate(parseYaml(text, 'x.yml'))).toBe(false);
  });
});
