/**
 * The inventory of underlay: Ansible's YAML and INI inventory formats, `group_vars/` and
 * `host_vars/`, variable precedence, host patterns and `ansible-inventory` output, all
 * behaving as ansible-core does (the reference), without contacting any host.
 */
export { loadInventory, type LoadOptions } from './load.js';
export { Inventory, INTERNAL_VARS, type HostConnectionInfo, type MergedVar } from './inventory.js';
export { listJson, graph } from './output.js';
export { loadVarsDir, VarsDir, type Keyring, type VarsFile } from './varsfiles.js';
export { splitHostPattern } from './patterns.js';
