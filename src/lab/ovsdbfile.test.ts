import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { appendFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ovsdbRecord, ovsRootRowRecord } from './ovsdbfile.js';

const SCHEMA = '/usr/share/openvswitch/vswitch.ovsschema';
const hasTool = spawnSync('ovsdb-tool', ['--version'], { stdio: 'ignore' }).status === 0 && spawnSync('test', ['-f', SCHEMA]).status === 0;
const dir = mkdtempSync(join(tmpdir(), 'underlay-ovsdb-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('ovsdbRecord', () => {
  it('frames JSON as "OVSDB JSON <bytes> <sha1>" over the text and its newline', () => {
    const r = ovsdbRecord({ a: 'é' });
    const text = '{"a":"é"}\n';
    expect(r).toBe(`OVSDB JSON ${Buffer.byteLength(text)} ${createHash('sha1').update(text).digest('hex')}\n${text}`);
    expect(Buffer.byteLength(text)).toBe(11);
  });

  it.skipIf(!hasTool)('appended to a database made by ovsdb-tool, is read back by ovsdb-tool as the Open_vSwitch row', () => {
    const db = join(dir, 'conf.db');
    const c = spawnSync('ovsdb-tool', ['create', db, SCHEMA], { encoding: 'utf8' });
    expect(c.status).toBe(0);
    appendFileSync(
      db,
      ovsRootRowRecord({ rowUuid: '1b4e28ba-2fa1-41d2-883f-0016d3cca427', systemId: 'sys-1', hostname: 'worker1', dbVersion: '8.3.1', ovsVersion: '3.1.0', dateMs: 1 }),
    );
    const q = spawnSync(
      'ovsdb-tool',
      ['query', db, JSON.stringify(['Open_vSwitch', { op: 'select', table: 'Open_vSwitch', where: [], columns: ['_uuid', 'external_ids', 'db_version', 'ovs_version'] }])],
      { encoding: 'utf8' },
    );
    expect(q.stderr).toBe('');
    expect(q.status).toBe(0);
    const rows = (JSON.parse(q.stdout) as Array<{ rows: Array<Record<string, unknown>> }>)[0]!.rows;
    expect(rows).toEqual([
      {
        _uuid: ['uuid', '1b4e28ba-2fa1-41d2-883f-0016d3cca427'],
        external_ids: ['map', [['hostname', 'worker1'], ['rundir', '/var/run/openvswitch'], ['system-id', 'sys-1']]],
        db_version: '8.3.1',
        ovs_version: '3.1.0',
      },
    ]);
  });

  it.skipIf(!hasTool)('a damaged record is refused by ovsdb-tool (the check has teeth)', () => {
    const db = join(dir, 'bad.db');
    expect(spawnSync('ovsdb-tool', ['create', db, SCHEMA]).status).toBe(0);
    const good = ovsRootRowRecord({ rowUuid: '1b4e28ba-2fa1-41d2-883f-0016d3cca427', systemId: 's', hostname: 'h', dateMs: 1 });
    appendFileSync(db, good.replace('"h"', '"x"'));
    const q = spawnSync('ovsdb-tool', ['query', db, JSON.stringify(['Open_vSwitch', { op: 'select', table: 'Open_vSwitch', where: [] }])], { encoding: 'utf8' });
    const rows = q.status === 0 ? (JSON.parse(q.stdout) as Array<{ rows: unknown[] }>)[0]!.rows : [];
    expect(rows).toEqual([]);
  });
});
