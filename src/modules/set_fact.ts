import type { ModuleDef } from './types.js';

/**
 * Sets host variables for the rest of the play (precedence: above play and task vars,
 * below extra vars). Takes free keys: `set_fact: { gw_ip: "{{ ... }}" }`.
 */
export const set_fact: ModuleDef = {
  name: 'set_fact',
  description: 'Set variables on the host for the following tasks. Every key given becomes a variable.',
  local: true,
  schema: {
    params: {
      cacheable: { type: 'bool', default: false, description: 'Accepted for compatibility; facts live for the run.' },
    },
  },
  decide(p) {
    const facts: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(p)) if (k !== 'cacheable') facts[k] = v;
    return { changed: false, actions: [], facts, result: { ansible_facts: facts } };
  },
};
