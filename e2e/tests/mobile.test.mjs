// The dashboard on a phone (390 × 844): every screen — signing in (with a two-factor code and a
// choice of account), home, transactions, a payment and its refund, payment requests (list,
// new, one, the creation-link builder), payouts and a statement, webhooks and an endpoint,
// settings, security (set-up, recovery codes), the audit log, every confirmation step and a
// not-found page — must not scroll sideways, no element may be wider than the screen, no amount
// may wrap, and axe-core must find no critical or serious violation. Each destructive action
// asks first ("Keep it" changes nothing); the payment link's QR code loads and its copy button
// copies. The tests use a partner of their own (made with the CLI), so they never disturb
// dashboard.test.mjs.

import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { after } from 'node:test';

import {
  api,
  browser,
  browserTest,
  checkAccessibility,
  clickAndWait,
  closeBrowser,
  env,
  kassa,
  open,
  pathOf,
  payByCard,
  randomSuffix,
  signIn,
  visible,
  waitForPath,
} from './helpers.mjs';

after(closeBrowser);

const PHONE = { width: 390, height: 844 };
const RUN = randomSuffix(8);
const SLUG = `mobile-${RUN.toLowerCase()}`;
const OWNER = { email: `owner-${RUN.toLowerCase()}@mobile.example`, password: `mobile-${RUN}-${randomSuffix(12)}` };

/** What the set-up made: the partner's key, a paid request, a payout, an endpoint. */
const made = {};

async function createPartner(name, slug) {
  const out = JSON.parse(await kassa(['partner', 'create', '--name', name, '--slug', slug, '--json']));
  assert.match(out.apiKey, /^sk_/, `kassa partner create printed no key: ${JSON.stringify(out)}`);
  return out.apiKey;
}

async function createUser(slug, email, password, role = 'owner') {
  await kassa(['user', 'create', '--partner', slug, '--email', email, '--role', role, '--password-stdin'], {
    input: `${password}\n`,
  });
}

/** The partner, and something on every page: a paid request with a refund, an open one, a
 * declined attempt, a payout, a webhook endpoint. Made once, by the first test that needs it. */
async function setUp() {
  if (made.key) return made;
  made.key = await createPartner('Mobile Heating & Plumbing Services of the Greater Metropolitan Area', SLUG);
  await createUser(SLUG, OWNER.email, OWNER.password);
  const key = made.key;
  const request = async (fields) => {
    const r = await api('POST', '/v1/payment-requests', { body: fields, key });
    assert.equal(r.status, 201, `POST /v1/payment-requests answered ${r.status}: ${JSON.stringify(r.body)}`);
    return r.body;
  };
  // A long reference and email, to see they wrap instead of pushing the page wider.
  made.paid = await request({
    amount: '1250.00',
    referenceId: `INVOICE-${RUN}-WITH-A-RATHER-LONG-REFERENCE-ID-0000000001`,
    payerEmail: `accounts.payable.department.${RUN.toLowerCase()}@a-very-long-client-domain.example`,
    description: 'Boiler replacement, parts and labour',
    redirectUrl: 'https://mobile.example/thanks/for/paying/your/invoice/today',
  });
  made.open = await request({ amount: '0.50', referenceId: `OPEN-${RUN}` });
  made.cancel = await request({ amount: '75.00', referenceId: `CANCEL-${RUN}` });
  return made;
}

/** Pays the set-up's request by card (once: a declined card first, then a good one). */
async function pay(s) {
  if (made.paymentId) return;
  const payer = await s.newPage('payer');
  await open(payer, made.paid.url);
  await payByCard(payer, { number: '4000000000000002' });
  await payByCard(payer, { number: '4242424242424242' });
  await waitForPath(payer, /\/confirmation$/, 'the receipt');
  const r = await api('GET', `/v1/payment-requests/${made.paid.id}`, { key: made.key });
  made.paymentId = r.body.paymentId;
  assert.match(made.paymentId || '', /^pay_/, `the request was not paid: ${JSON.stringify(r.body)}`);
  const refund = await api('POST', `/v1/payments/${made.paymentId}/refunds`, {
    key: made.key,
    body: { amount: '10.00', reason: 'Part returned' },
  });
  assert.equal(refund.status, 201, `refund: ${JSON.stringify(refund.body)}`);
  const out = await kassa(['payouts', 'run', '--partner', SLUG]);
  made.payoutId = /^(po_[A-Za-z0-9]+)/m.exec(out)?.[1];
  assert.ok(made.payoutId, `kassa payouts run made no payout: ${out}`);
  // An endpoint for an event these tests never cause, so nothing is sent anywhere.
  const hook = await api('POST', '/v1/webhook-endpoints', {
    key: made.key,
    body: {
      url: 'https://93.184.215.14/kassa/webhooks/with/a/long/path/for/the/mobile/test',
      events: ['authorization.reversed'],
      description: 'Accounting system (never called by the tests)',
    },
  });
  assert.equal(hook.status, 201, `webhook endpoint: ${JSON.stringify(hook.body)}`);
  made.endpointId = hook.body.id;
}

