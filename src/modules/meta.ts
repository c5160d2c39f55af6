import type { ModuleDef } from './types.js';

/** Engine directives: `meta: flush_handlers`, `meta: end_host`, `meta: end_play`, `meta: noop`. */
export const meta: ModuleDef<{ action: string }> = {
  name: 'meta',
  description: 'Engine directives: `flush_handlers` runs notified handlers now; `end_host` stops the play for this host; `end_play` stops the play; `noop` does nothing.',
  local: true,
  schema: {
    freeForm: 'action',
    params: {
      action: { type: 'str', required: true, choices: ['flush_handlers', 'end_host', 'end_play', 'noop'], description: 'The directive.' },
    },
  },
  decide() {
    // The engine acts on the directive itself; the module only validates it.
    return { changed: false, actions: [] };
  },
};
