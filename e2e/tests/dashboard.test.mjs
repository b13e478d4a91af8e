// The partner dashboard and the payer's pages, in a real browser, against one running kassa
// (started by `bash e2e/run`). Tests run in order and share what they made (`shared`); each signs
// in afresh. Where a test needs something an earlier test makes through a page that may not be
// built, it makes it through the API instead, so each test fails for its own page only.
//
// Every test ends by asserting that no page had a console error, an uncaught error or a CSP
// violation (see helpers.mjs); a failing test leaves a screenshot and the HTML in e2e/artifacts/.

import assert from 'node:assert/strict';
import { after, test } from 'node:test';

import {
  api,
  browserTest,
  clickAndWait,
  closeBrowser,
  createRequestByApi,
  env,
  kassa,
  navTo,
  notes,
  open,
  pathOf,
  payByCard,
  randomSuffix,
  Session,
  signIn,
  visible,
  visited,
  waitForPath,
} from './helpers.mjs';

after(closeBrowser);

const REDIRECT_URL = 'https://acme.example/thanks';
const RUN = randomSuffix(8);

/** What earlier tests made, for later ones. */
const shared = {
  /** The request made in the dashboard (test 2): { id, reference, url }. */
  dashboardRequest: null,
  /** The request paid by card with a redirect URL (test 3): { id, reference, paymentId }. */
  paid: null,
};

