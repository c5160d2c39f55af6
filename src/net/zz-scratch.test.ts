import { it } from 'vitest';
import { loadInventory } from '../inventory/index.js';
import { inputErrorsOf } from '../errors.js';
import { netPlanInputFromInventory, planNetwork } from './index.js';
it('scratch', () => {
  for (const f of ['seed', 'seed-fixed', 'mixed', 'bad', 'index', 'room', 'prefix']) {
    const inv = loadInventory([`test/fixtures/net-plan/${f}.yml`]);
    try {
      const p = planNetwork(netPlanInputFromInventory(inv));
      console.log(f, JSON.stringify(p, null, 1));
    } catch (e) {
      const errs = inputErrorsOf(e);
      if (!errs.length) throw e;
      console.log(f, '\n' + errs.map((x) => x.message).join('\n'));
    }
  }
});
