// Email in a real browser against the running kassa and the test SMTP server e2e/run starts
// (docs/api.md §11): the payer gives an email on the pay page and the receipt arrives; staff
// press "Email link" on a payment request and the link arrives; neither email carries more of a
// card than its last 4.

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
  waitForEmail,
} from './helpers.mjs';

after(closeBrowser);

const RUN = randomSuffix(8).toLowerCase();
const CARD = '4242424242424242';

browserTest('1. the pay page takes an email and the receipt arrives at it', async (s) => {
  const reference = `MAIL-${RUN}-1`;
  const request = await createRequestByApi({ amount: '42.00', referenceId: reference });
  const to = `payer-${RUN}@example.com`;
  const page = await s.newPage('payer');
  await open(page, new URL(request.url).pathname);
  await page.getByLabel('Email for your receipt (optional)').fill(to);
  await payByCard(page, { number: CARD });
  await visible(page.getByText(/Payment (received|complete)/i), 'the receipt page');

  const mail = await waitForEmail(to, { subject: /^Receipt from Acme Plumbing/ });
  assert.match(mail.subject, /\$42\.00/);
  assert.ok(mail.text.includes(reference), 'the receipt names the reference');
  assert.ok(mail.text.includes('4242'), 'the receipt names the last 4');
  assert.ok(!mail.text.includes(CARD), 'the card number is never in an email');
  assert.ok(!mail.text.includes('424242424242'), 'no more than the last 4 of the card');

  const r = await api('GET', `/v1/payment-requests/${request.id}`);
  const payment = await api('GET', `/v1/payments/${r.body.paymentId}`);
  assert.equal(payment.body.payerEmail, to);
});

browserTest('2. "Email link" on a payment request sends the link, and the timeline shows it', async (s) => {
  const to = `link-${RUN}@example.com`;
  const request = await createRequestByApi({ amount: '18.25', referenceId: `MAIL-${RUN}-2`, payerEmail: to });
  const page = await s.newPage('partner');
  await signIn(page);
  await open(page, `/dashboard/payment-requests/${request.id}`);
  await clickAndWait(page, page.getByRole('button', { name: 'Email link' }));
  await visible(page.getByText(`The link is on its way to ${to}.`), 'the confirmation that the link was queued');
  await checkAccessibility(page, 'the payment request page after "Email link"');

  const mail = await waitForEmail(to, { subject: /requests \$18\.25/ });
  assert.ok(mail.text.includes(new URL(request.url).pathname), 'the email carries the pay link');

  await open(page, `/dashboard/payment-requests/${request.id}`);
  await visible(page.getByText(/Payment link.*sent/i), 'the email on the request page');
  assert.ok(env.url);
});
