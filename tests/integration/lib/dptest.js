// dptest.js -- helpers shared by the Node integration tests
// (tests/integration/*.js), as dptest.py is for the Python ones:
// check(name, cond, detail) prints "ok   name" or "FAIL name detail" and
// counts it; finish() prints the closing "N passed, N failed" line and
// exits 1 if any check failed; freePort() gives a TCP port on 127.0.0.1
// that was free a moment ago.
'use strict';
const net = require('net');

let passed = 0, failed = 0;

function check(name, cond, detail) {
  if (cond) { passed++; console.log('ok   ' + name); }
  else { failed++; console.log('FAIL ' + name + (detail !== undefined ? ' ' + JSON.stringify(detail) : '')); }
}

function finish() {
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
}

function freePort() {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => { const { port } = srv.address(); srv.close(() => resolve(port)); });
  });
}

module.exports = { check, finish, freePort };
