// clients_node.js -- the node-postgres side of bench/clients.sh: CLIENTS
// connections in one Node process, each a loop of single-row INSERTs with a
// JavaScript Date parameter, as application code writes them
// (client.query(text, values): an unnamed statement parsed anew each time),
// for SECONDS. Prints "ROWS SECONDS" (connecting excluded).
//
//   node bench/clients_node.js HOST PORT USER DATABASE CLIENTS SECONDS
//
// pg comes from tests/integration/node_modules (npm ci --prefix
// tests/integration installs it from the committed lock file).
'use strict';
const path = require('path');
const { Client } = require(path.join(__dirname, '..', 'tests', 'integration', 'node_modules', 'pg'));

async function main() {
  const [host, port, user, database, clients, seconds] = process.argv.slice(2);
  const conns = [];
  for (let i = 0; i < Number(clients); i++) {
    const c = new Client({ host, port: Number(port), user, database });
    await c.connect();
    conns.push(c);
  }
  const start = process.hrtime.bigint();
  const deadline = start + BigInt(Math.round(Number(seconds) * 1e9));
  let rows = 0;
  await Promise.all(conns.map(async (c) => {
    while (process.hrtime.bigint() < deadline) {
      await c.query('INSERT INTO trades VALUES ($1, $2, $3, $4)', [new Date(), 'BTC', 1.5, 50000.25]);
      rows++;
    }
  }));
  const took = Number(process.hrtime.bigint() - start) / 1e9;
  await Promise.all(conns.map((c) => c.end()));
  console.log(`${rows} ${took.toFixed(6)}`);
}

main().catch((e) => { console.error(e); process.exit(1); });
