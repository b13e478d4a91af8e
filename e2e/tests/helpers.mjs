// Shared plumbing for the browser tests: the environment `e2e/run` prepares, a headless Debian
// chromium driven by playwright-core, per-test browser sessions that record console errors,
// uncaught page errors and CSP violations, artifacts (full-page screenshot + HTML) of every open
// page when a test fails, and small clients for the JSON API and the CLI.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
export const ARTIFACTS_DIR = path.resolve(here, '..', 'artifacts');
const REPO_ROOT = path.resolve(here, '..', '..');

export const CHROMIUM = process.env.E2E_CHROMIUM || '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** How long a locator waits for the page before a test fails (ms). */
export const ACTION_TIMEOUT = Number(process.env.E2E_TIMEOUT_MS || 7000);
const NAVIGATION_TIMEOUT = 15000;

function required(name) {
  const v = process.env[name];
  if (!v) {
    throw new Error(`${name} is not set. Run the browser tests with \`bash e2e/run\`, which starts kassa and sets it.`);
  }
  return v;
}

/** What `e2e/run` exports: the server, its database, the CLI, a partner API key, a dashboard user. */
export const env = {
  get url() { return required('KASSA_URL').replace(/\/$/, ''); },
  get dbUrl() { return required('KASSA_DB_URL'); },
  get bin() { return required('KASSA_BIN'); },
  get apiKey() { return required('KASSA_API_KEY'); },
  get slug() { return process.env.E2E_PARTNER_SLUG || 'acme'; },
  get partnerName() { return process.env.E2E_PARTNER_NAME || 'Acme Plumbing'; },
  get email() { return required('E2E_EMAIL'); },
  get password() { return required('E2E_PASSWORD'); },
};

export function randomSuffix(n = 8) {
  return randomBytes(n).toString('hex').slice(0, n).toUpperCase();
}

// ------------------------------------------------------------------ the browser

let browserPromise = null;

/** One chromium for the whole file; never downloads anything, fails loudly when it is missing. */
export function browser() {
  if (!browserPromise) {
    if (!existsSync(CHROMIUM)) {
      throw new Error(`chromium is not installed at ${CHROMIUM} (apt-get install -y chromium). The browser tests cannot run without it.`);
    }
    browserPromise = chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS,
    });
  }
  return browserPromise;
}

export async function closeBrowser() {
  if (browserPromise) {
    const b = await browserPromise.catch(() => null);
    browserPromise = null;
    if (b) await b.close();
  }
}

/** Every page (URL) loaded in any session of this run, and what went wrong on it. */
export const visited = [];

/** Things worth knowing that are not page faults (printed by the last test). */
export const notes = new Set();

/** A problem a page reported: console error, uncaught error or CSP violation. */
function problemText(p) {
  return `[${p.kind}] ${p.text}${p.where ? ` (${p.where})` : ''} on ${p.page}`;
}

/** Console messages that are not page faults: the load of the main document itself answering a
 * 4xx on purpose (a declined payment is a 402 page, a wrong password a 401 page). */
function isOwnDocumentStatus(text, documentStatuses) {
  const m = /^Failed to load resource: the server responded with a status of (\d{3})/.exec(text);
  return Boolean(m && documentStatuses.has(Number(m[1])));
}

/**
 * A browser session of one test: contexts (each a separate cookie jar, like a separate person)
 * and pages that record console errors, page errors and CSP violations.
 */
export class Session {
  constructor(testName) {
    this.testName = testName;
    this.contexts = [];
    this.pages = [];
    this.problems = [];
  }

