// node-postgres (the npm "pg" package) against a real duckpond server on
// 127.0.0.1 and a free port: parameters (the extended protocol), named
// prepared statements, types, transactions, error codes, pipelined queries,
// Date, number and string parameters of INSERTs through the batcher, and the same INSERT text parsed
// again and again (around another client's DDL).
// pg is installed from the committed package-lock.json into a git-ignored
// node_modules beside this file, only when it is missing.
'use strict';
const { execFileSync, spawn } = require('child_process');
const fs = require('fs');
const http = require('http');
const os = require('os');
const path = require('path');

const here = __dirname;
if (!fs.existsSync(path.join(here, 'node_modules', 'pg'))) {
  execFileSync('npm', ['ci', '--no-audit', '--no-fund', '--prefix', here], { stdio: 'inherit' });
}
const { Client } = require(path.join(here, 'node_modules', 'pg'));
const BIN = process.env.DUCKPOND_BIN || path.join(here, '../../build/duckpond');
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'duckpond-node-'));
const { check, finish, freePort } = require(path.join(here, 'lib', 'dptest.js'));

// The batcher's duckpond_batcher_rows_accepted_total, from GET /metrics.
function accepted(httpPort) {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port: httpPort, path: '/metrics' }, (res) => {
      let body = '';
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve(Number(/^duckpond_batcher_rows_accepted_total (\d+)$/m.exec(body)[1])));
    }).on('error', reject);
  });
}

