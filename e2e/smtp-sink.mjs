// A small SMTP server for the browser tests, started by e2e/run on loopback: it accepts every
// message Kassa sends and writes each to <dir>/<n>.json as {from, to, raw}, where the tests read
// them. No TLS, no authentication; it never relays anything anywhere.
//
// Usage: node e2e/smtp-sink.mjs <port> <dir>

import { mkdirSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';

const [port, dir] = process.argv.slice(2);
if (!port || !dir) {
  console.error('usage: node e2e/smtp-sink.mjs <port> <dir>');
  process.exit(2);
}
mkdirSync(dir, { recursive: true });
let count = 0;

const server = net.createServer((socket) => {
  socket.setEncoding('utf8');
  let buffer = '';
  let inData = false;
  let data = [];
  let from = '';
  let to = [];
  const reply = (line) => socket.write(`${line}\r\n`);
  const address = (cmd) => (cmd.match(/<([^>]*)>/) || [])[1] || '';
  reply('220 kassa-e2e ESMTP');
  socket.on('data', (chunk) => {
    buffer += chunk;
    let end;
    while ((end = buffer.indexOf('\r\n')) >= 0) {
      const line = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      if (inData) {
        if (line === '.') {
          inData = false;
          count += 1;
          const file = path.join(dir, `${String(count).padStart(5, '0')}.json`);
          writeFileSync(file, JSON.stringify({ from, to, raw: data.join('\r\n') }));
          data = [];
          from = '';
          to = [];
          reply('250 OK queued');
        } else {
          data.push(line.startsWith('.') ? line.slice(1) : line);
        }
        continue;
      }
      const verb = line.split(/[ :]/)[0].toUpperCase();
      if (verb === 'EHLO') {
        socket.write('250-kassa-e2e\r\n250-8BITMIME\r\n250 SIZE 10485760\r\n');
      } else if (verb === 'HELO' || verb === 'NOOP') {
        reply('250 OK');
      } else if (verb === 'RSET') {
        from = '';
        to = [];
        reply('250 OK');
      } else if (verb === 'MAIL') {
        from = address(line);
        reply('250 OK');
      } else if (verb === 'RCPT') {
        to.push(address(line));
        reply('250 OK');
      } else if (verb === 'DATA') {
        inData = true;
        reply('354 go ahead');
      } else if (verb === 'QUIT') {
        reply('221 bye');
        socket.end();
      } else {
        reply('502 command not implemented');
      }
    }
  });
  socket.on('error', () => {});
});

server.listen(Number(port), '127.0.0.1', () => {
  console.log(`smtp-sink listening on 127.0.0.1:${port}, writing to ${dir}`);
});
