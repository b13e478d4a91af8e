// The payer's pay page in a real browser (docs/api.md §2 and §11): paying with JavaScript on and
// off, the "Pay by" chooser by keyboard, a server-side error that keeps the entries and gives
// the error summary focus, the client-side card number check that stops a bad number before it
// is sent, and axe-core on the pay page (empty and with errors), the receipt and the message
// pages. Each test makes its own payment requests by API.

import assert from 'node:assert/strict';
import { after } from 'node:test';

import {
  api,
  browserTest,
  checkAccessibility,
  clickAndWait,
  closeBrowser,
  createRequestByApi,
  env,
  open,
  payByCard,
  randomSuffix,
  signIn,
  visible,
  waitForPath,
} from './helpers.mjs';

after(closeBrowser);

const RUN = randomSuffix(8);
const PAY_BUTTON = /^Pay \$[\d,]+\.\d\d$/;

async function newRequest(amount, tag, extra = {}) {
  return createRequestByApi({ amount, referenceId: `E2E-PAY-${tag}-${RUN}`, ...extra });
}

/** The id of the element that has focus. */
function focusedId(page) {
  return page.evaluate(() => document.activeElement && document.activeElement.id);
}

browserTest('pay page: paying by card with JavaScript on — spacing, brand, the receipt email and number', async (s) => {
  const pr = await newRequest('42.00', 'JS', { payerEmail: 'prefilled@example.com' });
  const page = await s.newPage('payer');
  await open(page, pr.url);
  await checkAccessibility(page, 'the pay page');

  const email = page.getByLabel('Email for your receipt (optional)');
  assert.equal(await email.inputValue(), 'prefilled@example.com', 'the request payerEmail is prefilled');
  await email.fill('jo.receipt@example.com');

  // Spaced as typed, with the brand named.
  const number = page.getByLabel('Card number');
  await number.pressSequentially('4242424242424242');
  assert.equal(await number.inputValue(), '4242 4242 4242 4242');
  await visible(page.locator('#card-brand', { hasText: 'Visa' }), 'the card brand under the number');
  await number.fill('');
  await number.pressSequentially('378282246310005');
  assert.equal(await number.inputValue(), '3782 822463 10005', 'American Express is 4-6-5');
  await visible(page.locator('#card-brand', { hasText: 'American Express' }), 'the Amex brand');

  await payByCard(page, { number: '4242424242424242' });
  await waitForPath(page, /\/confirmation$/, 'the receipt');
  const receiptNumber = await visible(page.locator('#receipt-number'), 'the receipt number');
  assert.match(await receiptNumber.innerText(), /^[A-Z0-9]{4}-[A-Z0-9]{4}$/);
  await visible(page.getByText('$42.00'), 'the amount on the receipt');
  await checkAccessibility(page, 'the receipt');

  const done = await api('GET', `/v1/payment-requests/${pr.id}`);
  const payment = await api('GET', `/v1/payments/${done.body.paymentId}`);
  assert.equal(payment.body.payerEmail, 'jo.receipt@example.com', 'the email typed reaches the payment');
  assert.ok(
    payment.body.id.toUpperCase().endsWith((await receiptNumber.innerText()).replace('-', '')),
    'the receipt number is the end of the payment id',
  );

  // Paid: the link says so.
  await open(page, pr.url);
  await visible(page.getByText('This payment has already been completed'), 'the "already completed" page');
  await checkAccessibility(page, 'the "already completed" page');
});

browserTest('pay page: paying with JavaScript off — card, and bank account chosen with the radio group', async (s) => {
  const page = await s.newPage('payer-nojs', { javaScriptEnabled: false });
  const card = await newRequest('15.00', 'NOJS-CARD');
  await open(page, card.url);
  assert.equal(await page.locator('script[src="/static/pay.js"]').count(), 1);
  await payByCard(page, { number: '4242 4242 4242 4242' });
  await waitForPath(page, /\/confirmation$/, 'the receipt without JavaScript');

  const bank = await newRequest('16.00', 'NOJS-ACH');
  await open(page, bank.url);
  assert.ok(await page.getByLabel('Name on card').isVisible(), 'the card fields show first');
  assert.ok(!(await page.getByLabel('Routing number').isVisible()), 'the bank fields are hidden');
  await page.getByRole('radio', { name: 'Bank account (ACH)' }).check();
  assert.ok(!(await page.getByLabel('Name on card').isVisible()), 'CSS alone hides the card fields');
  await page.getByLabel('Account holder name').fill('Jo Bank');
  await page.getByLabel('Routing number').fill('110000000');
  await page.getByLabel('Account number').fill('000123456789');
  await page.getByLabel('I authorize this debit').check();
  await clickAndWait(page, page.getByRole('button', { name: PAY_BUTTON }));
  await waitForPath(page, /\/confirmation$/, 'the bank receipt without JavaScript');
  await visible(page.getByText('Bank payment submitted'), 'the processing receipt');
  // axe-core runs in the page, so it is run on the same receipt in a browser with JavaScript.
  const checker = await s.newPage('checker');
  await open(checker, page.url());
  await checkAccessibility(checker, 'the bank receipt');
  const r = await api('GET', `/v1/payment-requests/${bank.id}`);
  assert.equal(r.body.status, 'processing');
});

