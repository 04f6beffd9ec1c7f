// The status page in headless Chromium (Debian's, driven by playwright-core)
// against a real duckpond server on 127.0.0.1 and free ports, with the tick
// generator writing into it: the page renders, the 15-minute charts and the
// market view's candlesticks fill from /v1/history and the desk macros, both
// move between two moments, the numbers shown match the desk macros asked
// directly, screenshots land in the build's test-output folder, and a
// phone-sized window (390x844) shows it all without horizontal overflow.
// playwright-core is installed from the committed package-lock.json into a
// git-ignored node_modules beside this file, only when it is missing.
'use strict';
const { execFileSync, spawn } = require('child_process');
const fs = require('fs');
const http = require('http');
const os = require('os');
const path = require('path');

const { BIN, requireModules, check, finish, freePort } = require('./lib/dpnode.js');
const [{ chromium }] = requireModules(['playwright-core']);
const OUT = path.join(path.dirname(BIN), 'test-output');
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'duckpond-dash-'));
// Debian's /usr/bin/chromium is a shell wrapper; the browser itself is beside its libraries
const CHROMIUM = ['/usr/lib/chromium/chromium', '/usr/bin/chromium'].find((p) => fs.existsSync(p));

function sleep(ms) { return new Promise((r) => setTimeout(r, ms)); }

// POST /v1/query; resolves to the rows.
function query(port, sql, params) {
  return new Promise((resolve, reject) => {
    const body = JSON.stringify({ sql, params: params || [] });
    const req = http.request({ host: '127.0.0.1', port, path: '/v1/query', method: 'POST',
      headers: { 'Content-Type': 'application/json' } }, (res) => {
      let data = '';
      res.on('data', (d) => { data += d; });
      res.on('end', () => (res.statusCode === 200 ? resolve(JSON.parse(data).rows) : reject(new Error(data))));
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function startServer(httpPort) {
  const portfile = path.join(work, 'port');
  const proc = spawn(BIN, ['serve', '--db', path.join(work, 'db.duckdb'), '--pg-port', '0', '--http-port',
    String(httpPort), '--port-file', portfile], { stdio: ['ignore', 'ignore', 'inherit'] });
  for (let i = 0; i < 200 && !fs.existsSync(portfile); i++) await sleep(50);
  return proc;
}

async function main() {
  fs.mkdirSync(OUT, { recursive: true });
  const httpPort = await freePort();
  const server = await startServer(httpPort);
  // three minutes of market time at once (the candles have a past), then live ticks
  execFileSync(BIN, ['ticks', '--symbols', '8', '--rate', '400', '--duration', '180', '--fast', '--start',
    new Date(Date.now() - 180000).toISOString().slice(0, 19), '--to', `http://127.0.0.1:${httpPort}`],
  { stdio: 'inherit' });
  const gen = spawn(BIN, ['ticks', '--symbols', '8', '--rate', '800', '--duration', '60',
    '--to', `http://127.0.0.1:${httpPort}`], { stdio: 'ignore' });
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
    const errors = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.goto(`http://127.0.0.1:${httpPort}/`);
    await page.waitForFunction(() => Number(document.body.dataset.polls || 0) >= 2 &&
      Number(document.getElementById('market').dataset.polls || 0) >= 1 &&
      Number(document.getElementById('chart_rows').dataset.samples || 0) >= 2, null, { timeout: 30000 });
    const first = await page.evaluate(() => ({
      samples: Number(document.getElementById('chart_rows').dataset.samples),
      paths: document.querySelectorAll('#chart_rows path').length,
      latencyPaths: document.querySelectorAll('#chart_latency path').length,
      bars: Number(document.getElementById('candles').dataset.bars),
      candles: document.querySelectorAll('#candles rect').length,
      last: Number(document.getElementById('candles').dataset.last),
      symbols: Array.from(document.getElementById('symbol').options).map((o) => o.value),
      symbol: document.getElementById('symbol').value,
      legend: document.getElementById('legend_rows').textContent,
    }));
    check('the page renders without script errors', errors.length === 0, errors);
    check('rows/s by table is drawn', first.paths >= 2 && /trades/.test(first.legend) && /quotes/.test(first.legend),
      first);
    check('ack latency is drawn', first.latencyPaths >= 1, first);
    check('the symbols are listed, busiest first', first.symbols.length === 8 && first.symbols[0] === first.symbol,
      first.symbols);
    check('candlesticks of the last two minutes', first.bars >= 100 && first.candles >= 20, first);
    await page.screenshot({ path: path.join(OUT, 'dashboard.png'), fullPage: true });
    await sleep(3000);
    const second = await page.evaluate(() => ({
      samples: Number(document.getElementById('chart_rows').dataset.samples),
      last: Number(document.getElementById('candles').dataset.last),
      vwap: Number(document.getElementById('vwap').dataset.value),
      spread: Number(document.getElementById('spread').dataset.value),
      price: Number(document.getElementById('last_trade').dataset.value),
    }));
    check('the charts move: more samples', second.samples >= first.samples + 2, [first.samples, second.samples]);
    check('the candles move: a later last bar', second.last > first.last, [first.last, second.last]);
    const [vwap] = await query(httpPort, "SELECT vwap FROM desk.vwap('trades', since := (SELECT date_trunc('day', max(ts)) FROM trades)) WHERE symbol = $1", [first.symbol]);
    check('the VWAP shown is the desk macro\'s', vwap && Math.abs(vwap[0] - second.vwap) / vwap[0] < 0.01,
      [vwap, second.vwap]);
    check('a spread and a last trade are shown', second.spread > 0 && second.spread < 100 && second.price > 0, second);
    // another symbol: the view follows the choice
    const other = first.symbols[3];
    await page.selectOption('#symbol', other);
    await page.waitForFunction((s) => document.getElementById('market_note').textContent.startsWith(s + ':'), other,
      { timeout: 10000 });
    check('picking a symbol shows its bars', true);
    await page.screenshot({ path: path.join(OUT, 'dashboard-market.png'), fullPage: true });
    // a phone
    const phone = await browser.newPage({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2,
      isMobile: true, hasTouch: true });
    await phone.goto(`http://127.0.0.1:${httpPort}/`);
    await phone.waitForFunction(() => Number(document.getElementById('market').dataset.polls || 0) >= 1 &&
      Number(document.getElementById('chart_rows').dataset.samples || 0) >= 1, null, { timeout: 30000 });
    const fit = await phone.evaluate(() => ({ scroll: document.documentElement.scrollWidth, inner: window.innerWidth,
      wide: Array.from(document.querySelectorAll('body *')).filter((e) => e.getBoundingClientRect().right > window.innerWidth + 1)
        .map((e) => e.tagName + '#' + e.id).slice(0, 5) }));
    check('a 390x844 phone: no horizontal overflow', fit.scroll <= fit.inner && fit.wide.length === 0, fit);
    await phone.screenshot({ path: path.join(OUT, 'dashboard-phone.png'), fullPage: true });
    check('screenshots written', ['dashboard.png', 'dashboard-market.png', 'dashboard-phone.png']
      .every((f) => fs.statSync(path.join(OUT, f)).size > 10000));
    console.log('screenshots in ' + OUT);
  } finally {
    await browser.close();
    gen.kill('SIGTERM');
    server.kill('SIGTERM');
    await new Promise((r) => server.on('exit', r));
    fs.rmSync(work, { recursive: true, force: true });
  }
  finish();
}

main().catch((e) => { check('no unexpected error', false, String(e && e.stack)); finish(); });
