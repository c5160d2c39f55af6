/**
 * The allocation state file: the pod subnets the planner allocated (not those given in the
 * inventory), so a later plan keeps them even when the workers change. JSON:
 *
 *   { "format": "underlay-net-allocations", "version": 1,
 *     "cluster_subnet": "192.168.0.0/16",
 *     "allocations": { "worker1": "192.168.1.0/29", "worker2": "192.168.2.0/29" } }
 *
 * Save it once a plan is accepted (before applying it), so the next plan sees it.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { InputError } from '../errors.js';
import type { NetPlan } from './plan.js';

export const STATE_FORMAT = 'underlay-net-allocations';
export const STATE_VERSION = 1;

/** Reads earlier allocations (host -> subnet); a missing file is none. */
export function loadAllocations(file: string): Record<string, string> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new InputError(`${file}: cannot read the allocation state file: ${(e as Error).message}`, undefined, { cause: e });
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new InputError(`${file}: the allocation state file is not valid JSON (${(e as Error).message})`, undefined, { cause: e });
  }
  const bad = (why: string): InputError => new InputError(`${file}: not an allocation state file of underlay: ${why}`);
  if (data === null || typeof data !== 'object' || Array.isArray(data)) throw bad('expected a JSON object');
  const d = data as Record<string, unknown>;
  if (d['format'] !== STATE_FORMAT) throw bad(`"format" must be "${STATE_FORMAT}"`);
  if (d['version'] !== STATE_VERSION) throw bad(`unsupported "version" ${JSON.stringify(d['version'])} (this underlay reads version ${STATE_VERSION})`);
  const a = d['allocations'];
  if (a === null || typeof a !== 'object' || Array.isArray(a)) throw bad('"allocations" must be an object of host: subnet');
  const out: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const [host, subnet] of Object.entries(a)) {
    if (typeof subnet !== 'string') throw bad(`the allocation of host '${host}' must be a string, got ${JSON.stringify(subnet)}`);
    out[host] = subnet;
  }
  return out;
}

/** Writes the plan's allocated subnets (atomically: a temporary file renamed over the old). */
export function saveAllocations(file: string, plan: NetPlan): void {
  const allocations: Record<string, string> = {};
  for (const host of plan.allocated) allocations[host] = plan.workers[host]!.pod_subnet;
  const body = { format: STATE_FORMAT, version: STATE_VERSION, cluster_subnet: plan.cluster_subnet, allocations };
  mkdirSync(dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(body, null, 2)}\n`, { mode: 0o644 });
  renameSync(tmp, file);
}
