/**
 * Global setup of the e2e project: brings up the lab `e2e` (central, master, worker1..3;
 * inventory at <state>/inventory.yml) once for all end-to-end tests and tears it down
 * afterwards, always. Where the lab cannot be made (not root, no network namespaces,
 * packages missing) it provides `lab: null` with the reason and the tests skip, except
 * under CI=true, where a lab that cannot come up fails the run.
 */
import { rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { TestProject } from 'vitest/node';
import { EnvironmentError } from '../../src/errors.js';
import { checkLabPrerequisites, labDown, labUp, type LabOptions } from '../../src/lab/index.js';
import { E2E_LAB } from '../support/lab.js';

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const stateDir = resolve('.lab', E2E_LAB.name);
  const verbose = process.env['UNDERLAY_LAB_VERBOSE'] === '1';
  const opts: LabOptions = {
    ...E2E_LAB,
    stateDir,
    inventoryPath: join(stateDir, 'inventory.yml'),
    log: (line) => {
      if (verbose) process.stderr.write(`[lab] ${line}\n`);
    },
  };
  const ci = process.env['CI'] === 'true';
  let upped = false;

  const teardown = async (): Promise<void> => {
    if (!upped) return;
    upped = false;
    try {
      await labDown(opts);
    } finally {
      rmSync(stateDir, { recursive: true, force: true });
    }
  };

  try {
    checkLabPrerequisites();
    // Start from nothing: a lab left by an interrupted run is removed first.
    upped = true;
    await labDown(opts);
    const state = await labUp(opts);
    const { created: _c, kept: _k, durationMs, ...lab } = state;
    project.provide('lab', lab);
    project.provide('labSkipReason', '');
    project.provide('labUpMs', durationMs);
  } catch (e) {
    await teardown().catch(() => {});
    if (ci || !(e instanceof EnvironmentError)) throw e;
    const reason = `no lab: ${(e as Error).message.split('\n')[0]}`;
    process.stderr.write(`e2e: ${reason} (tests that need the lab are skipped)\n`);
    project.provide('lab', null);
    project.provide('labSkipReason', reason);
    project.provide('labUpMs', 0);
  }
  return teardown;
}