browserTest('pay page: the "Pay by" chooser works with the keyboard', async (s) => {
  const pr = await newRequest('9.00', 'KEYS');
  const page = await s.newPage('payer');
  await open(page, pr.url);
  const cardRadio = page.getByRole('radio', { name: 'Card' });
  const bankRadio = page.getByRole('radio', { name: 'Bank account (ACH)' });
  await visible(page.getByRole('group', { name: 'Pay by' }), 'the "Pay by" radio group');
  await cardRadio.focus();
  assert.ok(await cardRadio.isChecked(), 'card is the first choice');
  await page.keyboard.press('ArrowRight');
  assert.ok(await bankRadio.isChecked(), 'an arrow key chooses the bank account');
  assert.equal(await focusedId(page), 'method-ach');
  assert.ok(await page.getByLabel('Routing number').isVisible());
  assert.ok(!(await page.getByLabel('Card number').isVisible()));
  // Tab goes on into the bank fields, not to the hidden card fields.
  await page.keyboard.press('Tab');
  assert.equal(await focusedId(page), 'accountHolderName');
  await page.keyboard.press('Shift+Tab');
  await page.keyboard.press('ArrowLeft');
  assert.ok(await cardRadio.isChecked());
  assert.ok(await page.getByLabel('Card number').isVisible());
});

browserTest('pay page: a server-side error keeps the entries, never the numbers, and the summary takes focus', async (s) => {
  const pr = await newRequest('33.00', 'KEEP');
  for (const [label, options] of [['payer', {}], ['payer-nojs', { javaScriptEnabled: false }]]) {
    const page = await s.newPage(label, options);
    await open(page, pr.url);
    await page.getByLabel('Email for your receipt (optional)').fill('kept@example.com');
    await payByCard(page, { number: '4000000000000002', name: 'Jo Kept', expiry: '11/31', cvc: '987', zip: 'K1A0B1' });
    const summary = await visible(page.getByRole('alert'), 'the error summary');
    assert.match(await summary.innerText(), /There is a problem/);
    assert.match(await summary.innerText(), /declined/i);
    if (options.javaScriptEnabled === false) {
      assert.ok(page.url().endsWith('#error-summary'), 'without JavaScript the summary is the fragment shown');
    } else {
      assert.equal(await focusedId(page), 'error-summary', 'the summary takes focus');
    }
    assert.equal(await page.getByLabel('Name on card').inputValue(), 'Jo Kept');
    assert.equal(await page.getByLabel('Expiry (MM/YY)').inputValue(), '11/31');
    assert.equal(await page.getByLabel('ZIP / postal code').inputValue(), 'K1A0B1');
    assert.equal(await page.getByLabel('Email for your receipt (optional)').inputValue(), 'kept@example.com');
    assert.equal(await page.getByLabel('Card number').inputValue(), '', 'the card number is not kept');
    assert.equal(await page.getByLabel('CVC').inputValue(), '', 'the CVC is not kept');
    const html = await page.content();
    assert.ok(!html.includes('4000000000000002') && !html.includes('4000 0000 0000 0002'), 'no card number in the page');
    if (label === 'payer') await checkAccessibility(page, 'the pay page after a decline');
  }

  // Field errors: each is linked from the summary, and a link moves focus to its field.
  const page = await s.newPage('payer-fields');
  const other = await newRequest('34.00', 'FIELDS');
  await open(page, other.url);
  await page.getByLabel('Card number').fill('4242424242424242');
  await page.getByLabel('Expiry (MM/YY)').fill('12/30');
  await page.getByLabel('Email for your receipt (optional)').fill('not-an-email');
  await clickAndWait(page, page.getByRole('button', { name: PAY_BUTTON }));
  assert.equal(await focusedId(page), 'error-summary');
  await page.getByRole('link', { name: 'Enter the name on the card.' }).click();
  assert.equal(await focusedId(page), 'cardholderName');
  await visible(page.getByRole('link', { name: 'Must be a valid email address.' }), 'the email error in the summary');
  await checkAccessibility(page, 'the pay page with field errors');
});

