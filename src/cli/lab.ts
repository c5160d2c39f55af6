/** `underlay lab up|down|status` */
import { EXIT, InputError } from '../errors.js';
import { formatLabStatus, labDown, labHealthy, labStatus, labUp, type LabOptions } from '../lab/index.js';
import { parseOptions, type Io } from './main.js';

const HELP = `underlay lab up|down|status [options]   (Linux, as root)

A lab of real hosts on this machine: network namespaces on one bridge, each with its own
eth1, sshd, Open vSwitch (userspace) and private files. Roles: central (OVN central),
master, and N workers. Writes an inventory, an SSH key and a known_hosts file.
lab up again keeps the healthy hosts and rebuilds the others, and those whose
--without-ovs differs.

  --workers N        number of workers (default 2)
  --name NAME        lab name (default lab; 1-7 of a-z 0-9 -, starting with a letter:
                     it is part of interface names); several labs can coexist
  --subnet CIDR      management network of the lab bridge (default 10.213.0.0/24)
  --state DIR        state directory (default .lab/NAME)
  -o, --inventory F  where to write the inventory (default inventory/NAME.yml)
  --without-ovs      hosts without Open vSwitch daemons, for runs that leave the OVS
                     tasks out (run --skip-tags ovs): a large lab costs the machine less
  --json             print the result as JSON
`;

export async function labCommand(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parseOptions(
    args,
    {
      workers: { type: 'string' },
      name: { type: 'string' },
      subnet: { type: 'string' },
      state: { type: 'string' },
      inventory: { type: 'string', short: 'o' },
      json: { type: 'boolean' },
      'without-ovs': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    'lab',
  );
  if (values.help || positionals.length === 0) {
    io.out(HELP);
    return values.help ? EXIT.OK : EXIT.BAD_INPUT;
  }
  const opts: LabOptions = { log: (line) => io.err(`${line}\n`) };
  if (values.name !== undefined) opts.name = values.name;
  if (values.subnet !== undefined) opts.subnet = values.subnet;
  if (values.state !== undefined) opts.stateDir = values.state;
  if (values.inventory !== undefined) opts.inventoryPath = values.inventory;
  if (values['without-ovs']) {
    if (positionals[0] !== 'up') throw new InputError('lab: --without-ovs is an option of lab up');
    opts.openvswitch = false;
  }
  if (values.workers !== undefined) {
    const n = Number(values.workers);
    if (!Number.isInteger(n) || n < 0 || n > 250) throw new InputError(`lab: --workers must be an integer from 0 to 250, got '${values.workers}'`);
    opts.workers = n;
  }
  const sub = positionals[0];
  switch (sub) {
    case 'up': {
      const r = await labUp(opts);
      if (values.json) io.out(JSON.stringify(r, null, 2) + '\n');
      else {
        io.out(`lab '${r.name}' up in ${(r.durationMs / 1000).toFixed(1)}s: ${r.hosts.length} hosts (${r.created.length} created, ${r.kept.length} kept)\n`);
        for (const h of r.hosts) io.out(`  ${h.name.padEnd(10)} ${h.role.padEnd(8)} ${h.address}\n`);
        io.out(`inventory: ${r.inventoryPath}\n`);
      }
      return EXIT.OK;
    }
    case 'down': {
      const r = await labDown(opts);
      if (values.json) io.out(JSON.stringify(r, null, 2) + '\n');
      else io.out(`lab down: removed ${r.removed.length} item${r.removed.length === 1 ? '' : 's'}\n`);
      return EXIT.OK;
    }
    case 'status': {
      const r = await labStatus(opts);
      if (values.json) io.out(JSON.stringify(r, null, 2) + '\n');
      else io.out(formatLabStatus(r));
      return labHealthy(r) ? EXIT.OK : EXIT.ENVIRONMENT;
    }
    default:
      throw new InputError(`lab: unknown subcommand '${sub}' (up, down, status)`);
  }
}