  /** A new context (no cookies) and a page in it. `label` names it in messages and artifacts. */
  async newPage(label = 'page') {
    const n = this.pages.filter((p) => p.label.split('#')[0] === label).length;
    if (n) label = `${label}#${n + 1}`;
    const b = await browser();
    const context = await b.newContext({ baseURL: env.url, viewport: { width: 1280, height: 900 } });
    context.setDefaultTimeout(ACTION_TIMEOUT);
    context.setDefaultNavigationTimeout(NAVIGATION_TIMEOUT);
    // Reported by the page itself, in addition to chromium's console message for it.
    await context.exposeBinding('__e2eCspViolation', ({ page }, v) => {
      this.#record(page, label, {
        kind: 'csp',
        text: `${v.directive} blocked ${v.blockedURI || '(inline)'}${v.sample ? ` sample=${JSON.stringify(v.sample)}` : ''}`,
        where: v.sourceFile ? `${v.sourceFile}:${v.lineNumber}` : '',
      });
    });
    await context.addInitScript(() => {
      document.addEventListener('securitypolicyviolation', (e) => {
        window.__e2eCspViolation({
          directive: e.effectiveDirective || e.violatedDirective,
          blockedURI: e.blockedURI,
          sourceFile: e.sourceFile,
          lineNumber: e.lineNumber,
          sample: e.sample,
        });
      });
    });
    const page = await context.newPage();
    // Statuses of main-document responses, so their own "Failed to load resource" is not a fault.
    const documentStatuses = new Set();
    page.on('response', (r) => {
      if (r.request().isNavigationRequest() && r.request().frame() === page.mainFrame()) {
        documentStatuses.add(r.status());
      }
    });
    page.on('framenavigated', (frame) => {
      if (frame === page.mainFrame()) {
        visited.push({ test: this.testName, label, url: frame.url(), problems: [] });
      }
    });
    page.on('console', (msg) => {
      if (msg.type() !== 'error') return;
      const text = msg.text();
      const loc = msg.location();
      if (isOwnDocumentStatus(text, documentStatuses) && loc?.url === page.url()) return;
      if (loc?.url && new URL(loc.url).pathname === '/favicon.ico') {
        // Chromium asks for /favicon.ico on its own (once per run, whichever test is first); no
        // page asked for it. Noted (test 8 prints it), not counted as a page fault.
        notes.add(`the browser's own GET /favicon.ico: ${text}`);
        return;
      }
      const kind = /Content Security Policy/i.test(text) ? 'csp' : 'console.error';
      this.#record(page, label, { kind, text, where: loc?.url ? `${loc.url}:${loc.lineNumber}` : '' });
    });
    page.on('pageerror', (err) => {
      this.#record(page, label, { kind: 'pageerror', text: String(err?.stack || err) });
    });
    this.contexts.push(context);
    this.pages.push({ page, label });
    return page;
  }

  #record(page, label, p) {
    const entry = { ...p, page: `${label} ${page.url()}` };
    this.problems.push(entry);
    for (let i = visited.length - 1; i >= 0; i--) {
      if (visited[i].test === this.testName && visited[i].label === label) {
        visited[i].problems.push(entry);
        break;
      }
    }
  }

  /** Fails unless no page of this session had a console error, page error or CSP violation. */
  assertClean() {
    const list = this.problems.map(problemText);
    assert.equal(
      list.length,
      0,
      `pages reported ${list.length} console error(s) / CSP violation(s):\n  ${list.join('\n  ')}`,
    );
  }

  /** Full-page screenshot and HTML of every open page, into e2e/artifacts/; their paths. */
  async saveArtifacts() {
    mkdirSync(ARTIFACTS_DIR, { recursive: true });
    const slug = this.testName.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 60);
    const stamp = new Date().toISOString().replace(/[:.]/g, '-');
    const saved = [];
    for (const [i, { page, label }] of this.pages.entries()) {
      if (page.isClosed()) continue;
      const base = path.join(ARTIFACTS_DIR, `${stamp}-${slug}-${i + 1}-${label.replace(/[^a-z0-9]+/gi, '-')}`);
      try {
        await page.screenshot({ path: `${base}.png`, fullPage: true, timeout: 10000 });
        saved.push(`${base}.png`);
      } catch (e) {
        saved.push(`(no screenshot of ${label}: ${e.message.split('\n')[0]})`);
      }
      try {
        writeFileSync(`${base}.html`, `<!-- ${page.url()} -->\n${await page.content()}`);
        saved.push(`${base}.html`);
      } catch (e) {
        saved.push(`(no HTML of ${label}: ${e.message.split('\n')[0]})`);
      }
    }
    return saved.map((p) => (p.startsWith('(') ? p : path.relative(REPO_ROOT, p)));
  }

  async close() {
    for (const c of this.contexts) await c.close().catch(() => {});
  }
}

/**
 * A browser test: gives `fn` a fresh Session; at the end asserts that no console errors or CSP
 * violations occurred; on any failure saves a screenshot and the HTML of every open page into
 * e2e/artifacts/ and prints their paths.
 */
