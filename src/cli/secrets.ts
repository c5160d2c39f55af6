/** Which variables are secrets, and registering their values for masking. */
import type { Inventory } from '../inventory/index.js';
import type { Playbook } from '../playbook/model.js';
import type { Secrets } from '../vars/secrets.js';
import { renderString } from '../vars/template.js';

/** Names from vaults and from `underlay_secret_vars` (any host). */
export function inventorySecretNames(inventory: Inventory): Set<string> {
  const names = new Set<string>(inventory.secretVarNames());
  for (const h of inventory.hostNames()) {
    const declared = inventory.hostVars(h)['underlay_secret_vars'];
    if (Array.isArray(declared)) for (const n of declared) names.add(String(n));
  }
  return names;
}

/** Registers the values of the named variables (rendered too, where they are templates). */
function addValues(secrets: Secrets, names: Set<string>, scope: Record<string, unknown>): void {
  for (const n of names) {
    if (!(n in scope)) continue;
    const v = scope[n];
    if (typeof v === 'string' && v.includes('{{')) {
      try {
        secrets.add(renderString(v, scope));
      } catch {
        /* rendered later with the task's variables */
      }
    }
    secrets.add(v);
  }
}

export function registerInventorySecrets(secrets: Secrets, inventory: Inventory, names = inventorySecretNames(inventory)): void {
  for (const h of inventory.hostNames()) addValues(secrets, names, inventory.hostVars(h));
}

/** Everything secret a run knows of before it starts: vault values, `secret_vars`, `underlay_secret_vars`. */
export function registerSecrets(secrets: Secrets, inventory: Inventory, playbook: Playbook, extra: { vars: Record<string, unknown>; secretNames: Set<string> }): void {
  const names = new Set<string>([...playbook.secretVarNames, ...extra.secretNames, ...inventorySecretNames(inventory)]);
  for (const p of playbook.plays) for (const n of p.secretVars) names.add(n);
  registerInventorySecrets(secrets, inventory, names);
  for (const p of playbook.plays) addValues(secrets, names, p.vars);
  for (const vf of playbook.varsFileValues.values()) addValues(secrets, names, vf);
  addValues(secrets, names, extra.vars);
}
