import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { coalescingConnect } from './coalesce.js';

let server: Server | undefined;
let client: Socket | undefined;
afterEach(() => {
  client?.destroy();
  server?.close();
});

/** A loopback server recording each chunk it reads; resolves with the client once connected. */
function serve(): Promise<{ chunks: string[]; sock: Socket }> {
  const chunks: string[] = [];
  return new Promise((resolve) => {
    server = createServer((s) => s.on('data', (d: Buffer) => chunks.push(d.toString())));
    server.listen(0, '127.0.0.1', () => {
      const sock = coalescingConnect('127.0.0.1', (server!.address() as AddressInfo).port);
      client = sock;
      sock.on('connect', () => resolve({ chunks, sock }));
    });
  });
}

const until = async (cond: () => boolean) => {
  for (let i = 0; i < 200 && !cond(); i++) await new Promise((r) => setTimeout(r, 5));
};

describe('coalescingConnect', () => {
  it('sends what is written in one turn with one system call, in order', async () => {
    const { chunks, sock } = await serve();
    const calls: boolean[] = [];
    const generic = (sock as unknown as { _writeGeneric: (writev: boolean, ...a: unknown[]) => void })._writeGeneric;
    (sock as unknown as { _writeGeneric: (writev: boolean, ...a: unknown[]) => void })._writeGeneric = function (writev: boolean, ...a: unknown[]) {
      calls.push(writev);
      return generic.call(this, writev, ...a);
    };
    sock.write('one ');
    sock.write(Buffer.from('two '));
    sock.write('three', 'utf8', () => undefined);
    expect(calls).toEqual([]); // nothing sent yet: corked until the turn ends
    await until(() => chunks.join('') === 'one two three');
    expect(chunks.join('')).toBe('one two three');
    expect(calls).toEqual([true]); // one writev
    // a later turn is sent on its own
    sock.write('four');
    await until(() => chunks.join('').endsWith('four'));
    expect(calls).toEqual([true, false]);
  });
});