export function browserTest(name, fn) {
  test(name, async (t) => {
    const session = new Session(name);
    try {
      await fn(session, t);
      session.assertClean();
    } catch (err) {
      const paths = await session.saveArtifacts().catch((e) => [`(artifacts failed: ${e.message})`]);
      if (session.problems.length) {
        console.error(`  console errors / CSP violations seen in "${name}":\n    ${session.problems.map(problemText).join('\n    ')}`);
      }
      const lines = paths.length ? paths.join('\n    ') : '(no page was open)';
      console.error(`  FAILED "${name}" — artifacts:\n    ${lines}`);
      t.diagnostic(`artifacts: ${paths.join(' ')}`);
      throw err;
    } finally {
      await session.close();
    }
  });
}

// ------------------------------------------------------------------ page helpers

/**
 * Opens `path` and fails clearly unless it answers `status` (the page may not be built yet).
 * Redirects are followed; the final response counts.
 */
export async function open(page, urlPath, { status = 200 } = {}) {
  const resp = await page.goto(urlPath);
  assert.ok(resp, `no response for ${urlPath}`);
  assert.equal(
    resp.status(),
    status,
    `GET ${urlPath} answered ${resp.status()} (expected ${status})${resp.status() === 404 ? ' — is this page built yet?' : ''}; now at ${page.url()}`,
  );
  return resp;
}

/** Clicks something that submits or navigates, and returns the main document's response. */
export async function clickAndWait(page, locator) {
  const [resp] = await Promise.all([
    page.waitForNavigation({ waitUntil: 'load' }),
    locator.click(),
  ]);
  return resp;
}

/** The path of the page's current URL (without the query: pages may add one, e.g. `?created=1`). */
export function pathOf(page) {
  return new URL(page.url()).pathname;
}

/** Waits until the page's path (without the query) matches `re`; a clear message when it does not. */
export async function waitForPath(page, re, what = '') {
  try {
    await page.waitForURL((u) => re.test(u.pathname), { timeout: ACTION_TIMEOUT });
  } catch {
    assert.fail(`expected to be at ${re}${what ? ` (${what})` : ''}, but the page is ${page.url()}`);
  }
}

/** Waits for a locator to be visible, failing with what was looked for and where. */
export async function visible(locator, what) {
  try {
    await locator.first().waitFor({ state: 'visible' });
  } catch {
    const page = locator.page();
    assert.fail(`${what || locator.toString()} is not on ${page.url()} (waited ${ACTION_TIMEOUT} ms)`);
  }
  return locator.first();
}

/** Signs in through the form; lands on /dashboard. */
export async function signIn(page, { email = env.email, password = env.password } = {}) {
  await open(page, '/dashboard/login');
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await clickAndWait(page, page.getByRole('button', { name: 'Sign in' }));
  await waitForPath(page, /^\/dashboard$/, 'after signing in');
}

/** Follows a link of the `<nav aria-label="Dashboard">`. */
export async function navTo(page, name) {
  const nav = page.getByRole('navigation', { name: 'Dashboard' });
  await visible(nav, 'the dashboard navigation (<nav aria-label="Dashboard">)');
  const link = nav.getByRole('link', { name, exact: true });
  await visible(link, `the "${name}" link in the dashboard navigation`);
  await clickAndWait(page, link);
}

/** Fills the payer page's card form and presses Pay; returns the response. */
export async function payByCard(page, { number, name = 'Jo Payer', expiry = '12/30', cvc = '123', zip = '94107' }) {
  await page.getByLabel('Name on card').fill(name);
  await page.getByLabel('Card number').fill(number);
  await page.getByLabel('Expiry (MM/YY)').fill(expiry);
  await page.getByLabel('CVC').fill(cvc);
  await page.getByLabel('ZIP / postal code').fill(zip);
  // The card form's button is "Pay $250.00"; the bank form's is "Pay $250.00 by bank".
  return clickAndWait(page, page.getByRole('button', { name: /^Pay \$[\d,]+\.\d\d$/ }));
}

// ------------------------------------------------------------------ API and CLI

