import type { ModuleDef } from './types.js';

export const fail: ModuleDef<{ msg: string }> = {
  name: 'fail',
  description: 'Fail the task with a message (usually with `when`).',
  local: true,
  schema: {
    params: {
      msg: { type: 'str', default: 'Failed as requested from task', description: 'The failure message.' },
    },
  },
  decide(p) {
    return { changed: false, actions: [], failed: p.msg };
  },
};