async function phonePage(s, label = 'phone') {
  const page = await s.newPage(label);
  await page.setViewportSize(PHONE);
  return page;
}

/**
 * The page as it is now fits a 390 px screen: no sideways scroll, no element wider than the
 * screen or reaching past its right edge, no amount broken over two lines; and axe-core finds
 * no critical or serious violation.
 */
async function checkPhone(page, what = pathOf(page)) {
  const found = await page.evaluate(() => {
    const vw = window.innerWidth;
    const describe = (el) => {
      const cls = typeof el.className === 'string' && el.className ? `.${el.className.trim().split(/\s+/).join('.')}` : '';
      const text = (el.textContent || '').trim().replace(/\s+/g, ' ').slice(0, 40);
      return `<${el.tagName.toLowerCase()}${el.id ? `#${el.id}` : ''}${cls}> "${text}"`;
    };
    const wide = [];
    for (const el of document.querySelectorAll('body *')) {
      const r = el.getBoundingClientRect();
      if (r.width === 0 && r.height === 0) continue;
      if (r.width > vw + 0.5 || r.right > vw + 0.5) {
        wide.push(`${describe(el)} is ${Math.round(r.width)} px wide, right edge at ${Math.round(r.right)}`);
      }
    }
    const wrapped = [];
    for (const el of document.querySelectorAll('.num')) {
      const range = document.createRange();
      range.selectNodeContents(el);
      // A new line starts below the bottom of the one before (inline boxes of one line overlap).
      const rects = [...range.getClientRects()].filter((r) => r.width > 0).sort((a, b) => a.top - b.top);
      let lines = 0;
      let bottom = -Infinity;
      for (const r of rects) {
        if (r.top >= bottom - 1) lines += 1;
        bottom = Math.max(bottom, r.bottom);
      }
      if (lines > 1) wrapped.push(describe(el));
    }
    return {
      scrollWidth: document.documentElement.scrollWidth,
      innerWidth: vw,
      wide: wide.slice(0, 8),
      wrapped,
    };
  });
  assert.equal(found.innerWidth, PHONE.width, `${what}: the viewport is not a phone's`);
  assert.ok(
    found.scrollWidth <= found.innerWidth,
    `${what} scrolls sideways at ${PHONE.width} px (scrollWidth ${found.scrollWidth}):\n  ${found.wide.join('\n  ')}`,
  );
  assert.deepEqual(found.wide, [], `${what}: elements wider than the screen`);
  assert.deepEqual(found.wrapped, [], `${what}: amounts broken over two lines`);
  await checkAccessibility(page, `${what} at ${PHONE.width} px`);
}

/** Opens `path` and checks it at phone size. */
async function visit(page, path, { status = 200 } = {}) {
  await open(page, path, { status });
  await checkPhone(page, path);
}

// ------------------------------------------------------------------------- TOTP (RFC 6238)

function base32Decode(text) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const c of text.replace(/[\s=]/g, '').toUpperCase()) {
    const v = alphabet.indexOf(c);
    assert.ok(v >= 0, `not base32: ${text}`);
    bits += v.toString(2).padStart(5, '0');
  }
  const bytes = [];
  for (let i = 0; i + 8 <= bits.length; i += 8) bytes.push(parseInt(bits.slice(i, i + 8), 2));
  return Buffer.from(bytes);
}

function totp(secretBase32, at = Date.now()) {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(at / 1000 / 30)));
  const mac = createHmac('sha1', base32Decode(secretBase32)).update(counter).digest();
  const offset = mac[mac.length - 1] & 0x0f;
  const code = (mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000;
  return String(code).padStart(6, '0');
}

