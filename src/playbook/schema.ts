/**
 * The JSON Schema of the playbook format, generated from the module registry and the
 * keyword lists the loader uses, so editors (yaml-language-server) validate playbooks
 * as they are typed. `underlay schema` prints it; schema/playbook.schema.json is a copy
 * kept in step by a test.
 */
import { allModules } from '../modules/registry.js';
import type { ModuleDef, ParamSpec, ParamType } from '../modules/types.js';

type Json = Record<string, unknown>;

const templated: Json = { type: 'string', pattern: '\\{\\{' };

function typeSchema(t: ParamType, elements?: ParamType): Json {
  switch (t) {
    case 'str':
    case 'path':
      return { type: ['string', 'number', 'boolean'] };
    case 'int':
      return { anyOf: [{ type: 'integer' }, { type: 'string', pattern: '^-?\\d+$' }, templated] };
    case 'float':
      return { anyOf: [{ type: 'number' }, templated, { type: 'string' }] };
    case 'bool':
      return { anyOf: [{ type: 'boolean' }, { enum: ['yes', 'no', 'true', 'false', 'on', 'off', 'True', 'False'] }, templated] };
    case 'mode':
      return { anyOf: [{ type: 'integer', minimum: 0, maximum: 4095 }, { type: 'string', pattern: '^0?[0-7]{3,4}$' }, templated] };
    case 'list':
      return { anyOf: [{ type: 'array', ...(elements ? { items: typeSchema(elements) } : {}) }, { type: 'string' }] };
    case 'dict':
      return { anyOf: [{ type: 'object' }, templated] };
    case 'raw':
      return {};
  }
}

function paramSchema(spec: ParamSpec): Json {
  const base = typeSchema(spec.type, spec.elements);
  const out: Json = { description: spec.description, ...base };
  if (spec.choices) {
    return { description: spec.description, anyOf: [{ enum: [...spec.choices] }, templated] };
  }
  if (spec.default !== undefined) out['default'] = spec.default;
  return out;
}

function moduleSchema(def: ModuleDef): Json {
  const props: Json = {};
  const required: string[] = [];
  for (const [name, spec] of Object.entries(def.schema.params)) {
    props[name] = paramSchema(spec);
    for (const a of spec.aliases ?? []) props[a] = { ...paramSchema(spec), description: `Alias of ${name}. ${spec.description}` };
    if (spec.required && name !== def.schema.freeForm) required.push(name);
  }
  const obj: Json = {
    type: 'object',
    description: def.description,
    properties: props,
    additionalProperties: def.name === 'set_fact',
    ...(required.length > 0 ? { required } : {}),
  };
  if (def.schema.freeForm || def.name !== 'set_fact') {
    return { description: def.description, anyOf: [obj, { type: 'string', description: def.schema.freeForm ? 'Free-form text, optionally with key=value parameters.' : 'key=value parameters.' }] };
  }
  return obj;
}

const condition: Json = {
  description: 'An expression (or a list of expressions, all of which must hold).',
  anyOf: [{ type: 'string' }, { type: 'boolean' }, { type: 'array', items: { type: ['string', 'boolean'] } }],
};
const stringList: Json = { anyOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }] };
const bool: Json = { anyOf: [{ type: 'boolean' }, { enum: ['yes', 'no', 'true', 'false', 'on', 'off'] }] };

const taskKeywords: Json = {
  name: { type: 'string', description: 'What the task does (shown in the output).' },
  when: condition,
  loop: { description: 'A list (or a template giving one): the task runs once per item, as `item`.', anyOf: [{ type: 'array' }, { type: 'string' }] },
  with_items: { description: 'Same as loop.', anyOf: [{ type: 'array' }, { type: 'string' }] },
  loop_control: { type: 'object', properties: { loop_var: { type: 'string' }, label: { type: 'string' } }, additionalProperties: false },
  register: { type: 'string', description: 'Save the result in this variable.' },
  notify: { ...stringList, description: 'Handlers to run (once, at the end of the section) when the task changed something.' },
  tags: stringList,
  become: bool,
  become_user: { type: 'string' },
  ignore_errors: bool,
  changed_when: condition,
  failed_when: condition,
  retries: { oneOf: [{ type: 'integer', minimum: 0 }, { type: 'string', pattern: '\\{\\{' }], description: 'Attempts after the first (with until); an integer or a template.' },
  until: condition,
  delay: { oneOf: [{ type: 'integer', minimum: 0 }, { type: 'string', pattern: '\\{\\{' }], description: 'Seconds between retries; an integer or a template.' },
  timeout: { type: 'integer', minimum: 1, description: 'Seconds a command of this task may run.' },
  run_once: bool,
  delegate_to: { type: 'string' },
  no_log: bool,
  vars: { type: 'object' },
  args: { type: 'object' },
  check_mode: bool,
  diff: bool,
};

