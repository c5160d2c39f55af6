/**
 * wait_for: the one bounded command (checked by dash, and run for real with timeout 0),
 * its parser, and decide on parsed outputs.
 */
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { checkParams } from './params.js';
import type { Decision, ModuleDef } from './types.js';
import { parseWaitOutput, wait_for, waitCommand, type WaitForObserved, type WaitForParams } from './wait_for.js';

function params(args: Record<string, unknown>): WaitForParams {
  const { params, errors } = checkParams(wait_for as unknown as ModuleDef, args, { loadTime: false });
  expect(errors.map((e) => e.message)).toEqual([]);
  return params as WaitForParams;
}
const decide = (args: Record<string, unknown>, o: WaitForObserved): Decision => wait_for.decide(params(args), o, { checkMode: true, vars: {} });
const sh = (text: string) => execFileSync('/bin/sh', ['-c', text], { encoding: 'utf8' });

// Captured in a network namespace (listeners on 127.0.0.1:8080 and 10.99.0.1:7070).
const TABLE = `underlay-wait: sockets
  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 213227 1 000000003a67d270 100 0 0 10 0
   1: 0100630A:1B9E 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 213231 1 00000000c3655140 100 0 0 10 0
`;

describe('wait_for command', () => {
  const variants = [
    { port: 8080 },
    { port: 8080, state: 'stopped' },
    { port: 8080, host: '10.1.2.3' },
    { port: 8080, host: '10.1.2.3', state: 'stopped' },
    { path: '/var/log/x.log', search_regex: 'ready (on|at) [0-9]+' },
    { path: '/run/x.pid', state: 'absent', delay: 0.5 },
    { timeout: 3 },
  ];

  it('every variant is valid POSIX sh (dash -n), with a deadline and an iteration cap', () => {
    for (const v of variants) {
      const text = waitCommand(params(v)).text;
      execFileSync('dash', ['-n'], { input: text });
      if (!('timeout' in v)) {
        expect(text).toContain('ul_end=$((ul_t0 + 300000))');
        expect(text).toContain('while [ "$ul_i" -le 301 ]; do');
      }
    }
    expect(waitCommand(params({ port: 8080 })).text).toContain("grep -Eq '^ *[0-9]+: (00000000|0100007F|0{32}|0{16}FFFF00000100007F):1F90 [0-9A-F]+:[0-9A-F]{4} 0A '");
    expect(waitCommand(params({ port: 8080, host: 'db.example' })).text).toContain(`timeout 1 bash -c 'exec 3<>"/dev/tcp/$0/$1"' db.example 8080`);
    expect(waitCommand(params({ port: 1, timeout: 10, sleep: 0.001 })).text).toContain('-le 201 ]'); // sleep at least 0.05 s
  });

  it('runs for real: a closed port with timeout 0 reports at once, with the tables', () => {
    const out = sh(waitCommand(params({ port: 1, timeout: 0 })).text);
    const o = parseWaitOutput(out);
    expect(o.met).toBe(false);
    expect(o.elapsed).toBeLessThan(1);
    expect(Array.isArray(o.sockets)).toBe(true);
    const absent = parseWaitOutput(sh(waitCommand(params({ path: '/nonexistent/ul', state: 'absent', timeout: 0 })).text));
    expect(absent).toEqual({ met: true, elapsed: 0 });
  });
});

describe('wait_for: decide (never changes anything, never acts)', () => {
  it('met: ok, no actions', () => {
    const d = decide({ port: 8080 }, parseWaitOutput(`underlay-wait: met=1 elapsed_ms=1234\n${TABLE}`));
    expect(d).toMatchObject({ changed: false, actions: [], msg: '127.0.0.1:8080: ok after 1.2 s', result: { elapsed: 1.2, host: '127.0.0.1', port: 8080, state: 'started' } });
    expect(decide({ timeout: 2 }, parseWaitOutput('underlay-wait: met=1 elapsed_ms=2000\n')).msg).toBe('waited 2 s');
    expect(decide({ path: '/x', delay: 1 }, parseWaitOutput('underlay-wait: met=1 elapsed_ms=0\n', 1)).result).toMatchObject({ elapsed: 1 });
  });

  it('not met: Ansible-style messages, with where the port listens instead', () => {
    const o = parseWaitOutput(`underlay-wait: met=0 elapsed_ms=300000\n${TABLE}`);
    expect(decide({ port: 9999 }, o).failed).toBe('Timeout when waiting for 127.0.0.1:9999');
    expect(decide({ port: 7070 }, o).failed).toBe('Timeout when waiting for 127.0.0.1:7070 (port 7070 listens on 10.99.0.1 only, not on an address through which 127.0.0.1 reaches it)');
    expect(decide({ port: 8080, state: 'stopped' }, o).failed).toBe('Timeout when waiting for 127.0.0.1:8080 to stop');
    expect(decide({ path: '/x', search_regex: 'ok' }, o).failed).toBe('Timeout when waiting for search string ok in /x');
    expect(decide({ path: '/x', state: 'absent' }, o).failed).toBe('Timeout when waiting for file /x to be absent');
    expect(decide({ port: 1, msg: 'the database did not come up' }, o).failed).toBe('the database did not come up');
    for (const args of [{ port: 9999 }, { path: '/x' }]) expect(decide(args, o).actions).toEqual([]);
  });

  it('errors and refusals', () => {
    expect(decide({ port: 80, host: 'db' }, parseWaitOutput('underlay-wait: error=bash is not installed on this host: it is needed to test a port of another host (/dev/tcp)\n')).failed).toBe(
      'wait_for: bash is not installed on this host: it is needed to test a port of another host (/dev/tcp)',
    );
    expect(decide({ port: 80 }, parseWaitOutput('')).failed).toBe('wait_for: the wait on the host did not report: ');
    expect(decide({ port: 80, search_regex: 'x' }, { met: false, elapsed: 0 }).failed).toBe('wait_for: search_regex needs path (reading from a port is not supported)');
    expect(decide({ port: 70000 }, { met: false, elapsed: 0 }).failed).toBe('wait_for: port must be 1-65535, got 70000');
    expect(decide({ port: 80, host: 'a/b' }, { met: false, elapsed: 0 }).failed).toBe("wait_for: bad host 'a/b'");
    const { errors } = checkParams(wait_for as unknown as ModuleDef, { port: 1, path: '/x' }, { loadTime: false });
    expect(errors.map((e) => e.message)).toEqual(["module 'wait_for': parameters port and path are mutually exclusive"]);
  });
});
