/**
 * The cluster network plan: pod subnets, gateways and logical switches of the workers,
 * allocated and checked with ip-num before any host is contacted (pure, deterministic).
 */
export {
  planNetwork,
  bridgeVethName,
  ifnameProblem,
  nameNumber,
  nameHash,
  CLUSTER_VARS,
  DEFAULT_POD_PREFIX,
  IFNAME_MAX,
  IFNAME_VAR,
  MAX_POD_PREFIX,
  MIN_POD_PREFIX,
  type NetHostInput,
  type NetPlan,
  type NetPlanInput,
  type StaleAllocation,
  type SubnetSource,
  type WorkerNet,
} from './plan.js';
export { loadAllocations, saveAllocations, STATE_FORMAT, STATE_VERSION } from './state.js';
export { netHostInput, netPlanInputFromInventory, type NetInventoryOptions } from './inventory.js';
export { SlotMap } from './slots.js';
