import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { describe, expect, it } from 'vitest';
import { decodeAddress, isListening, isLocalHost, listenPattern, parseProcNetTcp, procNetTcpCommand } from './proc.js';

// Captured in a network namespace: listeners on 127.0.0.1:8080, 0.0.0.0:9090,
// [::]:9091 (v6only), [::1]:9092, 10.99.0.1:7070 and one connection to 8080.
const TABLES = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode                                                     
   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 213227 1 000000003a67d270 100 0 0 10 0                    
   1: 0100630A:1B9E 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 213231 1 00000000c3655140 100 0 0 10 0                    
   2: 00000000:2382 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 213228 1 00000000e42d820c 100 0 0 10 0                    
   3: 0100007F:97B2 0100007F:1F90 01 00000000:00000000 00:00000000 00000000     0        0 213232 2 000000008135e6cc 20 0 0 10 -1                    
   4: 0100007F:1F90 0100007F:97B2 01 00000000:00000000 00:00000000 00000000     0        0 213233 1 0000000004feb158 20 0 0 10 -1                    
  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000001000000:2384 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 213230 1 0000000036442894 100 0 0 10 0
   1: 00000000000000000000000000000000:2383 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 213229 1 00000000a2b23dca 100 0 0 10 0
`;

// Captured: a dual-stack listener on [::]:9093 and a connection to it from 127.0.0.1.
const MAPPED = `  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000000000000:2385 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 217392 1 00000000da067c74 100 0 0 10 0
   1: 0000000000000000FFFF00000100007F:2385 0000000000000000FFFF00000100007F:8038 01 00000000:00000000 00:00000000 00000000     0        0 217394 1 0000000017292adc 20 0 0 10 -1
`;

function grepE(pattern: string, text: string): boolean {
  try {
    execFileSync('grep', ['-Eq', pattern], { input: text });
    return true;
  } catch (e) {
    if ((e as { status?: number }).status === 1) return false;
    throw e;
  }
}

describe('parseProcNetTcp', () => {
  it('parses both tables with decoded addresses, ports and states', () => {
    const s = parseProcNetTcp(TABLES);
    expect(s).toHaveLength(7);
    expect(s.map((x) => `${x.family} ${x.localAddress}:${x.localPort} ${x.state}`)).toEqual([
      '4 127.0.0.1:8080 LISTEN',
      '4 10.99.0.1:7070 LISTEN',
      '4 0.0.0.0:9090 LISTEN',
      '4 127.0.0.1:38834 ESTABLISHED',
      '4 127.0.0.1:8080 ESTABLISHED',
      '6 ::1:9092 LISTEN',
      '6 :::9091 LISTEN',
    ]);
    expect(s[3]).toMatchObject({ remoteAddress: '127.0.0.1', remotePort: 8080 });
  });

  it('decodes v4-mapped IPv6 addresses', () => {
    const s = parseProcNetTcp(MAPPED);
    expect(s[1]).toMatchObject({ family: 6, localAddress: '::ffff:7f00:1', localPort: 9093, state: 'ESTABLISHED', remotePort: 32824 });
    expect(decodeAddress('0100630A')).toBe('10.99.0.1');
    expect(() => decodeAddress('123')).toThrow();
  });

  it('isListening: the listeners through which the host reaches the port count, others do not', () => {
    const s = parseProcNetTcp(TABLES);
    expect(isListening(s, 8080)).toBe(true); // 127.0.0.1
    expect(isListening(s, 9090)).toBe(true); // 0.0.0.0
    expect(isListening(s, 9091)).toBe(true); // :: (may accept IPv4 too)
    expect(isListening(s, 9092)).toBe(false); // ::1 is not 127.0.0.1
    expect(isListening(s, 9092, 'localhost')).toBe(true);
    expect(isListening(s, 9092, '::1')).toBe(true);
    expect(isListening(s, 8080, '::1')).toBe(false);
    expect(isListening(s, 7070)).toBe(false); // 10.99.0.1 only
    expect(isListening(s, 7070, '0.0.0.0')).toBe(true); // any address
    expect(isListening(s, 38834)).toBe(false); // a connection, not a listener
    expect(isListening(s, 22)).toBe(false);
  });

  it('listenPattern (grep -E over the raw lines) agrees with isListening', () => {
    const all = TABLES + MAPPED;
    const sockets = parseProcNetTcp(all);
    for (const host of ['127.0.0.1', 'localhost', '::1', '0.0.0.0']) {
      for (const port of [8080, 9090, 9091, 9092, 9093, 7070, 38834, 32824, 22, 1]) {
        expect(grepE(listenPattern(port, host), all), `${host} port ${port}`).toBe(isListening(sockets, port, host));
      }
    }
    expect(() => listenPattern(0)).toThrow();
    expect(() => listenPattern(70000)).toThrow();
  });

  it('reads this machine: a listener opened here is found, by the parser and by the pattern', async () => {
    const server: Server = createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    try {
      const port = (server.address() as { port: number }).port;
      const text = execFileSync('/bin/sh', ['-c', procNetTcpCommand().text], { encoding: 'utf8' });
      expect(isListening(parseProcNetTcp(text), port)).toBe(true);
      expect(grepE(listenPattern(port), text)).toBe(true);
      expect(readFileSync('/proc/net/tcp', 'utf8')).toContain(`:${port.toString(16).toUpperCase().padStart(4, '0')} `);
    } finally {
      await new Promise((r) => server.close(r));
    }
  });

  it('isLocalHost', () => {
    expect(['127.0.0.1', 'localhost', '::1', '0.0.0.0', 'LOCALHOST'].every(isLocalHost)).toBe(true);
    expect(['10.0.0.1', 'example.org', '127.0.0.2'].some(isLocalHost)).toBe(false);
  });
});
