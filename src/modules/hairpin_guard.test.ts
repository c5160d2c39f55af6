import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { actionTexts, CAPTURE_DIR, CAPTURE_GUARD, decideWith } from '../../test/support/net-fixtures.js';
import { DEFAULT_GUARD_PATH, hairpin_guard, hairpinGuardScript } from './hairpin_guard.js';

describe('hairpin_guard (decisions on real ip -j -d addr show output)', () => {
  it('turns hairpin off where it is on and writes the guard script (0755)', async () => {
    const d = await decideWith(hairpin_guard, 'bridge-ready', { bridge: 'breth1', script_path: CAPTURE_GUARD });
    expect(d.changed).toBe(true);
    expect(actionTexts(d)).toEqual(['bridge link set dev breth1-veth hairpin off', `mkdir -p ${CAPTURE_DIR}`, `upload ${CAPTURE_GUARD} 755`]);
    const up = d.actions[2]!;
    expect(up.kind === 'upload' && up.content).toBe(hairpinGuardScript({ bridge: 'breth1' }));
    expect(d.result).toEqual({ script_path: CAPTURE_GUARD, bridge: 'breth1', ports: ['breth1-veth'] });
  });

  it('does nothing when hairpin is off and the script is current', async () => {
    const d = await decideWith(hairpin_guard, 'moved', { bridge: 'breth1', ports: ['eth1', 'breth1-veth'], script_path: CAPTURE_GUARD });
    expect(d).toMatchObject({ changed: false, actions: [] });
  });

  it('rewrites the script when the guarded ports change', async () => {
    const d = await decideWith(hairpin_guard, 'moved', { bridge: 'breth1', script_path: CAPTURE_GUARD });
    expect(actionTexts(d)).toEqual([`mkdir -p ${CAPTURE_DIR}`, `upload ${CAPTURE_GUARD} 755`]);
    expect(d.diff?.[0]?.before).toContain("PORTS='eth1 breth1-veth'");
    expect(d.diff?.[0]?.after).toContain("PORTS=''");
  });

  it('writes the script even before the bridge exists (the guard waits for it)', async () => {
    const d = await decideWith(hairpin_guard, 'empty', { bridge: 'breth1', script_path: CAPTURE_GUARD });
    expect(actionTexts(d)).toEqual([`mkdir -p ${CAPTURE_DIR}`, `upload ${CAPTURE_GUARD} 755`]);
    expect(d.msg).toMatch(/does not exist yet/);
  });

  it('has the documented default path', () => {
    expect(hairpin_guard.schema.params['script_path']?.default).toBe(DEFAULT_GUARD_PATH);
    expect(DEFAULT_GUARD_PATH).toBe('/usr/local/lib/underlay/hairpin-guard');
  });
});

describe('hairpinGuardScript', () => {
  it('is a POSIX sh program driven by bridge monitor, with no polling loop', () => {
    const text = hairpinGuardScript({ bridge: 'breth1', ports: ['eth1', 'breth1-veth'] });
    expect(text.startsWith('#!/bin/sh\n')).toBe(true);
    expect(text).toContain('bridge monitor link >"$dir/events" &');
    expect(text).toContain("PORTS='eth1 breth1-veth'");
    expect(text).not.toMatch(/while (true|:)/);
    const dir = mkdtempSync(join(tmpdir(), 'ul-guard-'));
    try {
      for (const [name, t] of [
        ['ports', text],
        ['all', hairpinGuardScript({ bridge: 'breth1' })],
      ] as const) {
        const f = join(dir, name);
        writeFileSync(f, t);
        // dash is Debian's /bin/sh: a syntax error fails here
        execFileSync('sh', ['-n', f]);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('quotes the bridge and port names for the shell', () => {
    const text = hairpinGuardScript({ bridge: "b'r", ports: ['a$b'] });
    expect(text).toContain("BRIDGE='b'\\''r'");
    expect(text).toContain("PORTS='a$b'");
  });
});
