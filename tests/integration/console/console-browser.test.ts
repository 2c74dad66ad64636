import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startTestHub, type TestHub } from '../../helpers/start-hub';
import { createConsoleUser } from '../../helpers/console-client';

/*
 * The console in a real headless Chromium (/usr/bin/chromium, never a downloaded browser): log in,
 * find a rejected message, see its error line highlighted, edit and reprocess it and see the copy
 * processed; the queue dashboard lists the queues; the dashboard draws its charts.
 * Screenshots go to a temporary folder, or to docs/screenshots/ with UPDATE_SCREENSHOTS=1.
 */
const CHROMIUM = '/usr/bin/chromium';
const shots = process.env.UPDATE_SCREENSHOTS ? path.join(__dirname, '../../../docs/screenshots') : fs.mkdtempSync(path.join(os.tmpdir(), 'lotbridge-shots-'));
const fixture = (name: string): Buffer => fs.readFileSync(path.join(__dirname, '../../fixtures/console', name));
const hl7Fixture = (name: string): Buffer => fs.readFileSync(path.join(__dirname, '../../fixtures/hl7', name));

jest.setTimeout(120000);

describe('support console in a browser (headless Chromium)', () => {
  let h: TestHub;
  let browser: Browser;
  let page: Page;
  let base: string;

  beforeAll(async () => {
    if (!fs.existsSync(CHROMIUM)) {
      throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium (never download a browser)`);
    }
    h = await startTestHub();
    // "localhost": the browser keeps the Secure session cookie on a loopback host
    base = h.url.replace('127.0.0.1', 'localhost');
    await createConsoleUser(h.hub.db, 'olga', 'operator', 'correct horse battery');
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    fs.mkdirSync(shots, { recursive: true });
  });
  afterAll(async () => {
    await browser?.close();
    await h?.stop();
  });

  it('logs in, finds a rejected message, sees the error line, edits and reprocesses it, and sees the copy processed', async () => {
    const bad = fixture('wms-receive-stray-comma-line9.json');
    const sent = await h.api('POST', '/api/v1/ingest/wms', bad, { 'content-type': 'application/json' });
    const id = sent.json.messageId as string;
    expect((await h.waitForStatus(id)).status).toBe('rejected');
    await h.api('POST', '/api/v1/ingest/hl7', hl7Fixture('adt-a01.hl7'), { 'content-type': 'x-application/hl7-v2+er7' });

    await page.goto(`${base}/console`);
    expect(new URL(page.url()).pathname).toBe('/console/login');
    await page.screenshot({ path: path.join(shots, 'login.png') });
    await page.fill('input[name=username]', 'olga');
    await page.fill('input[name=password]', 'correct horse battery');
    await Promise.all([page.waitForURL(`${base}/console`), page.click('button:has-text("Log in")')]);
    expect(await page.textContent('nav .who')).toContain('olga');

    await page.selectOption('select[name=status]', 'rejected');
    await page.fill('input[name=connector]', 'wms');
    await Promise.all([page.waitForURL(/status=rejected/), page.click('form.search button[type=submit]')]);
    await page.screenshot({ path: path.join(shots, 'search.png'), fullPage: true });
    await Promise.all([page.waitForURL(`${base}/console/messages/${id}`), page.click(`a[href="/console/messages/${id}"]`)]);
    const errLine = page.locator('table.raw tr.errline');
    await expect(errLine.count()).resolves.toBe(1);
    expect(await errLine.getAttribute('id')).toBe('L9');
    expect(await errLine.textContent()).toContain('"quantity": 12,,');
    // (browser-side code as text: the project's TypeScript has no DOM library)
    const color = await page.evaluate<string>("getComputedStyle(document.querySelector('table.raw tr.errline')).backgroundColor");
    expect(color).not.toBe('rgba(0, 0, 0, 0)'); // highlighted, not just marked up
    await page.screenshot({ path: path.join(shots, 'message-rejected.png'), fullPage: true });

    await Promise.all([page.waitForURL(`${base}/console/messages/${id}/edit`), page.click('a:has-text("Edit & reprocess")')]);
    const text = await page.inputValue('textarea[name=payload]');
    expect(text).toContain('12,,');
    await page.fill('textarea[name=payload]', text.replace('12,,', '12,'));
    await page.fill('input[name=reason]', 'stray comma after quantity');
    await page.screenshot({ path: path.join(shots, 'edit.png'), fullPage: true });
    await Promise.all([page.waitForURL(/\/console\/messages\/[0-9a-f-]{36}$/), page.click('button:has-text("Store edited copy and reprocess")')]);
    const copyId = page.url().split('/').pop()!;
    expect(copyId).not.toBe(id);
    let status = '';
    for (let i = 0; i < 100 && status !== 'processed'; i++) {
      await page.reload();
      status = (await page.textContent('h1 .badge'))!.trim();
      if (status !== 'processed') await page.waitForTimeout(200);
    }
    expect(status).toBe('processed');
    expect(await page.textContent('dl.facts')).toContain(`Edited copy of${id}`);
    await page.screenshot({ path: path.join(shots, 'message-processed.png'), fullPage: true });

    // the original is unchanged and links to its copy
    await page.goto(`${base}/console/messages/${id}`);
    expect((await page.textContent('h1 .badge'))!.trim()).toBe('rejected');
    expect(await page.locator(`a[href="/console/messages/${copyId}"]`).count()).toBe(1);
  });

  it('masks PHI until Reveal, and shows dead letters', async () => {
    const rows = await h.hub.db('inbound_messages').where({ connector_id: 'hl7' }).select('id');
    await page.goto(`${base}/console/messages/${rows[0].id}`);
    expect(await page.textContent('table.raw')).not.toContain('Muster');
    await page.screenshot({ path: path.join(shots, 'message-phi-masked.png'), fullPage: true });
    await Promise.all([page.waitForLoadState('load'), page.click('button:has-text("Reveal PHI")')]);
    expect(await page.textContent('table.raw')).toContain('Muster^Erika');
    await page.goto(`${base}/console/dead-letters?status=rejected`);
    expect(await page.textContent('table.grid')).toContain('LB_ERR_');
    await page.screenshot({ path: path.join(shots, 'dead-letters.png'), fullPage: true });
  });

  it('shows the queue dashboard with every LotBridge queue', async () => {
    await page.goto(`${base}/admin/queues`);
    await page.waitForSelector('text=ingest', { timeout: 20000 });
    const body = await page.textContent('body');
    for (const q of ['ingest', 'maintenance', 'console']) expect(body).toContain(q);
    await page.screenshot({ path: path.join(shots, 'queues.png'), fullPage: true });
  });

  it('draws the dashboard charts', async () => {
    await page.goto(`${base}/dashboard`);
    // A selector, not waitForFunction: a string predicate is run through eval() in the page, which
    // the console's Content-Security-Policy (script-src 'self') rightly refuses.
    await page.waitForSelector('#kpi-at:not(:empty)', { state: 'attached', timeout: 20000 });
    const drawn = await page.evaluate<{ chart: string; datasets: number }>(
      "({ chart: typeof window.Chart, datasets: window.Chart?.getChart(document.getElementById('chart-rates'))?.data.datasets.length ?? 0 })",
    );
    expect(drawn.chart).toBe('function');
    expect(drawn.datasets).toBeGreaterThan(0);
    await page.screenshot({ path: path.join(shots, 'dashboard.png'), fullPage: true });
  });
});
