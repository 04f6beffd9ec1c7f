// dpnode.js -- what the Node integration tests (tests/integration/*.js)
// share: their npm packages, installed from the committed
// package-lock.json into a git-ignored node_modules beside them only when
// one is missing; counting checks and the closing "N passed, N failed"
// line; free ports; and a duckpond server started on 127.0.0.1 with its
// PostgreSQL port read from its port file.
'use strict';
const { execFileSync, spawn } = require('child_process');
const fs = require('fs');
const net = require('net');
const path = require('path');

const top = path.join(__dirname, '..');
const BIN = process.env.DUCKPOND_BIN || path.join(top, '../../build/duckpond');
let passed = 0, failed = 0;

// The named packages, installed first (npm ci) if any is missing.
function requireModules(names) {
  if (names.some((m) => !fs.existsSync(path.join(top, 'node_modules', m)))) {
    execFileSync('npm', ['ci', '--no-audit', '--no-fund', '--prefix', top], { stdio: 'inherit' });
  }
  return names.map((m) => require(path.join(top, 'node_modules', m)));
}

function check(name, cond, detail) {
  if (cond) { passed++; console.log('ok   ' + name); }
  else { failed++; console.log('FAIL ' + name + (detail !== undefined ? ' ' + JSON.stringify(detail) : '')); }
}

// Prints the closing count line and exits non-zero on any failure.
function finish() {
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
}

// A TCP port on 127.0.0.1 that was free a moment ago.
function freePort() {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => { const { port } = srv.address(); srv.close(() => resolve(port)); });
  });
}

// `duckpond serve` on work/db.duckdb, the PostgreSQL port chosen by the
// system, with more options in args; its log in work/server.log. Resolves
// to { proc, port } once the port file is written.
function startServer(work, args) {
  const portfile = path.join(work, 'port');
  const log = fs.openSync(path.join(work, 'server.log'), 'a');
  const proc = spawn(BIN, ['serve', '--db', path.join(work, 'db.duckdb'), '--pg-port', '0', '--port-file', portfile,
    ...args], { stdio: ['ignore', log, log] });
  return new Promise((resolve, reject) => {
    let tries = 0;
    const poll = () => {
      if (fs.existsSync(portfile) && fs.readFileSync(portfile, 'utf8').trim()) {
        return resolve({ proc, port: parseInt(fs.readFileSync(portfile, 'utf8'), 10) });
      }
      if (++tries > 100) return reject(new Error('server did not start'));
      setTimeout(poll, 100);
    };
    poll();
  });
}

module.exports = { BIN, requireModules, check, finish, freePort, startServer };