export function playbookSchema(): Json {
  const modules = allModules();
  const moduleProps: Json = {};
  for (const m of modules) {
    const s = moduleSchema(m);
    moduleProps[m.name] = s;
    moduleProps[`ansible.builtin.${m.name}`] = s;
  }
  const include: Json = {
    type: 'object',
    properties: {
      name: { type: 'string' },
      import_tasks: { type: 'string' },
      include_tasks: { type: 'string' },
      when: condition,
      tags: stringList,
      vars: { type: 'object' },
    },
    additionalProperties: false,
    oneOf: [{ required: ['import_tasks'] }, { required: ['include_tasks'] }],
  };
  const oneModule = modules.map((m) => ({ required: [m.name] }));
  const task: Json = {
    type: 'object',
    properties: { ...taskKeywords, ...moduleProps },
    additionalProperties: false,
    minProperties: 1,
    anyOf: [...oneModule, ...modules.map((m) => ({ required: [`ansible.builtin.${m.name}`] }))],
  };
  const handler: Json = { ...task, properties: { ...taskKeywords, ...moduleProps, listen: stringList } };
  const tasks: Json = { type: 'array', items: { anyOf: [{ $ref: '#/$defs/include' }, { $ref: '#/$defs/task' }] } };
  const play: Json = {
    type: 'object',
    required: ['hosts'],
    additionalProperties: false,
    properties: {
      name: { type: 'string' },
      hosts: { description: 'Host pattern (all, groups, globs, a:b, a:&b, a:!b, ~regex, group[0:2]).', anyOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }] },
      vars: { type: 'object' },
      vars_files: stringList,
      gather_facts: bool,
      serial: { anyOf: [{ type: 'integer', minimum: 1 }, { type: 'string', pattern: '^\\d+%?$' }, { type: 'array', items: { anyOf: [{ type: 'integer', minimum: 1 }, { type: 'string', pattern: '^\\d+%?$' }] } }] },
      strategy: { enum: ['linear', 'free'] },
      any_errors_fatal: bool,
      max_fail_percentage: { type: 'number', minimum: 0, maximum: 100 },
      become: bool,
      become_user: { type: 'string' },
      tags: stringList,
      pre_tasks: tasks,
      tasks,
      post_tasks: tasks,
      handlers: { type: 'array', items: { $ref: '#/$defs/handler' } },
      roles: { type: 'array', items: { anyOf: [{ type: 'string' }, { type: 'object', properties: { role: { type: 'string' }, name: { type: 'string' }, vars: { type: 'object' }, tags: stringList, when: condition }, additionalProperties: false }] } },
      secret_vars: { type: 'array', items: { type: 'string' }, description: 'Variables whose values are secrets: masked wherever underlay prints or records them.' },
      no_log: bool,
    },
  };
  return {
    $schema: 'http://json-schema.org/draft-07/schema#',
    $id: 'https://underlay.dev/schema/playbook.schema.json',
    title: 'underlay playbook',
    description: 'A list of plays (or import_playbook entries), or a list of tasks (role task files).',
    anyOf: [
      { type: 'array', items: { anyOf: [{ $ref: '#/$defs/play' }, { type: 'object', properties: { import_playbook: { type: 'string' }, name: { type: 'string' } }, required: ['import_playbook'], additionalProperties: false }] } },
      tasks,
    ],
    $defs: { play, task, handler, include },
  };
}
