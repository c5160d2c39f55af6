/**
 * A TCP connection that sends what is written to it in one turn of the event loop with one
 * system call (`writev`) instead of one `write` per call.
 *
 * ssh2 writes every SSH packet with its own `socket.write`. Where several packets are made
 * in the same turn (the SFTP requests of a task's uploads: open, write, owner, mode, close
 * for each file), each would be its own system call and its own TCP segment, which the
 * receiving sshd wakes up for and reads on its own. Corked on the first write of a turn and
 * uncorked in the check phase of the same turn (`setImmediate`), the packets leave
 * together, in order, a fraction of a millisecond later.
 */
import { Socket } from 'node:net';

/** A socket connecting to `host`:`port` whose writes of one turn go out together. */
export function coalescingConnect(host: string, port: number): Socket {
  const sock = new Socket();
  // connect() resets an instance's `write` to Socket.prototype.write: wrap it after.
  sock.connect({ host, port });
  coalesceWrites(sock);
  return sock;
}

/** Makes the writes of one turn on `sock` one system call (see above). */
export function coalesceWrites(sock: Socket): void {
  const write = sock.write;
  let corked = false;
  const uncork = () => {
    corked = false;
    sock.uncork();
  };
  sock.write = function (this: Socket, ...args: unknown[]): boolean {
    if (!corked && !sock.destroyed) {
      corked = true;
      sock.cork();
      setImmediate(uncork);
    }
    return (write as (...a: unknown[]) => boolean).apply(this, args);
  } as Socket['write'];
}