/** A JSON API call; `{status, body}`. */
export async function api(method, urlPath, { body, key = env.apiKey } = {}) {
  const headers = { Authorization: `Bearer ${key}` };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const resp = await fetch(`${env.url}${urlPath}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await resp.text();
  let json;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = text;
  }
  return { status: resp.status, body: json };
}

/** A payment request made by API (201), for tests that need one without the dashboard. */
export async function createRequestByApi(fields) {
  const r = await api('POST', '/v1/payment-requests', { body: fields });
  assert.equal(r.status, 201, `POST /v1/payment-requests answered ${r.status}: ${JSON.stringify(r.body)}`);
  return r.body;
}

/** Runs the kassa CLI against the test database; its stdout. */
export function kassa(args, { input } = {}) {
  return new Promise((resolve, reject) => {
    const child = execFile(
      env.bin,
      ['--database-url', env.dbUrl, ...args],
      { timeout: 60000 },
      (err, stdout, stderr) => {
        if (err) {
          reject(new Error(`kassa ${args.join(' ')} failed (${err.code ?? err.signal}): ${stderr || err.message}`));
        } else {
          resolve(stdout);
        }
      },
    );
    if (input !== undefined) child.stdin.end(input);
    else child.stdin.end();
  });
}

// ------------------------------------------------------------------ accessibility

const AXE_SOURCE_PATH = path.resolve(here, '..', 'node_modules', 'axe-core', 'axe.min.js');
let axeSource = null;

/**
 * Runs axe-core (WCAG 2.0/2.1 A and AA rules) on the page as it is now and fails the test on any
 * `critical` or `serious` violation, naming each rule and the elements it found. The script is
 * evaluated through the DevTools protocol, so the page's strict CSP needs no exception.
 */
export async function checkAccessibility(page, what = pathOf(page)) {
  if (axeSource === null) {
    if (!existsSync(AXE_SOURCE_PATH)) {
      throw new Error(`axe-core is not installed at ${AXE_SOURCE_PATH}; run npm ci in e2e/ (e2e/run does)`);
    }
    axeSource = readFileSync(AXE_SOURCE_PATH, 'utf8');
  }
  const already = await page.evaluate(() => typeof window.axe !== 'undefined');
  if (!already) {
    await page.evaluate(axeSource);
  }
  const result = await page.evaluate(async () => {
    const r = await window.axe.run(document, {
      runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] },
      resultTypes: ['violations'],
    });
    return r.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      nodes: v.nodes.slice(0, 5).map((n) => n.target.join(' ')),
    }));
  });
  const bad = result.filter((v) => v.impact === 'critical' || v.impact === 'serious');
  assert.deepEqual(
    bad.map((v) => `${v.impact} ${v.id}: ${v.help} (${v.nodes.join(', ')})`),
    [],
    `axe-core found critical or serious violations on ${what}`,
  );
  return result;
}

// ------------------------------------------------------------------ email

/**
 * Waits (up to `timeoutMs`) for a message to `to` at the test SMTP server e2e/run starts
 * (`E2E_MAIL_DIR`); returns `{from, to, raw, subject, text}` with quoted-printable decoded.
 */
export async function waitForEmail(to, { timeoutMs = 20000, subject = null } = {}) {
  const dir = required('E2E_MAIL_DIR');
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (existsSync(dir)) {
      for (const name of readdirSync(dir).sort()) {
        const mail = JSON.parse(readFileSync(path.join(dir, name), 'utf8'));
        if (!mail.to.includes(to)) continue;
        const text = decodeQuotedPrintable(mail.raw);
        const subjectLine = (mail.raw.match(/^Subject: (.*)$/m) || [])[1] || '';
        if (subject && !subject.test(subjectLine)) continue;
        return { ...mail, subject: subjectLine, text };
      }
    }
    if (Date.now() > deadline) {
      assert.fail(`no email to ${to}${subject ? ` with a subject like ${subject}` : ''} reached the test SMTP server within ${timeoutMs} ms`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

function decodeQuotedPrintable(s) {
  const joined = s.replace(/=\r\n/g, '');
  const bytes = [];
  for (let i = 0; i < joined.length; i++) {
    const hex = joined.slice(i + 1, i + 3);
    if (joined[i] === '=' && /^[0-9A-F]{2}$/.test(hex)) {
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else {
      bytes.push(...Buffer.from(joined[i], 'utf8'));
    }
  }
  return Buffer.from(bytes).toString('utf8');
}