function startServer(httpPort) {
  const portfile = path.join(work, 'port');
  const log = fs.openSync(path.join(work, 'server.log'), 'a');
  const proc = spawn(BIN, ['serve', '--db', path.join(work, 'db.duckdb'), '--pg-port', '0', '--http-port',
    String(httpPort), '--port-file', portfile], { stdio: ['ignore', log, log] });
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

async function errorCode(client, sql, params) {
  try { await client.query(sql, params); return null; } catch (e) { return e.code; }
}

// node-postgres sends its parameters as text of unknown type: a Date as local time with its offset.
// Such INSERTs, unnamed or named, bare or cast to the column's type, take the batcher.
async function parameterInserts(client, httpPort) {
  await client.query('create table ticks(id int, ts timestamp, tz timestamptz, px double, qty bigint,' +
    ' side varchar, ok boolean)');
  const t0 = Date.UTC(2026, 10, 29, 10, 0, 0, 123);
  const row = (i) => [i, new Date(t0 + 1001 * i), new Date(t0 + 60000 * i), i / 8 - 3.5, -7 * i,
    i % 3 ? `it's "q" \\ ${i} \u00e9` : '', i % 2 === 0];
  const before = await accepted(httpPort);
  for (let i = 0; i < 50; i++) {
    await client.query('insert into ticks values ($1, $2, $3, $4, $5, $6, $7)', row(i));
  }
  for (let i = 50; i < 100; i++) {
    await client.query({ name: 'tick', text: 'insert into ticks values ($1, $2, $3, $4, $5, $6, $7)', values: row(i) });
  }
  for (let i = 100; i < 150; i++) {
    await client.query('insert into ticks values ($1, $2::timestamp, $3::timestamptz, $4, $5, $6::varchar, $7)', row(i));
  }
  check('Date, number and string parameters took the batcher', (await accepted(httpPort)) - before === 150,
    (await accepted(httpPort)) - before);
  const got = await client.query('select id, epoch_ms(ts)::varchar as ts, epoch_ms(tz)::varchar as tz, px,' +
    ' qty::varchar as qty, side, ok from ticks order by id');
  const bad = got.rows.filter((r) => {
    const w = row(r.id);
    return Number(r.ts) !== w[1].getTime() || Number(r.tz) !== w[2].getTime() || r.px !== w[3] ||
      Number(r.qty) !== w[4] || r.side !== w[5] || r.ok !== w[6];
  });
  check('the rows stored are the parameters given', got.rows.length === 150 && bad.length === 0,
    { n: got.rows.length, bad: bad.slice(0, 2) });
}

// The same INSERT text again and again, as client.query(text, values) sends it (an unnamed Parse each
// time): every row stored as given, through the batcher, pipelined too; another client's DDL between two
// of them (the table made again with other types); a Parse that fails the same way until its table exists.
async function repeatedParses(client, other, httpPort) {
  await client.query('create table reps(id int, ts timestamp, sym varchar, px double)');
  const t0 = Date.UTC(2026, 0, 2, 3, 4, 5, 678);
  const text = 'insert into reps values ($1, $2, $3, $4)';
  const before = await accepted(httpPort);
  for (let i = 0; i < 300; i++) {
    await client.query(text, [i, new Date(t0 + 1000 * i), 'S' + (i % 7), i * 1.5]);
  }
  await Promise.all([...Array(100).keys()].map((k) => client.query(text, [300 + k, new Date(t0), 'P', -k])));
  const took = (await accepted(httpPort)) - before;
  check('400 Parses of one INSERT text took the batcher', took === 400, took);
  const sum = await client.query('select count(*)::int as n, sum(id)::int as s, count(distinct sym)::int as d,' +
    ' sum(px) as px, min(epoch_ms(ts))::varchar as t0, max(epoch_ms(ts))::varchar as t1 from reps');
  const w = sum.rows[0];
  check('their rows are the parameters given', w.n === 400 && w.s === 79800 && w.d === 8 && w.px === 62325 &&
    Number(w.t0) === t0 && Number(w.t1) === t0 + 299000, w);
  await other.query('drop table reps');
  await other.query('create table reps(id varchar, ts date, sym int, px decimal(10,2))');
  const mid = await accepted(httpPort);
  for (let i = 0; i < 20; i++) await client.query(text, ['k' + i, '2026-02-03', i, '1.25']);
  const typed = await client.query('select typeof(id) || \' \' || typeof(ts) || \' \' || typeof(sym) || \' \' ||' +
    ' typeof(px) as t, count(*)::int as n, sum(px)::varchar as px, min(ts)::varchar as d from reps group by 1');
  check('after another client made the table again, the same text writes its new types',
    typed.rows.length === 1 && typed.rows[0].t === 'VARCHAR DATE INTEGER DECIMAL(10,2)' && typed.rows[0].n === 20 &&
    typed.rows[0].px === '25.00' && typed.rows[0].d === '2026-02-03' && (await accepted(httpPort)) - mid === 20,
    typed.rows);
  const failure = async () => {
    try { await client.query('insert into reps_later values ($1, $2)', [1, 'x']); return 'ok'; }
    catch (e) { return `${e.code} ${e.message}`; }
  };
  const f1 = await failure(), f2 = await failure();
  check('a Parse of a missing table fails the same way each time', f1.startsWith('42P01') && f1 === f2, [f1, f2]);
  await client.query('create table reps_later(a int, b text)');
  check('and succeeds once the table exists', (await failure()) === 'ok');
  check('with the row stored', (await client.query('select count(*)::int as n from reps_later')).rows[0].n === 1);
}

async function main() {
  const httpPort = await freePort();
  const { proc, port } = await startServer(httpPort);
  const exited = new Promise((resolve) => proc.on('exit', (code) => resolve(code)));
  const client = new Client({ host: '127.0.0.1', port, user: 'node', database: 'duckpond' });
  const other = new Client({ host: '127.0.0.1', port, user: 'node2', database: 'duckpond' });
  try {
    await client.connect();
    await other.connect();
    await client.query('create table t(id int primary key, name text, px double, ok boolean, ts timestamp, n bigint)');
    const ins = await client.query('insert into t values ($1, $2, $3, $4, $5, $6)',
      [1, 'one', 1.25, true, '2024-01-02 03:04:05', '9007199254740993']);
    check('insert with parameters', ins.rowCount === 1 && ins.command === 'INSERT', ins.rowCount);
    const r = await client.query('select * from t where id = $1', [1]);
    const row = r.rows[0];
    check('types come back', row.name === 'one' && row.px === 1.25 && row.ok === true &&
      row.ts instanceof Date && row.n === '9007199254740993', row);
    check('field types', r.fields.map((f) => f.dataTypeID).join(',') === '23,25,701,16,1114,20',
      r.fields.map((f) => f.dataTypeID));
    // named prepared statement, run several times
    for (let i = 2; i <= 6; i++) {
      await client.query({ name: 'ins', text: 'insert into t(id, name) values ($1, $2)', values: [i, 'n' + i] });
    }
    const c = await client.query({ name: 'cnt', text: 'select count(*)::int as c from t where id > $1', values: [1] });
    check('named prepared statements', c.rows[0].c === 5, c.rows);
    // transactions and errors
    await client.query('begin');
    await client.query('insert into t(id) values (100)');
    check('error in a transaction is 42703', await errorCode(client, 'select nosuch from t') === '42703');
    check('then 25P02', await errorCode(client, 'select 1') === '25P02');
    const rb = await client.query('commit');
    check('COMMIT of a failed transaction reports ROLLBACK', rb.command === 'ROLLBACK', rb.command);
    const n = await client.query('select count(*)::int as c from t where id = 100');
    check('nothing of it was kept', n.rows[0].c === 0);
    check('duplicate key is 23505', await errorCode(client, 'insert into t(id) values ($1)', [1]) === '23505');
    // pipelined queries (sent without waiting)
    const many = await Promise.all([...Array(20).keys()].map((i) => client.query('select $1::int + 1 as v', [i])));
    check('pipelined queries', many.every((res, i) => res.rows[0].v === i + 1));
    const arr = await client.query("select [1,2,3] as a, 'x' as b, null as c");
    check('arrays parse', JSON.stringify(arr.rows[0].a) === '[1,2,3]' && arr.rows[0].c === null, arr.rows[0]);
    await parameterInserts(client, httpPort);
    await repeatedParses(client, other, httpPort);
  } catch (e) {
    check('no unexpected error', false, String(e && e.stack));
  } finally {
    await client.end().catch(() => {});
    await other.end().catch(() => {});
    proc.kill('SIGTERM');
    check('SIGTERM exits 0', (await exited) === 0);
    fs.rmSync(work, { recursive: true, force: true });
  }
  finish();
}

main();
