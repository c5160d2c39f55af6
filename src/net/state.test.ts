import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { InputError, inputErrorsOf } from '../errors.js';
import { loadAllocations, planNetwork, saveAllocations, type NetHostInput } from './index.js';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'underlay-net-state-'));
  dirs.push(d);
  return d;
}

const CLUSTER = { cluster_subnet: '10.1.0.0/24', service_cidr: '172.16.2.0/24' };

function w(name: string, vars: Record<string, unknown> = {}): NetHostInput {
  return { name, vars };
}

function loadError(file: string): string {
  try {
    loadAllocations(file);
  } catch (e) {
    expect(e).toBeInstanceOf(InputError);
    return (e as InputError).message;
  }
  return expect.fail('expected an InputError');
}

describe('the allocation state file', () => {
  it('round-trips the allocated subnets (not the given ones) and keeps them in the next plan', () => {
    const file = join(tmp(), 'sub', 'net-allocations.json');
    expect(loadAllocations(file)).toEqual({});
    const first = planNetwork({ workers: [w('alpha'), w('beta'), w('worker2'), w('fixed', { pod_subnet: '10.1.0.128/29' })], masters: [], cluster: CLUSTER, stateFile: file });
    saveAllocations(file, first);
    const saved = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    expect(saved).toEqual({
      format: 'underlay-net-allocations',
      version: 1,
      cluster_subnet: '10.1.0.0/24',
      allocations: { alpha: first.workers['alpha']!.pod_subnet, beta: first.workers['beta']!.pod_subnet, worker2: '10.1.0.16/29' },
    });
    expect(loadAllocations(file)).toEqual(saved['allocations']);

    // a new worker whose name number is alpha's slot, and a new hashed one: nobody moves
    const alphaSlot = first.workers['alpha']!.index;
    const second = planNetwork({
      workers: [w(`worker${alphaSlot}`), w('gamma'), w('alpha'), w('beta'), w('worker2'), w('fixed', { pod_subnet: '10.1.0.128/29' })],
      masters: [],
      cluster: CLUSTER,
      stateFile: file,
    });
    for (const h of ['alpha', 'beta', 'worker2', 'fixed']) expect(second.workers[h]!.pod_subnet).toBe(first.workers[h]!.pod_subnet);
    expect(second.workers['alpha']!.source).toBe('state');
    expect(second.workers[`worker${alphaSlot}`]!.source).toBe('hash');
    saveAllocations(file, second);
    expect(Object.keys(loadAllocations(file)).sort()).toEqual(['alpha', 'beta', 'gamma', `worker${alphaSlot}`, 'worker2'].sort());
  });

  it('names the state file when a given subnet would take a kept one', () => {
    const file = join(tmp(), 'state.json');
    saveAllocations(file, planNetwork({ workers: [w('worker1')], masters: [], cluster: CLUSTER }));
    const errs = (() => {
      try {
        planNetwork({ workers: [w('worker1'), w('new', { pod_subnet: '10.1.0.8/29' })], masters: [], cluster: CLUSTER, stateFile: file });
      } catch (e) {
        return inputErrorsOf(e).map((x) => x.message);
      }
      return [];
    })();
    expect(errs).toEqual([
      `host 'new': pod_subnet 10.1.0.8/29 overlaps 10.1.0.8/29, which host 'worker1' holds (allocated earlier, kept in the state file ${file}); choose another, or drop host 'worker1' from the state file ${file} to move it`,
    ]);
  });

  it('refuses files that are not its own', () => {
    const d = tmp();
    const f = (name: string, text: string): string => {
      writeFileSync(join(d, name), text);
      return join(d, name);
    };
    expect(loadError(f('a.json', '{"format": "underlay-net-allocations", '))).toMatch(
      new RegExp(`^${join(d, 'a.json')}: the allocation state file is not valid JSON \\(`),
    );
    expect(loadError(f('b.json', '[]'))).toBe(`${join(d, 'b.json')}: not an allocation state file of underlay: expected a JSON object`);
    expect(loadError(f('c.json', '{"allocations": {}}'))).toBe(`${join(d, 'c.json')}: not an allocation state file of underlay: "format" must be "underlay-net-allocations"`);
    expect(loadError(f('d.json', '{"format": "underlay-net-allocations", "version": 2, "allocations": {}}'))).toBe(
      `${join(d, 'd.json')}: not an allocation state file of underlay: unsupported "version" 2 (this underlay reads version 1)`,
    );
    expect(loadError(f('e.json', '{"format": "underlay-net-allocations", "version": 1, "allocations": {"w": 5}}'))).toBe(
      `${join(d, 'e.json')}: not an allocation state file of underlay: the allocation of host 'w' must be a string, got 5`,
    );
    expect(loadError(d)).toMatch(new RegExp(`^${d}: cannot read the allocation state file: `));
  });

  it('reports a bad state file among the other input errors', () => {
    const d = tmp();
    writeFileSync(join(d, 's.json'), 'nope');
    try {
      planNetwork({ workers: [w('worker1', { pod_subnet: '10.2.0.0/29' })], masters: [], cluster: CLUSTER, stateFile: join(d, 's.json') });
      expect.fail('no error');
    } catch (e) {
      const msgs = inputErrorsOf(e).map((x) => x.message);
      expect(msgs).toHaveLength(2);
      expect(msgs[0]).toBe("host 'worker1': pod_subnet 10.2.0.0/29 is outside cluster_subnet 10.1.0.0/24");
      expect(msgs[1]).toMatch(/s\.json: the allocation state file is not valid JSON/);
    }
  });
});
