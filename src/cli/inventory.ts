import { EXIT, InputError } from '../errors.js';
import { graph, listJson, loadInventory } from '../inventory/index.js';
import { Secrets } from '../vars/secrets.js';
import { VaultKeyring } from '../vars/vault.js';
import { parseOptions, type Io } from './main.js';
import { registerInventorySecrets } from './secrets.js';

const HELP = `underlay inventory -i INVENTORY [-i ...] (--list | --graph [GROUP] [--vars] | --list-hosts PATTERN [--limit PATTERN])

  --list                 JSON as ansible-inventory --list prints it
  --graph [GROUP]        the group tree (from GROUP, default all); --vars adds variables
  --list-hosts PATTERN   the hosts a pattern selects, in order (one per line)
  --limit PATTERN        further restrict --list-hosts
  --vault-password-file FILE   decrypt vault-encrypted vars (or UNDERLAY_VAULT_PASSWORD)
`;

export async function inventoryCommand(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parseOptions(
    args,
    {
      inventory: { type: 'string', short: 'i', multiple: true },
      list: { type: 'boolean' },
      graph: { type: 'boolean' },
      vars: { type: 'boolean' },
      'list-hosts': { type: 'string' },
      limit: { type: 'string', short: 'l' },
      'vault-password-file': { type: 'string', multiple: true },
      help: { type: 'boolean', short: 'h' },
    },
    'inventory',
  );
  if (values.help) {
    io.out(HELP);
    return EXIT.OK;
  }
  const sources = values.inventory ?? [];
  if (sources.length === 0) throw new InputError('inventory: give an inventory with -i');
  const keyring = VaultKeyring.fromSources({ passwordFiles: values['vault-password-file'] ?? [], env: io.env });
  const inv = loadInventory(sources, keyring.empty ? {} : { keyring });
  const modes = [values.list, values.graph, values['list-hosts'] !== undefined].filter(Boolean).length;
  if (modes !== 1) throw new InputError('inventory: give exactly one of --list, --graph, --list-hosts');
  // Secret values (vault, underlay_secret_vars) are masked in everything printed.
  const secrets = new Secrets();
  registerInventorySecrets(secrets, inv);
  if (values.list) {
    io.out(secrets.mask(JSON.stringify(listJson(inv), null, 4)) + '\n');
  } else if (values.graph) {
    io.out(secrets.mask(graph(inv, { group: positionals[0] ?? 'all', vars: Boolean(values.vars) })));
  } else {
    const hosts = inv.selectHosts(values['list-hosts']!, values.limit);
    io.out(`  hosts (${hosts.length}):\n${hosts.map((h) => `    ${h}\n`).join('')}`);
  }
  return EXIT.OK;
}
