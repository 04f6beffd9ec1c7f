// The line protocol's real clients from the npm registry against a real
// duckpond server on 127.0.0.1 and free ports: @questdb/nodejs-client over
// HTTP (/write) and TCP, and @influxdata/influxdb-client over
// /api/v2/write; the rows read back with node-postgres, and a bad row's
// error as each client reports it.
// The clients are installed by lib/dpnode.js (npm ci of the committed lock file) when missing.
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const { requireModules, check, finish, freePort, startServer } = require('./lib/dpnode.js');

const [{ Client }, { Sender }, { InfluxDB, Point }] =
  requireModules(['pg', '@questdb/nodejs-client', '@influxdata/influxdb-client']);
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'duckpond-ilp-node-'));

async function waitCount(pg, sql, want) {
  for (let i = 0; i < 200; i++) {
    const r = await pg.query(sql);
    if (Number(r.rows[0].n) === want) return want;
    await new Promise((res) => setTimeout(res, 50));
  }
  return Number((await pg.query(sql)).rows[0].n);
}

async function questdb(httpPort, ilpPort, pg) {
  const http = await Sender.fromConfig(`http::addr=127.0.0.1:${httpPort};protocol_version=1`);
  const t0 = Date.UTC(2026, 10, 29, 10, 0, 0);
  for (let i = 0; i < 1000; i++) {
    await http.table('qtrades').symbol('sym', i % 2 ? 'AAPL' : 'MSFT').floatColumn('price', 100 + i / 4)
      .intColumn('size', i).stringColumn('note', i === 7 ? 'a "quoted", spaced\\ note' : 'n')
      .booleanColumn('buy', i % 3 === 0).at(t0 + i, 'ms');
  }
  await http.flush();
  let r = await pg.query('select count(*) n, sum(size) s, min(timestamp) t from qtrades');
  check('QuestDB client over HTTP: rows in', Number(r.rows[0].n) === 1000 && Number(r.rows[0].s) === 499500,
    r.rows[0]);
  r = await pg.query("select note, buy, price from qtrades where size = 7");
  check('QuestDB client: escapes and types', r.rows[0].note === 'a "quoted", spaced\\ note' &&
    r.rows[0].buy === false && r.rows[0].price === 101.75, r.rows[0]);
  let err = null;
  try {
    await http.table('qtrades').symbol('sym', 'X').stringColumn('price', 'not a number').atNow();
    await http.flush();
  } catch (e) { err = e; }
  check('QuestDB client over HTTP: a conflicting type is an error', err && /price/.test(String(err.message)),
    err && err.message);
  await http.close().catch(() => {});

  const tcp = await Sender.fromConfig(`tcp::addr=127.0.0.1:${ilpPort};protocol_version=1`);
  await tcp.connect();
  for (let i = 0; i < 5000; i++) {
    await tcp.table('qquotes').symbol('sym', 'S' + (i % 10)).floatColumn('bid', i).floatColumn('ask', i + 0.5)
      .intColumn('bs', 1).at(BigInt(t0 + i) * 1000000n, 'ns');
  }
  await tcp.flush();
  await tcp.close();
  const n = await waitCount(pg, 'select count(*) n from qquotes', 5000);
  check('QuestDB client over TCP: rows in', n === 5000, n);
}

async function influx(httpPort, pg) {
  const client = new InfluxDB({ url: `http://127.0.0.1:${httpPort}`, token: 'unused' });
  const api = client.getWriteApi('org', 'bucket', 'ns');
  for (let i = 0; i < 500; i++) {
    api.writePoint(new Point('itrades').tag('sym', 'IBM').floatField('price', 50 + i).intField('size', i)
      .stringField('venue', 'X, Y=Z').timestamp(`${1700000000000000000n + BigInt(i)}`));
  }
  await api.close();
  const r = await pg.query("select count(*) n, max(venue) v, max(size) m from itrades");
  check('InfluxDB client over /api/v2/write: rows in', Number(r.rows[0].n) === 500 && r.rows[0].v === 'X, Y=Z' &&
    Number(r.rows[0].m) === 499, r.rows[0]);
  const bad = client.getWriteApi('org', 'bucket', 'ns', { maxRetries: 0 });
  bad.writeRecord('itrades,sym=IBM size="text"');
  let err = null;
  try { await bad.close(); } catch (e) { err = e; }
  check('InfluxDB client: a bad line is a 400', err && err.statusCode === 400, err && String(err));
}

async function main() {
  const httpPort = await freePort(), ilpPort = await freePort();
  const { proc, port } = await startServer(work, ['--http-port', String(httpPort), '--ilp-port', String(ilpPort)]);
  const pg = new Client({ host: '127.0.0.1', port, user: 'node', database: 'duckpond' });
  try {
    await pg.connect();
    await questdb(httpPort, ilpPort, pg);
    await influx(httpPort, pg);
  } catch (e) {
    check('no exception', false, String(e && e.stack));
  } finally {
    await pg.end().catch(() => {});
    proc.kill('SIGTERM');
    await new Promise((res) => proc.on('exit', res));
    fs.rmSync(work, { recursive: true, force: true });
  }
  finish();
}

main();
