#!@NODE@
// underlay lab stand-in: not the real @NAME@
//
// The lab's Kubernetes release (kubernetes-server-linux-amd64.tar.gz, built by
// `underlay lab up`) carries this script under each server binary's name. It does what a
// playbook can check, and nothing of Kubernetes:
// - records its full argv, one argument per line, in $UNDERLAY_STANDIN_DIR/<name>.args
//   (default /var/lib/underlay-standin), replacing the previous record;
// - `--version` prints "underlay lab stand-in: not the real <name>" and exits 0;
// - kube-apiserver answers `GET /healthz` with `ok` on --insecure-port (default 8080) at
//   --address / --insecure-bind-address (default 0.0.0.0);
// - kubectl prints what it is and exits 0 (a client does not stay running);
// - every other name stays running until it is signalled (SIGTERM/SIGINT: exit 0).
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const http = require('node:http');

const name = path.basename(process.argv[1] || '@NAME@');
const args = process.argv.slice(2);
const banner = `underlay lab stand-in: not the real ${name}`;

if (args.includes('--version') || args.includes('version')) {
  process.stdout.write(`${banner}\n`);
  process.exit(0);
}

const dir = process.env.UNDERLAY_STANDIN_DIR || '/var/lib/underlay-standin';
fs.mkdirSync(dir, { recursive: true });
const record = path.join(dir, `${name}.args`);
fs.writeFileSync(`${record}.tmp`, args.map((a) => `${a}\n`).join(''));
fs.renameSync(`${record}.tmp`, record);

if (name === 'kubectl') {
  process.stderr.write(`${banner}\n`);
  process.exit(0);
}

/** The value of --flag=V or --flag V (the last one given wins, as with Go flags). */
function flag(names, fallback) {
  let value = fallback;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    for (const n of names) {
      if (a === `--${n}` || a === `-${n}`) {
        if (i + 1 < args.length) value = args[i + 1];
      } else if (a.startsWith(`--${n}=`) || a.startsWith(`-${n}=`)) {
        value = a.slice(a.indexOf('=') + 1);
      }
    }
  }
  return value;
}

let server;
if (name === 'kube-apiserver') {
  const port = Number(flag(['insecure-port', 'port'], '8080'));
  const address = flag(['insecure-bind-address', 'address'], '0.0.0.0');
  server = http.createServer((req, res) => {
    if (req.method === 'GET' && (req.url === '/healthz' || req.url === '/healthz/')) {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('ok');
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end(`${banner}: ${req.method} ${req.url} not served\n`);
    }
  });
  server.on('error', (e) => {
    process.stderr.write(`${name}: ${e.message}\n`);
    process.exit(1);
  });
  server.listen(port, address, () => process.stderr.write(`${banner}: serving /healthz on ${address}:${port}\n`));
} else {
  process.stderr.write(`${banner}: running until signalled\n`);
  // Keeps the event loop alive without waking up.
  setInterval(() => {}, 1 << 30);
}

for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP']) {
  process.on(sig, () => {
    if (server) server.close();
    process.exit(0);
  });
}