/** A code of the step after the last one used (a step is spent once). */
let lastStep = 0;
async function freshCode(secret) {
  for (;;) {
    const step = Math.floor(Date.now() / 30000);
    if (step > lastStep) {
      lastStep = step;
      return totp(secret);
    }
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

// ------------------------------------------------------------------------------------------ 1

browserTest('1. mobile: every screen of the dashboard fits a 390 px phone and passes axe-core', async (s) => {
  await setUp();
  await pay(s);
  const page = await phonePage(s);
  await visit(page, '/dashboard/login');
  await signIn(page, OWNER);
  await checkPhone(page, '/dashboard (home)');
  await visible(page.getByRole('img', { name: /Completed payments per day/ }), 'the volume chart (an svg with role img)');

  const screens = [
    '/dashboard/transactions',
    '/dashboard/transactions?period=7d',
    `/dashboard/transactions?q=${encodeURIComponent('$1,250.00')}`,
    `/dashboard/transactions/${made.paymentId}`,
    `/dashboard/transactions/${made.paymentId}/refund`,
    '/dashboard/payment-requests',
    '/dashboard/payment-requests/new',
    `/dashboard/payment-requests/${made.paid.id}`,
    `/dashboard/payment-requests/${made.open.id}`,
    '/dashboard/payment-requests/link',
    `/dashboard/payment-requests/link?amount=250.00&referenceId=LINK-${RUN}-WITH-A-LONG-REFERENCE-FOR-THE-LINK`,
    `/dashboard/payment-requests/${made.open.id}/cancel`,
    '/dashboard/payouts',
    `/dashboard/payouts/${made.payoutId}`,
    '/dashboard/webhooks',
    `/dashboard/webhooks/${made.endpointId}`,
    `/dashboard/webhooks/${made.endpointId}/rotate-secret`,
    `/dashboard/webhooks/${made.endpointId}/delete`,
    '/dashboard/settings',
    '/dashboard/security',
    '/dashboard/audit',
    '/dashboard/audit?action=refund.created',
  ];
  for (const path of screens) await visit(page, path);
  await visit(page, '/dashboard/transactions/pay_doesnotexist', { status: 404 });

  // The refund wizard's review step.
  await open(page, `/dashboard/transactions/${made.paymentId}/refund`);
  await page.getByLabel('Refund amount').fill('1.00');
  await clickAndWait(page, page.getByRole('button', { name: 'Next' }));
  await visible(page.getByRole('heading', { name: 'Review refund' }), 'the review step');
  await checkPhone(page, 'the refund review');

  // The list's rows are stacked: each cell names its column.
  await open(page, '/dashboard/transactions');
  const cell = page.locator('tbody td[data-label="Amount"]').first();
  const label = await cell.evaluate((el) => getComputedStyle(el, '::before').content);
  assert.match(label, /Amount/, `a stacked cell shows its column's name (::before is ${label})`);
  const money = page.locator('tbody td.num').first();
  assert.equal(await money.evaluate((el) => getComputedStyle(el).whiteSpace), 'nowrap', 'amounts never wrap');
});

// ------------------------------------------------------------------------------------------ 2

browserTest('2. mobile: each destructive action asks first; "Keep it" changes nothing', async (s) => {
  await setUp();
  await pay(s);
  const page = await phonePage(s);
  await signIn(page, OWNER);

  // Cancelling a payment request.
  await open(page, `/dashboard/payment-requests/${made.cancel.id}`);
  await clickAndWait(page, page.getByRole('link', { name: 'Cancel payment request' }));
  await visible(page.getByRole('heading', { level: 1, name: `Cancel payment request CANCEL-${RUN} for $75.00?` }), 'the cancel confirmation');
  await visible(page.getByText('This cannot be undone.'), 'what it means');
  await checkPhone(page, 'the cancel confirmation');
  await clickAndWait(page, page.getByRole('link', { name: 'Keep it' }));
  assert.equal(pathOf(page), `/dashboard/payment-requests/${made.cancel.id}`, '"Keep it" goes back');
  assert.equal((await api('GET', `/v1/payment-requests/${made.cancel.id}`, { key: made.key })).body.status, 'open');
  await clickAndWait(page, page.getByRole('link', { name: 'Cancel payment request' }));
  await clickAndWait(page, page.getByRole('button', { name: 'Cancel payment request' }));
  await visible(page.getByRole('status').filter({ hasText: 'Payment request canceled' }), 'the canceled status');
  assert.equal((await api('GET', `/v1/payment-requests/${made.cancel.id}`, { key: made.key })).body.status, 'canceled');

  // Revoking an API key.
  const label = `mobile-${RUN.toLowerCase()}`;
  await open(page, '/dashboard/settings');
  await page.getByLabel('Key label').fill(label);
  await clickAndWait(page, page.getByRole('button', { name: 'Create API key' }));
  const key = (await (await visible(page.locator('#new-api-key'), 'the new key')).innerText()).trim();
  await checkPhone(page, 'settings with a new key');
  await open(page, '/dashboard/settings');
  await clickAndWait(page, page.getByRole('link', { name: `Revoke ${label}` }));
  await visible(page.getByRole('heading', { level: 1, name: new RegExp(`^Revoke the API key “${label}”`) }), 'the revoke confirmation');
  await checkPhone(page, 'the revoke confirmation');
  await clickAndWait(page, page.getByRole('link', { name: 'Keep it' }));
  assert.equal((await api('GET', '/v1/balance', { key })).status, 200, '"Keep it" keeps the key');
  await clickAndWait(page, page.getByRole('link', { name: `Revoke ${label}` }));
  await clickAndWait(page, page.getByRole('button', { name: 'Revoke key' }));
  assert.equal((await api('GET', '/v1/balance', { key })).status, 401, 'the key is revoked');

  // Removing a user.
  const staff = `staff-${RUN.toLowerCase()}@mobile.example`;
  await createUser(SLUG, staff, `staff-${RUN}-${randomSuffix(12)}`, 'staff');
  await open(page, '/dashboard/settings');
  await clickAndWait(page, page.getByRole('link', { name: `Remove ${staff}` }));
  await visible(page.getByRole('heading', { level: 1, name: `Remove ${staff} from your team?` }), 'the remove confirmation');
  await checkPhone(page, 'the remove confirmation');
  await clickAndWait(page, page.getByRole('link', { name: 'Keep it' }));
  await visible(page.getByRole('cell', { name: staff }), 'the user, kept');
  await clickAndWait(page, page.getByRole('link', { name: `Remove ${staff}` }));
  await clickAndWait(page, page.getByRole('button', { name: 'Remove user' }));
  await visible(page.getByRole('status').filter({ hasText: 'User removed' }), 'the removed status');
  assert.equal(await page.getByRole('cell', { name: staff }).count(), 0, 'the user is gone');

  // Rotating a webhook endpoint's secret.
  const endpoint = `/dashboard/webhooks/${made.endpointId}`;
  await open(page, endpoint);
  await clickAndWait(page, page.getByRole('link', { name: 'Rotate secret' }));
  await visible(page.getByRole('heading', { level: 1, name: /^Rotate the signing secret of / }), 'the rotate confirmation');
  await clickAndWait(page, page.getByRole('link', { name: 'Keep it' }));
  assert.equal(pathOf(page), endpoint);
  assert.equal(await page.locator('#new-webhook-secret').count(), 0, '"Keep it" makes no secret');
  await clickAndWait(page, page.getByRole('link', { name: 'Rotate secret' }));
  await clickAndWait(page, page.getByRole('button', { name: 'Rotate secret' }));
  assert.match(await (await visible(page.locator('#new-webhook-secret'), 'the new secret')).innerText(), /^whsec_/);
  await checkPhone(page, 'the endpoint with its new secret');

  // Deleting it.
  await clickAndWait(page, page.getByRole('link', { name: 'Delete endpoint' }));
  await visible(page.getByRole('heading', { level: 1, name: /^Delete the webhook endpoint / }), 'the delete confirmation');
  await clickAndWait(page, page.getByRole('link', { name: 'Keep it' }));
  assert.equal((await api('GET', `/v1/webhook-endpoints/${made.endpointId}`, { key: made.key })).status, 200, '"Keep it" keeps it');
  await clickAndWait(page, page.getByRole('link', { name: 'Delete endpoint' }));
  await clickAndWait(page, page.getByRole('button', { name: 'Delete endpoint' }));
  await visible(page.getByRole('status').filter({ hasText: 'Endpoint deleted' }), 'the deleted status');
  assert.equal((await api('GET', `/v1/webhook-endpoints/${made.endpointId}`, { key: made.key })).status, 404);
});

// ------------------------------------------------------------------------------------------ 3

browserTest('3. mobile: two-factor set-up, sign-in with a code, the choice of account, and turning it off (asked first)', async (s) => {
  await setUp();
  const email = `twofactor-${RUN.toLowerCase()}@mobile.example`;
  const password = `tf-${RUN}-${randomSuffix(12)}`;
  await createUser(SLUG, email, password);
  const page = await phonePage(s);
  await signIn(page, { email, password });

  await open(page, '/dashboard/security');
  await clickAndWait(page, page.getByRole('button', { name: 'Set up two-factor sign-in' }));
  await checkPhone(page, 'two-factor set-up (QR code)');
  const secret = (await (await visible(page.locator('#totp-key'), 'the key')).innerText()).trim();
  await page.getByLabel('Code from your app').fill(await freshCode(secret));
  await clickAndWait(page, page.getByRole('button', { name: 'Turn on two-factor sign-in' }));
  await visible(page.locator('#recovery-codes'), 'the recovery codes');
  await checkPhone(page, 'the recovery codes');

  // Signing in again asks for a code.
  await clickAndWait(page, page.getByRole('button', { name: 'Sign out' }));
  await waitForPath(page, /^\/dashboard\/login$/, 'after signing out');
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await clickAndWait(page, page.getByRole('button', { name: 'Sign in' }));
  await waitForPath(page, /^\/dashboard\/login\/code$/, 'the code step');
  await checkPhone(page, '/dashboard/login/code');
  await page.getByLabel('Code').fill(await freshCode(secret));
  await clickAndWait(page, page.getByRole('button', { name: 'Sign in' }));
  await waitForPath(page, /^\/dashboard$/, 'signed in with a code');

  // Turning it off asks first, with a current code.
  await open(page, '/dashboard/security');
  await clickAndWait(page, page.getByRole('link', { name: 'Turn off two-factor sign-in' }));
  await visible(page.getByRole('heading', { level: 1, name: 'Turn off two-factor sign-in?' }), 'the confirmation');
  await checkPhone(page, 'the two-factor confirmation');
  await clickAndWait(page, page.getByRole('link', { name: 'Keep it' }));
  await visible(page.getByText('Two-factor sign-in is on'), 'still on after "Keep it"');
  await clickAndWait(page, page.getByRole('link', { name: 'Turn off two-factor sign-in' }));
  await page.getByLabel('A current code (or a recovery code)').fill(await freshCode(secret));
  await clickAndWait(page, page.getByRole('button', { name: 'Turn off two-factor sign-in' }));
  await visible(page.getByRole('status').filter({ hasText: 'Two-factor sign-in is off' }), 'turned off');

  // A user of two accounts chooses one.
  const other = `mobile-other-${RUN.toLowerCase()}`;
  await createPartner('Mobile Other Account', other);
  const both = { email: `both-${RUN.toLowerCase()}@mobile.example`, password: `both-${RUN}-${randomSuffix(12)}` };
  await createUser(SLUG, both.email, both.password);
  await createUser(other, both.email, both.password);
  const chooser = await phonePage(s, 'chooser');
  await open(chooser, '/dashboard/login');
  await chooser.getByLabel('Email').fill(both.email);
  await chooser.getByLabel('Password').fill(both.password);
  await clickAndWait(chooser, chooser.getByRole('button', { name: 'Sign in' }));
  await waitForPath(chooser, /^\/dashboard\/login\/choose$/, 'the choice of account');
  await checkPhone(chooser, '/dashboard/login/choose');
});

// ------------------------------------------------------------------------------------------ 4

browserTest('4. mobile: the payment link, its QR code and the copy button', async (s) => {
  await setUp();
  const page = await phonePage(s);
  await page.context().grantPermissions(['clipboard-read', 'clipboard-write'], { origin: env.url });
  await signIn(page, OWNER);
  await open(page, `/dashboard/payment-requests/${made.open.id}`);
  await checkPhone(page, 'a payment request');

  const qr = await visible(page.getByRole('img', { name: 'QR code of the payment link' }), 'the QR code');
  const loaded = await qr.evaluate((img) => img.complete && img.naturalWidth > 0);
  assert.ok(loaded, 'the QR code image loads');
  const src = await qr.getAttribute('src');
  const image = await page.request.get(src);
  assert.equal(image.status(), 200);
  assert.equal(image.headers()['content-type'], 'image/svg+xml');

  const link = page.locator('#payment-link');
  assert.equal(await link.inputValue(), made.open.url, 'the link to copy is the payer URL');
  const copy = await visible(page.getByRole('button', { name: 'Copy link' }), 'the "Copy link" button (shown by dashboard.js)');
  await copy.click();
  await visible(page.getByRole('status').filter({ hasText: 'Link copied.' }), 'the "Link copied." status');
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), made.open.url, 'the clipboard holds the link');

  // Without JavaScript the link is still there to select, and the button is not.
  const context = await (await browser()).newContext({ baseURL: env.url, javaScriptEnabled: false, viewport: PHONE });
  try {
    const noJs = await context.newPage();
    await signIn(noJs, OWNER);
    await open(noJs, `/dashboard/payment-requests/${made.open.id}`);
    assert.equal(await noJs.locator('#payment-link').getAttribute('readonly'), '', 'a read-only input');
    assert.equal(await noJs.getByRole('button', { name: 'Copy link' }).count(), 0, 'no copy button without JavaScript');
  } finally {
    await context.close();
  }
});