function escapeRegExp(s) {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function requirePaid() {
  assert.ok(shared.paid, 'test 3 did not complete a card payment, so there is nothing to look at here');
  return shared.paid;
}

/** Searches Transactions by reference (the one "Search" box and "Show"). */
async function searchTransactions(page, reference) {
  await page.getByLabel('Search', { exact: true }).fill(reference);
  await clickAndWait(page, page.getByRole('button', { name: 'Show', exact: true }));
}

/** The API's refunds of a payment. */
async function refundsOf(paymentId) {
  const r = await api('GET', `/v1/refunds?paymentId=${paymentId}`);
  assert.equal(r.status, 200, `GET /v1/refunds answered ${r.status}: ${JSON.stringify(r.body)}`);
  return r.body.data;
}

// ------------------------------------------------------------------------------------------ 1

browserTest('1. sign-in: a wrong password is refused; sign-in lands on the dashboard; sign-out ends the session', async (s) => {
  const page = await s.newPage('partner');
  await open(page, '/dashboard/login');

  await page.getByLabel('Email').fill(env.email);
  await page.getByLabel('Password').fill('not-the-right-password');
  await clickAndWait(page, page.getByRole('button', { name: 'Sign in' }));
  assert.equal(pathOf(page), '/dashboard/login', 'a wrong password must stay on the sign-in page');
  const error = await visible(page.getByRole('alert'), 'an error message after a wrong password');
  assert.notEqual((await error.innerText()).trim(), '', 'the error message is empty');
  assert.equal(await page.getByLabel('Password').inputValue(), '', 'the password is not sent back into the form');
  assert.equal(
    (await page.context().cookies()).filter((c) => /kassa_session$/.test(c.name)).length,
    0,
    'a wrong password must not start a session',
  );

  await page.getByLabel('Email').fill(env.email);
  await page.getByLabel('Password').fill(env.password);
  await clickAndWait(page, page.getByRole('button', { name: 'Sign in' }));
  await waitForPath(page, /^\/dashboard$/, 'after signing in');
  await visible(
    page.getByRole('heading', { level: 1, name: env.partnerName, exact: true }),
    `the partner name "${env.partnerName}" as the page's h1`,
  );
  const session = (await page.context().cookies()).find((c) => /kassa_session$/.test(c.name));
  assert.ok(session, 'signing in sets a session cookie');
  assert.equal(session.httpOnly, true, 'the session cookie is HttpOnly');
  assert.equal(session.sameSite, 'Lax', 'the session cookie is SameSite=Lax');

  await clickAndWait(page, page.getByRole('button', { name: 'Sign out' }));
  await waitForPath(page, /^\/dashboard\/login$/, 'after signing out');
  await visible(page.getByRole('button', { name: 'Sign in' }), 'the sign-in form after signing out');

  await page.goto('/dashboard');
  await waitForPath(page, /^\/dashboard\/login$/, '/dashboard after signing out must send to the sign-in page');
});

// ------------------------------------------------------------------------------------------ 2

browserTest('2. dashboard: create a payment request and read its payment link', async (s) => {
  const page = await s.newPage('partner');
  await signIn(page);

  // The navigation of the dashboard (the other tests open their pages by address, so that each
  // fails for its own page only).
  const nav = page.getByRole('navigation', { name: 'Dashboard' });
  await visible(nav, 'the dashboard navigation (<nav aria-label="Dashboard">)');
  const sections = {
    Home: '/dashboard',
    Transactions: '/dashboard/transactions',
    'Payment requests': '/dashboard/payment-requests',
    Payouts: '/dashboard/payouts',
    Settings: '/dashboard/settings',
  };
  for (const [name, href] of Object.entries(sections)) {
    const link = await visible(nav.getByRole('link', { name, exact: true }), `the "${name}" link in the dashboard navigation`);
    assert.equal(new URL(await link.getAttribute('href'), env.url).pathname, href, `the "${name}" link goes to ${href}`);
  }
  await visible(page.getByRole('button', { name: 'Sign out' }), 'the "Sign out" button');

  await navTo(page, 'Payment requests');
  await waitForPath(page, /^\/dashboard\/payment-requests$/, 'the Payment requests page');
  const newLink = await visible(page.getByRole('link', { name: 'New payment request' }), 'the "New payment request" link');
  await clickAndWait(page, newLink);

  const reference = `E2E-${RUN}`;
  await page.getByLabel('Amount').fill('250.00');
  await page.getByLabel('Reference ID').fill(reference);
  await page.getByLabel('Description').fill('Deposit (browser test)');
  await page.getByLabel('Payer email').fill('payer@example.com');
  await page.getByLabel('Redirect URL').fill(REDIRECT_URL);
  await clickAndWait(page, page.getByRole('button', { name: 'Create payment request' }));

  await waitForPath(page, /^\/dashboard\/payment-requests\/pr_[A-Za-z0-9]+$/, 'the new request');
  const id = pathOf(page).split('/').pop();
  await visible(page.getByText(reference), `the reference ${reference}`);
  const link = await visible(page.locator('#payment-link'), 'the payment link (an input with id payment-link)');
  assert.equal(await link.evaluate((el) => el.tagName), 'INPUT', '#payment-link is an input');
  assert.equal(await link.evaluate((el) => el.readOnly), true, '#payment-link is readonly');
  const url = await link.inputValue();
  assert.match(url, new RegExp(`^${escapeRegExp(env.url)}(/p/${env.slug})?/pay/${id}$`), 'the payment link is the payer URL of this request');
  await visible(page.getByRole('link', { name: 'Cancel payment request' }), 'the "Cancel payment request" link of an open request (to its confirmation step)');

  const r = await api('GET', `/v1/payment-requests/${id}`);
  assert.equal(r.status, 200, `the API does not know ${id}: ${JSON.stringify(r.body)}`);
  assert.equal(r.body.referenceId, reference);
  assert.equal(r.body.amount, '250.00');
  assert.equal(r.body.status, 'open');
  assert.equal(r.body.redirectUrl, REDIRECT_URL);
  assert.equal(r.body.description, 'Deposit (browser test)');
  assert.equal(r.body.payerEmail, 'payer@example.com');
  assert.equal(url, r.body.url, 'the dashboard shows the same link as the API');
  shared.dashboardRequest = { id, reference, url };

  // The list finds it by reference.
  await navTo(page, 'Payment requests');
  await page.getByLabel('Reference ID').fill(reference);
  await clickAndWait(page, page.getByRole('button', { name: 'Show', exact: true }));
  await visible(page.getByText(reference), `the request ${reference} in the list, searched by reference`);
});

// ------------------------------------------------------------------------------------------ 3

browserTest('3. payer: a declined card, then a good one on the same link; the receipt returns to the partner only with a redirect URL', async (s, t) => {
  let request = shared.dashboardRequest;
  if (!request) {
    t.diagnostic('test 2 made no payment request in the dashboard: this test makes its own by API');
    const pr = await createRequestByApi({
      amount: '250.00',
      referenceId: `E2E-API-${RUN}`,
      redirectUrl: REDIRECT_URL,
      description: 'Deposit (browser test, by API)',
    });
    request = { id: pr.id, reference: pr.referenceId, url: pr.url };
  }

  // A payer: a context of its own, no cookies.
  const payer = await s.newPage('payer');
  await open(payer, request.url);
  await visible(payer.getByText(`Payment to ${env.partnerName}`), 'the payee on the pay page');
  await visible(payer.getByText('$250.00'), 'the amount on the pay page');
  await visible(payer.getByText(request.reference), 'the reference on the pay page');

  await payByCard(payer, { number: '4000000000000002' });
  assert.match(pathOf(payer), /\/pay\/pr_[A-Za-z0-9]+$/, 'a decline stays on the pay page');
  const notice = await visible(payer.getByRole('alert'), 'the decline message');
  assert.match(await notice.innerText(), /declined/i);
  await visible(payer.getByLabel('Card number'), 'the card form, shown again after a decline');

  await payByCard(payer, { number: '4242424242424242' });
  await waitForPath(payer, /\/pay\/pr_[A-Za-z0-9]+\/confirmation$/, 'the receipt after paying');
  await visible(payer.getByText('$250.00'), 'the amount on the receipt');
  const back = await visible(
    payer.getByRole('link', { name: `Return to ${env.partnerName}` }),
    `the "Return to ${env.partnerName}" button`,
  );
  assert.equal(await back.getAttribute('href'), REDIRECT_URL, 'the Return button goes to the redirect URL');

  const r = await api('GET', `/v1/payment-requests/${request.id}`);
  assert.equal(r.body.status, 'completed');
  assert.equal(r.body.attemptCount, 2, 'one declined attempt and one that paid');
  assert.match(r.body.paymentId, /^pay_/);
  shared.paid = { id: request.id, reference: request.reference, paymentId: r.body.paymentId };

  // The link cannot be paid twice.
  await open(payer, request.url);
  await visible(payer.getByText('This payment has already been completed'), 'the "already completed" page');

  // A request made by API without a redirect URL: a receipt without a Return button.
  const plain = await createRequestByApi({ amount: '75.00', referenceId: `E2E-NR-${RUN}` });
  const payer2 = await s.newPage('payer');
  await open(payer2, plain.url);
  await payByCard(payer2, { number: '4242424242424242' });
  await waitForPath(payer2, /\/pay\/pr_[A-Za-z0-9]+\/confirmation$/, 'the receipt after paying');
  await visible(payer2.getByText('$75.00'), 'the amount on the receipt');
  assert.equal(await payer2.getByRole('link', { name: /^Return to/ }).count(), 0, 'no Return link without a redirect URL');
  assert.equal(await payer2.getByRole('button', { name: /^Return to/ }).count(), 0, 'no Return button without a redirect URL');
});

// ------------------------------------------------------------------------------------------ 4

browserTest('4. transactions: the payment is listed as completed (search by reference)', async (s) => {
  const paid = requirePaid();
  const page = await s.newPage('partner');
  await signIn(page);
  await open(page, '/dashboard/transactions');
  await searchTransactions(page, paid.reference);

  const rows = page.getByRole('row').filter({ hasText: paid.reference });
  await visible(rows, `a row with reference ${paid.reference}`);
  const completed = rows.filter({ has: page.getByRole('cell', { name: 'completed', exact: true }) });
  assert.equal(await completed.count(), 1, 'one completed payment for the reference');
  await visible(completed.getByText('$250.00'), 'the amount in the completed row');
  const failed = rows.filter({ has: page.getByRole('cell', { name: 'failed', exact: true }) });
  assert.equal(await failed.count(), 1, 'the declined attempt is listed as failed');
  // The search shows that reference only.
  const bodyRows = page.locator('tbody').getByRole('row');
  assert.equal(await bodyRows.count(), 2, 'the search shows the two attempts of that reference and nothing else');
});

// ------------------------------------------------------------------------------------------ 5

browserTest('5. refund wizard: a partial refund of 10.00; an over-refund shows the error and refunds nothing', async (s) => {
  const paid = requirePaid();
  const page = await s.newPage('partner');
  await signIn(page);
  await open(page, '/dashboard/transactions');
  await searchTransactions(page, paid.reference);

  const row = page
    .getByRole('row')
    .filter({ hasText: paid.reference })
    .filter({ has: page.getByRole('cell', { name: 'completed', exact: true }) });
  const details = await visible(row.getByRole('link', { name: 'See details' }), 'the "See details" link of the completed payment');
  await clickAndWait(page, details);
  await waitForPath(page, new RegExp(`^/dashboard/transactions/${paid.paymentId}$`), 'the payment details');
  const detailsPath = pathOf(page);
  await visible(page.getByRole('heading', { name: /\$250\.00/ }), 'a heading with the amount');
  await visible(page.locator('ol.timeline'), 'the timeline (<ol class="timeline">)');

  // Step 1: amount and reason; step 2: review; nothing is refunded before "Apply Refund".
  await clickAndWait(page, await visible(page.getByRole('link', { name: 'Refund payment' }), 'the "Refund payment" link'));
  await page.getByLabel('Refund amount').fill('10.00');
  await page.getByLabel('Reason').fill('E2E partial refund');
  await clickAndWait(page, page.getByRole('button', { name: 'Next' }));
  await visible(page.getByRole('heading', { name: 'Review refund' }), 'the "Review refund" step');
  await visible(page.getByText('$10.00'), 'the refund amount on the review step');
  assert.equal((await refundsOf(paid.paymentId)).length, 0, 'the review step must not refund anything yet');
  await clickAndWait(page, page.getByRole('button', { name: 'Apply Refund' }));

  await waitForPath(page, new RegExp(`^${escapeRegExp(detailsPath)}$`), 'back on the payment details after the refund');
  await visible(page.getByRole('status').filter({ hasText: 'Refund of $10.00' }), 'a status message "Refund of $10.00 …"');
  const timeline = page.locator('ol.timeline');
  await visible(timeline.getByText(/refund/i), 'the refund in the timeline');
  assert.match(await timeline.innerText(), /\$10\.00/, 'the timeline shows the refunded amount');

  const refunds = await refundsOf(paid.paymentId);
  assert.equal(refunds.length, 1, 'one refund');
  assert.equal(refunds[0].amount, '10.00');
  assert.equal(refunds[0].status, 'succeeded');
  assert.equal(refunds[0].reason, 'E2E partial refund');
  const payment = await api('GET', `/v1/payments/${paid.paymentId}`);
  assert.equal(payment.body.status, 'partially_refunded');

  // More than is left ($240.00): the form again, with the API's message; nothing refunded.
  await clickAndWait(page, await visible(page.getByRole('link', { name: 'Refund payment' }), 'the "Refund payment" link after a partial refund'));
  await page.getByLabel('Refund amount').fill('250.00');
  await page.getByLabel('Reason').fill('Too much');
  await clickAndWait(page, page.getByRole('button', { name: 'Next' }));
  if (await page.getByRole('heading', { name: 'Review refund' }).count()) {
    // The amount may be checked on review or only when applied: either way it must not go through.
    await clickAndWait(page, page.getByRole('button', { name: 'Apply Refund' }));
  }
  await visible(page.getByLabel('Refund amount'), 'the refund form, shown again after an over-refund');
  await visible(
    page.getByText(/at most \$240\.00 of this payment is left to refund/i),
    "the API's message “at most $240.00 of this payment is left to refund”",
  );
  assert.equal((await refundsOf(paid.paymentId)).length, 1, 'an over-refund must create nothing');
});

// ------------------------------------------------------------------------------------------ 6

browserTest('6. payouts: a payout run by the CLI; its statement shows the refund deducted', async (s, t) => {
  const paid = requirePaid();
  let refund = (await refundsOf(paid.paymentId)).find((r) => r.amount === '10.00' && r.status === 'succeeded');
  if (!refund) {
    t.diagnostic('test 5 made no refund in the dashboard: this test refunds 10.00 by API');
    const r = await api('POST', `/v1/payments/${paid.paymentId}/refunds`, {
      body: { amount: '10.00', reason: 'E2E partial refund (by API)' },
    });
    assert.equal(r.status, 201, `refund by API answered ${r.status}: ${JSON.stringify(r.body)}`);
    refund = r.body;
  }

  // The CLI cuts the batch now (cut-off = now): card captures and refunds count at once.
  const out = await kassa(['payouts', 'run', '--partner', env.slug]);
  const m = /^(po_[A-Za-z0-9]+)\s+(\S+)\s+(\S+)/m.exec(out);
  assert.ok(m, `kassa payouts run made no payout; it said: ${out}`);
  const payoutId = m[1];
  const po = await api('GET', `/v1/payouts/${payoutId}`);
  assert.equal(po.status, 200);
  assert.equal(po.body.status, 'paid', `the payout is ${po.body.status}`);
  const refundItem = po.body.items.find((i) => i.type === 'refund' && i.sourceId === refund.id);
  assert.ok(refundItem, `the payout has no item for refund ${refund.id}: ${JSON.stringify(po.body.items)}`);
  assert.equal(refundItem.amount, '-10.00');

  const page = await s.newPage('partner');
  await signIn(page);
  await open(page, '/dashboard/payouts');
  const statements = page.getByRole('link', { name: 'View statement' });
  await visible(statements, 'a "View statement" link');
  const hrefs = await statements.evaluateAll((as) => as.map((a) => a.getAttribute('href')));
  const i = hrefs.findIndex((h) => h && h.endsWith(`/dashboard/payouts/${payoutId}`));
  assert.ok(i >= 0, `no "View statement" link goes to /dashboard/payouts/${payoutId} (links: ${hrefs.join(', ')})`);
  await clickAndWait(page, statements.nth(i));

  await waitForPath(page, new RegExp(`^/dashboard/payouts/${payoutId}$`), 'the payout statement');
  await visible(page.getByRole('table'), 'the table of the payout items');
  await visible(
    page.getByRole('row').filter({ hasText: 'Refund' }).filter({ hasText: '-$10.00' }),
    'a "Refund" row of -$10.00',
  );
  await visible(page.getByRole('row').filter({ hasText: '$250.00' }), 'the $250.00 payment row');
});

// ------------------------------------------------------------------------------------------ 7

browserTest('7. settings: brand name and color show on a payer page; an API key is shown once, works, and is revoked', async (s) => {
  const page = await s.newPage('partner');
  await signIn(page);
  await open(page, '/dashboard/settings');
  for (const label of ['Business name', 'Logo file', 'Brand color', 'Billing host', 'Default redirect URL']) {
    await visible(page.getByLabel(label, { exact: true }), `the "${label}" field`);
  }

  const name = 'Acme Plumbing & Heating';
  const color = '#b45309';
  await page.getByLabel('Business name', { exact: true }).fill(name);
  await page.getByLabel('Brand color', { exact: true }).fill(color);
  await clickAndWait(page, page.getByRole('button', { name: 'Save settings' }));
  await visible(page.getByRole('status').filter({ hasText: 'Settings saved' }), 'the "Settings saved" status');
  await open(page, '/dashboard/settings');
  assert.equal(await page.getByLabel('Business name', { exact: true }).inputValue(), name, 'the new name is kept');
  assert.equal((await page.getByLabel('Brand color', { exact: true }).inputValue()).toLowerCase(), color, 'the new color is kept');

  // A payer sees the new name and color.
  const pr = await createRequestByApi({ amount: '42.00', referenceId: `E2E-BRAND-${RUN}` });
  const payer = await s.newPage('payer');
  await open(payer, pr.url);
  await visible(payer.getByText(`Payment to ${name}`), `"Payment to ${name}" on the pay page`);
  // The header is white with the brand colour along its top; the name (no logo was uploaded) is
  // in the colour's shade that reads on white, never white on white.
  const bar = await payer.getByRole('banner').evaluate((el) => {
    const style = getComputedStyle(el);
    return { border: style.borderTopColor, name: getComputedStyle(el.querySelector('.brand-name')).color };
  });
  assert.equal(bar.border, 'rgb(180, 83, 9)', `the pay page's brand bar is ${bar.border}, not ${color}`);
  assert.notEqual(bar.name, 'rgb(255, 255, 255)', 'the partner name is not white on white');

  // An API key: shown once, works, revoked, then refused.
  const label = `e2e-${RUN.toLowerCase()}`;
  await page.getByLabel('Key label').fill(label);
  await clickAndWait(page, page.getByRole('button', { name: 'Create API key' }));
  const shown = await visible(page.locator('#new-api-key'), 'the new key (an element with id new-api-key)');
  const key = (await shown.innerText()).trim();
  assert.match(key, /^sk_[A-Za-z0-9]+$/, 'the new key looks like sk_…');
  const balance = await api('GET', '/v1/balance', { key });
  assert.equal(balance.status, 200, `the new key is refused: ${JSON.stringify(balance.body)}`);

  await open(page, '/dashboard/settings');
  assert.equal(await page.locator('#new-api-key').count(), 0, 'the key is shown only once');
  assert.ok(!(await page.content()).includes(key), 'the key is not on the page any more');
  const revoke = page.locator('tr, li').filter({ hasText: label }).getByRole('link', { name: `Revoke ${label}` });
  await visible(revoke, `the "Revoke" link of the key labeled ${label}`);
  assert.equal(await revoke.count(), 1, `one "Revoke" link for ${label}`);
  await clickAndWait(page, revoke);
  // One click only asks: the key works until the confirmation's button is pressed.
  await visible(page.getByRole('heading', { level: 1, name: new RegExp(`^Revoke the API key “${label}”`) }), 'the confirmation step');
  assert.equal((await api('GET', '/v1/balance', { key })).status, 200, 'the key still works before the confirmation');
  await clickAndWait(page, page.getByRole('button', { name: 'Revoke key' }));
  await visible(page.getByRole('status').filter({ hasText: 'API key revoked' }), 'the "API key revoked" status');
  const refused = await api('GET', '/v1/balance', { key });
  assert.equal(refused.status, 401, `a revoked key answered ${refused.status}`);
});

// ------------------------------------------------------------------------------------------ 8

test('8. no page showed a console error, an uncaught error or a CSP violation', async (t) => {
  // A last sweep over pages no test opened: an error page, a creation link, a missing page.
  const s = new Session('8. sweep');
  try {
    const page = await s.newPage('sweep');
    await open(page, '/dashboard/login');
    await open(page, `/p/${env.slug}/payment-request?amount=abc&referenceId=X`, { status: 400 });
    await open(page, `/p/${env.slug}/pay/pr_doesnotexist`, { status: 404 });
    await open(page, `/p/${env.slug}/payment-request?amount=12.50&referenceId=E2E-LINK-${RUN}`);
    await waitForPath(page, /\/pay\/pr_[A-Za-z0-9]+$/, 'the pay page a creation link redirects to');
  } finally {
    await s.close();
  }

  assert.ok(visited.length > 0, 'no page was visited');
  t.diagnostic(`${visited.length} page loads checked in ${new Set(visited.map((v) => v.test)).size} tests`);
  for (const note of notes) t.diagnostic(`note: ${note}`);
  const bad = visited.filter((v) => v.problems.length);
  assert.equal(
    bad.length,
    0,
    `pages with console errors or CSP violations:\n${bad
      .map((v) => `  ${v.test} · ${v.url}\n${v.problems.map((p) => `    [${p.kind}] ${p.text}`).join('\n')}`)
      .join('\n')}`,
  );
});