browserTest('pay page: a number that fails the check digit is stopped before it is sent', async (s) => {
  const pr = await newRequest('12.00', 'LUHN');
  const page = await s.newPage('payer');
  await open(page, pr.url);
  const posts = [];
  page.on('request', (req) => { if (req.method() === 'POST') posts.push(req.url()); });
  await page.getByLabel('Name on card').fill('Jo Payer');
  await page.getByLabel('Card number').fill('4242424242424241');
  await page.getByLabel('Expiry (MM/YY)').fill('01/20');
  await page.getByLabel('CVC').fill('123');
  await page.getByLabel('ZIP / postal code').fill('94107');
  await page.getByRole('button', { name: PAY_BUTTON }).click();
  const summary = await visible(page.getByRole('alert'), 'the error summary shown by the script');
  assert.match(await summary.innerText(), /Card number is not valid\./);
  assert.match(await summary.innerText(), /Card has expired\./);
  assert.equal(await focusedId(page), 'error-summary');
  assert.equal(await page.getByLabel('Card number').getAttribute('aria-invalid'), 'true');
  assert.equal(posts.length, 0, 'nothing was sent');
  await checkAccessibility(page, 'the pay page with errors found before sending');
  // Corrected, it pays.
  await page.getByLabel('Card number').fill('4242424242424242');
  await page.getByLabel('Expiry (MM/YY)').fill('12/30');
  await clickAndWait(page, page.getByRole('button', { name: PAY_BUTTON }));
  await waitForPath(page, /\/confirmation$/, 'the receipt after correcting');
  const r = await api('GET', `/v1/payment-requests/${pr.id}`);
  assert.equal(r.body.attemptCount, 1, 'only the corrected form reached the server');
});

browserTest('pay page: the message pages pass axe-core', async (s) => {
  const page = await s.newPage('payer');
  await open(page, `/p/${env.slug}/pay/pr_000000000000000000000000`, { status: 404 });
  await visible(page.getByText('Page not found'), 'the not found page');
  await checkAccessibility(page, 'the not found page');
  const pr = await newRequest('5.00', 'CANCEL');
  const r = await api('POST', `/v1/payment-requests/${pr.id}/cancel`);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  await open(page, pr.url);
  await visible(page.getByText('This payment request was canceled'), 'the canceled page');
  await checkAccessibility(page, 'the canceled page');
});

browserTest('logo: uploaded on Settings, shown on the pay page from Kassa; removed, the name shows', async (s) => {
  const partner = await s.newPage('partner');
  await signIn(partner);
  await open(partner, '/dashboard/settings');
  const svg = '<svg xmlns="http://www.w3.org/2000/svg" width="120" height="40" onload="alert(1)">'
    + '<script>alert(2)</script><rect width="120" height="40" fill="#0b7a4b"/></svg>';
  await partner.getByLabel('Logo file').setInputFiles({ name: 'logo.svg', mimeType: 'image/svg+xml', buffer: Buffer.from(svg) });
  await clickAndWait(partner, partner.getByRole('button', { name: 'Upload logo' }));
  await visible(partner.getByText('Logo saved.'), 'the "Logo saved." status');
  await visible(partner.locator('#current-logo'), 'the current logo on Settings');
  await checkAccessibility(partner, 'Settings with a logo');

  const pr = await newRequest('8.00', 'LOGO');
  const payer = await s.newPage('payer');
  await open(payer, pr.url);
  // The partner's name as this very page shows it: another test file may rename the partner
  // at any moment, so a name read from the API before the page could already be stale.
  const payee = async () => (await payer.locator('h1.payee').innerText()).replace(/^Payment to /, '');
  const logo = await visible(payer.getByRole('img', { name: await payee(), exact: true }), 'the logo, named by the partner');
  const src = await logo.getAttribute('src');
  assert.match(src, /^\/static\/logo\/[a-z0-9-]+\/[0-9a-f]{64}$/, 'served by Kassa');
  assert.ok(await logo.evaluate((img) => img.complete && img.naturalWidth > 0), 'the logo loads');
  const served = await fetch(`${env.url}${src}`);
  const body = await served.text();
  assert.ok(!body.includes('script') && !body.includes('onload'), `the SVG is sanitised: ${body}`);
  assert.match(served.headers.get('content-security-policy'), /sandbox/);

  await open(partner, '/dashboard/settings');
  // Removing it asks first.
  await clickAndWait(partner, partner.getByRole('link', { name: 'Remove logo' }));
  await visible(partner.getByRole('heading', { level: 1, name: 'Remove your logo?' }), 'the confirmation step');
  await clickAndWait(partner, partner.getByRole('button', { name: 'Remove logo' }));
  await visible(partner.getByText('Logo removed.'), 'the "Logo removed." status');
  await open(payer, pr.url);
  assert.equal(await payer.locator('header img').count(), 0, 'no image without a logo');
  const name = await visible(payer.locator('header .brand-name'), 'the partner name in the header');
  assert.equal(await name.innerText(), await payee());
  await checkAccessibility(payer, 'the pay page without a logo');
});
