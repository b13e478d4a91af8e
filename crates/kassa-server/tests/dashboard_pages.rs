//! The dashboard's working pages: a payment's details and timeline, the refund wizard, payment
//! requests (create, copy, cancel, the creation-link builder) and payout statements — each with
//! the API's rules, and nothing changed by a refused form.

mod common;

use axum::http::{Method, StatusCode};
use common::*;
use kassa_server::admin;
use serde_json::Value;

const PASSWORD: &str = "correct horse battery";

async fn signed_in<'a>(app: &'a TestApp, p: &TestPartner, email: &str) -> Browser<'a> {
    admin::create_user(
        app.store.as_ref(),
        &p.partner.id,
        email,
        PASSWORD,
        kassa_core::role::Role::Owner,
        &kassa_core::audit::Caller::cli("test", start_time()),
    )
    .await
    .unwrap();
    let mut b = Browser::new(app);
    let r = b.sign_in(email, PASSWORD).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    b
}

/// The value of the hidden or text input `name` in a page.
fn input(html: &str, name: &str) -> String {
    let at = html
        .find(&format!("name=\"{name}\""))
        .unwrap_or_else(|| panic!("no input {name}"));
    extract(&html[at..], "value=\"", "\"").unwrap()
}

async fn refunds(app: &TestApp, p: &TestPartner, payment: &str) -> Vec<Value> {
    let list = app
        .api(
            &p.key,
            Method::GET,
            &format!("/v1/refunds?paymentId={payment}"),
            None,
        )
        .await
        .json();
    list["data"].as_array().unwrap().clone()
}

async fn request_count(app: &TestApp, p: &TestPartner) -> usize {
    app.api(&p.key, Method::GET, "/v1/payment-requests?limit=100", None)
        .await
        .json()["data"]
        .as_array()
        .unwrap()
        .len()
}

async fn partner_settings(app: &TestApp, p: &TestPartner) -> Value {
    app.api(&p.key, Method::GET, "/v1/partner", None)
        .await
        .json()
}

fn html_unescape(s: &str) -> String {
    s.replace("&#38;", "&")
        .replace("&amp;", "&")
        .replace("&#61;", "=")
        .replace("&#47;", "/")
}

on_both_backends!(details_timeline_refund_wizard_and_statement, |app| {
    let p = app.partner().await;
    let pr = app.create_request(&p, "250.00", "QUOTE-7").await;
    let mut payer = Payer::new(&app);
    payer.pay_card(&pay_path(&pr), "4000000000000002").await;
    let paid = payer.pay_card(&pay_path(&pr), "4242424242424242").await;
    assert_eq!(paid.status, StatusCode::SEE_OTHER, "{}", paid.body);
    let payment_id = app.get_request(&p, pr["id"].as_str().unwrap()).await["paymentId"]
        .as_str()
        .unwrap()
        .to_string();
    let mut b = signed_in(&app, &p, "r@acme.example").await;

    let list = b.get("/dashboard/transactions?q=QUOTE-7").await.body;
    assert!(list.contains(&format!("href=\"/dashboard/transactions/{payment_id}\"")));
    assert!(list.contains("See details"));
    let details_path = format!("/dashboard/transactions/{payment_id}");
    let details = b.get(&details_path).await;
    assert_eq!(details.status, StatusCode::OK);
    for text in [
        "$250.00",
        "QUOTE-7",
        "class=\"timeline\"",
        "Earlier attempt with Visa •••• 0002 failed",
        "Payment of $250.00 by Visa •••• 4242",
        "Completed: $250.00 captured",
        "Refund payment",
    ] {
        assert!(
            details.body.contains(text),
            "{text} missing:\n{}",
            details.body
        );
    }

    // Step 1: the details, prefilled with all that is left.
    let refund_path = format!("{details_path}/refund");
    let form = b.get(&refund_path).await;
    assert_eq!(form.status, StatusCode::OK);
    assert_eq!(input(&form.body, "amount"), "250.00");
    let token = csrf(&form.body);

    // Bad details re-show the form with the API's rules and change nothing.
    let long = "x".repeat(501);
    let bad = b
        .post(
            &refund_path,
            &[
                ("csrfToken", &token),
                ("amount", "1e3"),
                ("reason", &long),
                ("step", "review"),
            ],
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.body.contains("field-error") && bad.body.contains("Amount "));
    assert!(
        bad.body.contains("Reason must be at most 500 characters"),
        "{}",
        bad.body
    );
    let over = b
        .post(
            &refund_path,
            &[
                ("csrfToken", &token),
                ("amount", "250.01"),
                ("reason", ""),
                ("step", "review"),
            ],
        )
        .await;
    assert_eq!(over.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(over
        .body
        .contains("At most $250.00 of this payment is left to refund."));
    let forged = b
        .post(
            &refund_path,
            &[
                ("csrfToken", "nope"),
                ("amount", "10.00"),
                ("step", "apply"),
            ],
        )
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    assert!(refunds(&app, &p, &payment_id).await.is_empty());

    // Step 2: review; nothing is refunded until Apply Refund.
    let review = b
        .post(
            &refund_path,
            &[
                ("csrfToken", &token),
                ("amount", "10"),
                ("reason", "Damaged part"),
                ("step", "review"),
            ],
        )
        .await;
    assert_eq!(review.status, StatusCode::OK);
    assert!(review.body.contains("Review refund") && review.body.contains("Apply Refund"));
    assert!(review.body.contains("$10.00") && review.body.contains("$240.00"));
    assert!(refunds(&app, &p, &payment_id).await.is_empty());
    let key = input(&review.body, "key");
    let apply = [
        ("csrfToken", token.as_str()),
        ("amount", "10.00"),
        ("reason", "Damaged part"),
        ("key", key.as_str()),
        ("step", "apply"),
    ];
    let applied = b.post(&refund_path, &apply).await;
    assert_eq!(applied.status, StatusCode::SEE_OTHER, "{}", applied.body);
    let made = refunds(&app, &p, &payment_id).await;
    assert_eq!(made.len(), 1);
    assert_eq!(made[0]["amount"], "10.00");
    assert_eq!(made[0]["reason"], "Damaged part");
    assert_eq!(made[0]["status"], "succeeded");
    let refund_id = made[0]["id"].as_str().unwrap();
    assert_eq!(
        applied.location(),
        format!("{details_path}?refund={refund_id}")
    );
    // Pressing Apply Refund twice (or reloading) refunds once.
    let again = b.post(&refund_path, &apply).await;
    assert_eq!(again.location(), applied.location());
    assert_eq!(refunds(&app, &p, &payment_id).await.len(), 1);
    let after = b.get(&applied.location()).await.body;
    assert!(after.contains("role=\"status\">Refund of $10.00 applied."));
    assert!(after.contains("Refund of $10.00 succeeded — Damaged part"));
    assert!(after.contains(refund_id));
    // A confirmation names only a refund of this payment.
    assert!(!b
        .get(&format!("{details_path}?refund=re_forged"))
        .await
        .body
        .contains("role=\"status\""));
    // Back from the review keeps what was typed.
    let back = b
        .post(
            &refund_path,
            &[
                ("csrfToken", &token),
                ("amount", "5.00"),
                ("reason", "Oops"),
                ("step", "edit"),
            ],
        )
        .await;
    assert!(back.body.contains("value=\"5.00\"") && back.body.contains("value=\"Oops\""));

    // The payout deducts the refund; the statement shows it as a deduction.
    admin::run_payouts(
        app.store.as_ref(),
        Some(&p.partner.id),
        start_time(),
        start_time(),
    )
    .await
    .unwrap();
    let payouts = b.get("/dashboard/payouts").await.body;
    assert!(payouts.contains("View statement") && payouts.contains("$240.00"));
    let statement_path = extract(&payouts, "href=\"/dashboard/payouts/po_", "\"")
        .map(|id| format!("/dashboard/payouts/po_{id}"))
        .unwrap();
    let statement = b.get(&statement_path).await.body;
    for text in [
        "Payout statement",
        "<td data-label=\"Type\">Payment</td>",
        "<td data-label=\"Type\">Refund</td>",
        "<td data-label=\"Reference ID\">QUOTE-7</td>",
        "-$10.00",
        "$250.00",
        "$240.00",
        &format!("href=\"/dashboard/transactions/{payment_id}\""),
        &format!("href=\"{statement_path}/statement.csv\""),
    ] {
        assert!(statement.contains(text), "{text} missing:\n{statement}");
    }
    // The statement as CSV: a line per payment and refund, with its fee and net.
    let csv = b.get(&format!("{statement_path}/statement.csv")).await;
    assert_eq!(csv.status, StatusCode::OK);
    assert!(csv.header("content-type").unwrap().starts_with("text/csv"));
    let refund_id = made[0]["id"].as_str().unwrap();
    let lines: Vec<&str> = csv.body.lines().collect();
    assert_eq!(
        lines[0],
        "type,id,payment_id,reference_id,payer_name,payer_email,amount,fee,net,currency,time"
    );
    assert_eq!(lines.len(), 3, "{}", csv.body);
    assert!(
        lines[1].starts_with(&format!(
            "payment,{payment_id},{payment_id},QUOTE-7,Jo Payer,,250.00,0.00,250.00,USD,"
        )),
        "{}",
        csv.body
    );
    assert!(
        lines[2].starts_with(&format!(
            "refund,{refund_id},{payment_id},QUOTE-7,Jo Payer,,-10.00,0.00,-10.00,USD,"
        )),
        "{}",
        csv.body
    );
    assert!(
        lines[1].ends_with(",2026-11-21T12:00:00Z"),
        "times carry their offset (UTC here): {}",
        lines[1]
    );
    let details = b.get(&details_path).await.body;
    assert!(details.contains("Paid out in payout po_"));

    // The rest can still be refunded; more than the rest cannot, even from a forged review.
    let key2 = input(
        &b.post(
            &refund_path,
            &[
                ("csrfToken", &token),
                ("amount", ""),
                ("reason", ""),
                ("step", "review"),
            ],
        )
        .await
        .body,
        "key",
    );
    let over = b
        .post(
            &refund_path,
            &[
                ("csrfToken", &token),
                ("amount", "240.01"),
                ("key", &key2),
                ("step", "apply"),
            ],
        )
        .await;
    assert_eq!(over.status, StatusCode::UNPROCESSABLE_ENTITY);
    let rest = b
        .post(
            &refund_path,
            &[
                ("csrfToken", &token),
                ("amount", "240.00"),
                ("key", &key2),
                ("step", "apply"),
            ],
        )
        .await;
    assert_eq!(rest.status, StatusCode::SEE_OTHER);
    assert_eq!(refunds(&app, &p, &payment_id).await.len(), 2);
    // Pressed again once nothing is left: the same confirmation, not an error, and no refund.
    let rest_again = b
        .post(
            &refund_path,
            &[
                ("csrfToken", &token),
                ("amount", "240.00"),
                ("key", &key2),
                ("step", "apply"),
            ],
        )
        .await;
    assert_eq!(rest_again.status, StatusCode::SEE_OTHER);
    assert_eq!(rest_again.location(), rest.location());
    assert_eq!(refunds(&app, &p, &payment_id).await.len(), 2);
    let done = b.get(&refund_path).await;
    assert_eq!(done.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(done.body.contains("refunded in full"));

    // Another partner's user sees none of it.
    let other = app.partner().await;
    let mut o = signed_in(&app, &other, "o@other.example").await;
    assert_eq!(o.get(&details_path).await.status, StatusCode::NOT_FOUND);
    assert_eq!(o.get(&refund_path).await.status, StatusCode::NOT_FOUND);
    assert_eq!(o.get(&statement_path).await.status, StatusCode::NOT_FOUND);
    assert_eq!(
        o.get(&format!("{statement_path}/statement.csv"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        o.get("/dashboard/transactions/pay_nonsense").await.status,
        StatusCode::NOT_FOUND
    );
});

on_both_backends!(a_bank_payment_is_refundable_once_cleared, |app| {
    let p = app.partner().await;
    let pr = app.create_request(&p, "80.00", "BANK-9").await;
    Payer::new(&app)
        .pay_ach(&pay_path(&pr), "000123456789")
        .await;
    let payment_id = app.get_request(&p, pr["id"].as_str().unwrap()).await["paymentId"]
        .as_str()
        .unwrap()
        .to_string();
    let mut b = signed_in(&app, &p, "b@acme.example").await;
    let details_path = format!("/dashboard/transactions/{payment_id}");
    let details = b.get(&details_path).await.body;
    assert!(details.contains("Bank debit of $80.00 submitted from Checking account •••• 6789"));
    assert!(details.contains("Waiting for the bank to clear the debit"));
    assert!(!details.contains("Refund payment"));
    let form = b.get(&format!("{details_path}/refund")).await;
    assert_eq!(form.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(form.body.contains("has not cleared yet"));
    let token = b.get("/dashboard").await;
    let token = csrf(&token.body);
    let refused = b
        .post(
            &format!("{details_path}/refund"),
            &[
                ("csrfToken", &token),
                ("amount", "1.00"),
                ("step", "review"),
            ],
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refunds(&app, &p, &payment_id).await.is_empty());
    app.api(
        &p.key,
        Method::POST,
        &format!("/v1/sandbox/payments/{payment_id}/settle"),
        None,
    )
    .await;
    let details = b.get(&details_path).await.body;
    assert!(details.contains("Cleared: $80.00 collected") && details.contains("Refund payment"));
});

on_both_backends!(payment_requests_from_the_dashboard, |app| {
    let p = app.partner().await;
    let mut b = signed_in(&app, &p, "pr@acme.example").await;
    let page = b.get("/dashboard/payment-requests/new").await;
    assert_eq!(page.status, StatusCode::OK);
    let token = csrf(&page.body);

    // Every invalid field is shown at once, and nothing is created.
    let bad = b
        .post(
            "/dashboard/payment-requests",
            &[
                ("csrfToken", &token),
                ("amount", "1e3"),
                ("referenceId", ""),
                ("description", ""),
                ("payerEmail", "not-an-email"),
                ("redirectUrl", "http://evil.example/x"),
            ],
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    for id in [
        "amount-error",
        "referenceId-error",
        "payerEmail-error",
        "redirectUrl-error",
    ] {
        assert!(bad.body.contains(&format!("id=\"{id}\"")), "{id} missing");
    }
    assert!(
        bad.body.contains("value=\"not-an-email\""),
        "typed values are kept"
    );
    assert_eq!(request_count(&app, &p).await, 0);
    let forged = b
        .post(
            "/dashboard/payment-requests",
            &[
                ("csrfToken", "x"),
                ("amount", "5.00"),
                ("referenceId", "F-1"),
            ],
        )
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    assert_eq!(request_count(&app, &p).await, 0);

    let fields = [
        ("csrfToken", token.as_str()),
        ("amount", "125.50"),
        ("referenceId", "INV-42"),
        ("description", "Boiler service"),
        ("payerEmail", "client@example.com"),
        ("redirectUrl", "https://acme.example/thanks"),
    ];
    let made = b.post("/dashboard/payment-requests", &fields).await;
    assert_eq!(made.status, StatusCode::SEE_OTHER, "{}", made.body);
    assert!(made.location().ends_with("?created=1"));
    let page = b.get(&made.location()).await.body;
    let link =
        html_unescape(&extract(&page, "id=\"payment-link\" readonly value=\"", "\"").unwrap());
    let api = app
        .api(
            &p.key,
            Method::GET,
            "/v1/payment-requests?referenceId=INV-42",
            None,
        )
        .await
        .json();
    let request = &api["data"][0];
    assert_eq!(link, request["url"].as_str().unwrap());
    assert_eq!(request["amount"], "125.50");
    assert_eq!(request["description"], "Boiler service");
    assert_eq!(request["redirectUrl"], "https://acme.example/thanks");
    assert!(page.contains("Payment request created") && page.contains("Cancel payment request"));

    // The same reference and amount opens the same request; another amount is refused.
    let same = b.post("/dashboard/payment-requests", &fields).await;
    assert!(same.location().ends_with("?existing=1"));
    assert_eq!(
        same.location().split('?').next(),
        made.location().split('?').next()
    );
    let mut other_amount = fields;
    other_amount[1] = ("amount", "99.00");
    let conflict = b.post("/dashboard/payment-requests", &other_amount).await;
    assert_eq!(conflict.status, StatusCode::CONFLICT);
    assert!(conflict
        .body
        .contains("already used by a request for $125.50"));
    assert_eq!(request_count(&app, &p).await, 1);

    // List and search.
    app.create_request(&p, "10.00", "OTHER-1").await;
    let all = b.get("/dashboard/payment-requests").await.body;
    assert!(all.contains("INV-42") && all.contains("OTHER-1"));
    let found = b.get("/dashboard/payment-requests?q=inv").await.body;
    assert!(found.contains("INV-42") && !found.contains("OTHER-1"));
    let open = b
        .get("/dashboard/payment-requests?status=completed")
        .await
        .body;
    assert!(open.contains("No payment requests match"));
    let bad = b.get("/dashboard/payment-requests?status=lost").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);

    // Cancel: only from its confirmation step, and only while open.
    let detail_path = made.location().split('?').next().unwrap().to_string();
    let cancel_path = format!("{detail_path}/cancel");
    assert!(b
        .get(&detail_path)
        .await
        .body
        .contains(&format!("href=\"{cancel_path}\"")));
    let one_click = b.post(&cancel_path, &[("csrfToken", &token)]).await;
    assert_eq!(one_click.status, StatusCode::SEE_OTHER);
    assert_eq!(one_click.location(), cancel_path);
    assert_eq!(
        app.get_request(&p, request["id"].as_str().unwrap()).await["status"],
        "open",
        "a POST without the confirmation changes nothing"
    );
    let confirm = b.get(&cancel_path).await;
    assert_eq!(confirm.status, StatusCode::OK);
    for text in [
        "Cancel payment request INV-42 for $125.50?",
        "This cannot be undone.",
        "name=\"confirm\" value=\"yes\"",
        &format!("action=\"{cancel_path}\""),
        &format!("href=\"{detail_path}\">Keep it</a>"),
    ] {
        assert!(
            confirm.body.contains(text),
            "{text} missing:\n{}",
            confirm.body
        );
    }
    let canceled = b
        .post(&cancel_path, &[("csrfToken", &token), ("confirm", "yes")])
        .await;
    assert_eq!(canceled.status, StatusCode::SEE_OTHER);
    let page = b.get(&canceled.location()).await.body;
    assert!(page.contains("Payment request canceled") && !page.contains("Cancel payment request"));
    assert_eq!(
        app.get_request(&p, request["id"].as_str().unwrap()).await["status"],
        "canceled"
    );
    let twice = b
        .post(&cancel_path, &[("csrfToken", &token), ("confirm", "yes")])
        .await;
    assert_eq!(twice.status, StatusCode::CONFLICT);
    assert_eq!(b.get(&cancel_path).await.status, StatusCode::CONFLICT);
    assert!(twice
        .body
        .contains("Only an open payment request can be canceled"));

    // Another partner's user cannot see or cancel it.
    let other = app.partner().await;
    let mut o = signed_in(&app, &other, "o2@other.example").await;
    assert_eq!(o.get(&detail_path).await.status, StatusCode::NOT_FOUND);
    let o_token = csrf(&o.get("/dashboard").await.body);
    assert_eq!(
        o.post(&cancel_path, &[("csrfToken", &o_token), ("confirm", "yes")])
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(o.get(&cancel_path).await.status, StatusCode::NOT_FOUND);
    assert!(!o
        .get("/dashboard/payment-requests")
        .await
        .body
        .contains("INV-42"));
});

on_both_backends!(the_creation_link_builder_signs_when_required, |app| {
    let open = app.partner().await;
    let mut b = signed_in(&app, &open, "l@acme.example").await;
    // An unsigned link may only lead back to an allowed host.
    let refused = b
        .get("/dashboard/payment-requests/link?amount=250&referenceId=Q%201&redirectUrl=https%3A%2F%2Facme.example%2Fthanks")
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert!(!refused.body.contains("id=\"creation-link\""));
    assert!(refused.body.contains("id=\"redirectUrl-error\""));
    assert!(
        refused.body.contains("allowed redirect host"),
        "{}",
        refused.body
    );
    let allowed = app
        .api(
            &open.key,
            Method::PATCH,
            "/v1/partner",
            Some(serde_json::json!({"allowedRedirectHosts": ["acme.example"]})),
        )
        .await;
    assert_eq!(allowed.status, StatusCode::OK, "{}", allowed.body);
    let page = b
        .get("/dashboard/payment-requests/link?amount=250&referenceId=Q%201&redirectUrl=https%3A%2F%2Facme.example%2Fthanks")
        .await;
    assert_eq!(page.status, StatusCode::OK);
    let link = html_unescape(
        &extract(&page.body, "id=\"creation-link\" readonly value=\"", "\"").unwrap(),
    );
    assert!(
        link.ends_with(&format!(
            "/p/{}/payment-request?amount=250.00&referenceId=Q%201&redirectUrl=https%3A%2F%2Facme.example%2Fthanks",
            open.partner.slug
        )),
        "{link}"
    );
    let bad = b
        .get("/dashboard/payment-requests/link?amount=-5&referenceId=&redirectUrl=ftp%3A%2F%2Fx")
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(!bad.body.contains("id=\"creation-link\""));
    for id in ["amount-error", "referenceId-error", "redirectUrl-error"] {
        assert!(bad.body.contains(&format!("id=\"{id}\"")), "{id} missing");
    }

    let strict = app.partner_with(|p| p.require_signed_links = true).await;
    let mut s = signed_in(&app, &strict, "s@acme.example").await;
    let page = s
        .get("/dashboard/payment-requests/link?amount=40.00&referenceId=SIGNED-1")
        .await
        .body;
    assert!(page.contains("requires signed links"));
    let link =
        html_unescape(&extract(&page, "id=\"creation-link\" readonly value=\"", "\"").unwrap());
    assert!(link.contains("&signature="), "{link}");
    // The built link works: it creates the request and opens its pay page.
    let path = link.strip_prefix("http://kassa.test").unwrap();
    let opened = app.get(path).await;
    assert_eq!(opened.status, StatusCode::SEE_OTHER, "{}", opened.body);
    assert!(opened.location().contains("/pay/pr_"));
    // Tampered, it does not.
    let tampered = app.get(&path.replace("amount=40.00", "amount=4.00")).await;
    assert_eq!(tampered.status, StatusCode::FORBIDDEN);
});

on_both_backends!(settings_branding_links_keys_and_team, |app| {
    let p = app.partner().await;
    let mut b = signed_in(&app, &p, "owner@acme.example").await;
    let page = b.get("/dashboard/settings").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("value=\"Acme Services\""));
    let token = csrf(&page.body);
    let before = partner_settings(&app, &p).await;

    // A preview shows the typed branding and saves nothing.
    let preview = b
        .post(
            "/dashboard/settings",
            &[
                ("csrfToken", &token),
                ("name", "Acme Plumbing"),
                ("brandColor", "#0B7A4B"),
                ("logoUrl", ""),
                ("billingHost", ""),
                ("defaultRedirectUrl", ""),
                ("action", "preview"),
            ],
        )
        .await;
    assert_eq!(preview.status, StatusCode::OK);
    assert!(preview
        .body
        .contains("/static/brand-preview.css?color=%230b7a4b"));
    assert!(preview.body.contains("Acme Plumbing requests"));
    assert_eq!(partner_settings(&app, &p).await, before);
    let css = app.get("/static/brand-preview.css?color=%230b7a4b").await;
    assert_eq!(
        css.body,
        ".preview { --brand: #0b7a4b; --on-brand: #ffffff; --brand-ink: #0b7a4b; }\n"
    );
    assert!(!preview.body.contains("brand-color-warning"));
    // A colour too light to read: the preview warns, the button's text turns black and links
    // take a darker shade that reads on white.
    let pale = b
        .post(
            "/dashboard/settings",
            &[
                ("csrfToken", &token),
                ("name", "Acme Plumbing"),
                ("brandColor", "#FFE066"),
                ("logoUrl", ""),
                ("billingHost", ""),
                ("defaultRedirectUrl", ""),
                ("action", "preview"),
            ],
        )
        .await;
    assert_eq!(pale.status, StatusCode::OK);
    assert!(
        pale.body.contains("id=\"brand-color-warning\""),
        "{}",
        pale.body
    );
    assert!(pale.body.contains("is too light to read on white"));
    let css = app.get("/static/brand-preview.css?color=%23ffe066").await;
    assert!(
        css.body
            .starts_with(".preview { --brand: #ffe066; --on-brand: #000000; --brand-ink: #"),
        "{}",
        css.body
    );
    assert!(!css.body.contains("--brand-ink: #ffe066"));
    assert_eq!(
        app.get("/static/brand-preview.css?color=red;}body{x")
            .await
            .status,
        StatusCode::BAD_REQUEST
    );

    // Invalid fields are all shown and nothing is saved.
    let bad = b
        .post(
            "/dashboard/settings",
            &[
                ("csrfToken", &token),
                ("name", ""),
                ("brandColor", "blue"),
                ("logoUrl", "ftp://logo"),
                ("billingHost", "not a host"),
                ("defaultRedirectUrl", "http://evil.example"),
                ("action", "save"),
            ],
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    for id in [
        "name-error",
        "brandColor-error",
        "billingHost-error",
        "defaultRedirectUrl-error",
    ] {
        assert!(bad.body.contains(&format!("id=\"{id}\"")), "{id} missing");
    }
    assert!(bad.body.contains("Nothing was saved"));
    assert_eq!(partner_settings(&app, &p).await, before);
    let forged = b
        .post(
            "/dashboard/settings",
            &[("csrfToken", "x"), ("name", "Evil"), ("action", "save")],
        )
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);

    // Saved: the pay pages show it, and the default redirect URL gives the receipt its button.
    let saved = b
        .post(
            "/dashboard/settings",
            &[
                ("csrfToken", &token),
                ("name", "Acme Plumbing"),
                ("brandColor", "#0b7a4b"),
                ("logoUrl", "https://acme.example/logo.png"),
                ("billingHost", ""),
                ("defaultRedirectUrl", "https://acme.example/home"),
                ("action", "save"),
            ],
        )
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    assert!(b
        .get(&saved.location())
        .await
        .body
        .contains("role=\"status\">Settings saved."));
    let now = partner_settings(&app, &p).await;
    assert_eq!(now["name"], "Acme Plumbing");
    assert_eq!(now["brandColor"], "#0b7a4b");
    assert_eq!(now["defaultRedirectUrl"], "https://acme.example/home");
    assert_eq!(
        app.get(&format!("/static/brand/{}", p.partner.slug))
            .await
            .body,
        ":root { --brand: #0b7a4b; --on-brand: #ffffff; --brand-ink: #0b7a4b; }\n"
    );
    let pr = app.create_request(&p, "12.00", "DEFAULT-REDIRECT").await;
    let pay_page = app.get(&pay_path(&pr)).await.body;
    assert!(
        // A logo URL is never hot-linked (the logo is uploaded): the name shows.
        !pay_page.contains("https://acme.example/logo.png") && pay_page.contains("Acme Plumbing")
    );
    let paid = Payer::new(&app)
        .pay_card(&pay_path(&pr), "4242424242424242")
        .await;
    let receipt = app.get(&paid.location()).await.body;
    assert!(
        receipt.contains("href=\"https://acme.example/home\""),
        "{receipt}"
    );
    assert!(receipt.contains("Return to Acme Plumbing"));

    // A billing host another partner has is refused on that field.
    let other = app
        .partner_with(|i| i.billing_host = Some("pay.other.example".into()))
        .await;
    let taken = b
        .post(
            "/dashboard/settings",
            &[
                ("csrfToken", &token),
                ("name", "Acme Plumbing"),
                ("brandColor", "#0b7a4b"),
                ("billingHost", "pay.other.example"),
                ("action", "save"),
            ],
        )
        .await;
    assert_eq!(taken.status, StatusCode::CONFLICT);
    assert!(taken.body.contains("id=\"billingHost-error\""));

    // API keys: shown once, usable, revocable.
    let empty = b
        .post(
            "/dashboard/settings/api-keys",
            &[("csrfToken", &token), ("label", "")],
        )
        .await;
    assert_eq!(empty.status, StatusCode::BAD_REQUEST);
    assert!(empty.body.contains("id=\"label-error\"") && !empty.body.contains("new-api-key"));
    let made = b
        .post(
            "/dashboard/settings/api-keys",
            &[
                ("csrfToken", &token),
                ("label", "Billing system"),
                ("scope_read", "on"),
                ("scope_payments", "on"),
            ],
        )
        .await;
    assert_eq!(made.status, StatusCode::CREATED);
    assert!(
        made.body
            .contains("<td data-label=\"Scopes\">read, payments</td>"),
        "the new key's scopes are listed"
    );
    let key = extract(&made.body, "aria-describedby=\"new-api-key-hint\">", "<").unwrap();
    assert!(key.starts_with("sk_") && key.len() == 35, "{key}");
    assert_eq!(made.header("cache-control").as_deref(), Some("no-store"));
    assert_eq!(
        app.api(&key, Method::GET, "/v1/balance", None).await.status,
        StatusCode::OK
    );
    let listing = b.get("/dashboard/settings").await.body;
    assert!(listing.contains("Billing system") && !listing.contains(&key));
    let keys = app
        .api(&p.key, Method::GET, "/v1/api-keys", None)
        .await
        .json();
    let new_id = keys["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["label"] == "Billing system")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    // Revoking asks first: one click (a POST without the confirmation) changes nothing.
    let revoke_path = format!("/dashboard/settings/api-keys/{new_id}/revoke");
    assert!(b
        .get("/dashboard/settings")
        .await
        .body
        .contains(&format!("href=\"{revoke_path}\"")));
    let one_click = b.post(&revoke_path, &[("csrfToken", &token)]).await;
    assert_eq!(one_click.status, StatusCode::SEE_OTHER);
    assert_eq!(one_click.location(), revoke_path);
    assert_eq!(
        app.api(&key, Method::GET, "/v1/balance", None).await.status,
        StatusCode::OK
    );
    let confirm = b.get(&revoke_path).await;
    assert_eq!(confirm.status, StatusCode::OK);
    assert!(
        confirm.body.contains("Revoke the API key “Billing system”")
            && confirm.body.contains("name=\"confirm\" value=\"yes\"")
            && confirm.body.contains(">Keep it</a>"),
        "{}",
        confirm.body
    );
    let revoked = b
        .post(&revoke_path, &[("csrfToken", &token), ("confirm", "yes")])
        .await;
    assert_eq!(revoked.status, StatusCode::SEE_OTHER);
    assert_eq!(b.get(&revoke_path).await.status, StatusCode::NOT_FOUND);
    assert_eq!(
        app.api(&key, Method::GET, "/v1/balance", None).await.status,
        StatusCode::UNAUTHORIZED
    );
    let other_keys = app
        .api(&other.key, Method::GET, "/v1/api-keys", None)
        .await
        .json();
    let other_key_id = other_keys["data"][0]["id"].as_str().unwrap();
    let other_revoke = format!("/dashboard/settings/api-keys/{other_key_id}/revoke");
    assert_eq!(
        b.post(&other_revoke, &[("csrfToken", &token), ("confirm", "yes")])
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(b.get(&other_revoke).await.status, StatusCode::NOT_FOUND);
    assert_eq!(
        app.api(&other.key, Method::GET, "/v1/balance", None)
            .await
            .status,
        StatusCode::OK
    );

    // Team: add a user who can then sign in, never remove the last one.
    let short = b
        .post(
            "/dashboard/settings/users",
            &[
                ("csrfToken", &token),
                ("email", "new@acme.example"),
                ("password", "short"),
            ],
        )
        .await;
    assert_eq!(short.status, StatusCode::BAD_REQUEST);
    assert!(short.body.contains("id=\"user-password-error\""));
    let added = b
        .post(
            "/dashboard/settings/users",
            &[
                ("csrfToken", &token),
                ("email", "New@Acme.example"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(added.status, StatusCode::SEE_OTHER, "{}", added.body);
    let dup = b
        .post(
            "/dashboard/settings/users",
            &[
                ("csrfToken", &token),
                ("email", "new@acme.example"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(dup.status, StatusCode::CONFLICT);
    let mut n = Browser::new(&app);
    assert_eq!(
        n.sign_in("new@acme.example", PASSWORD).await.status,
        StatusCode::SEE_OTHER
    );
    let users = app.api(&p.key, Method::GET, "/v1/users", None).await.json();
    let id_of = |email: &str| {
        users["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|u| u["email"] == email)
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let (new_id, owner_id) = (id_of("new@acme.example"), id_of("owner@acme.example"));
    let remove_path = format!("/dashboard/settings/users/{new_id}/remove");
    let one_click = b.post(&remove_path, &[("csrfToken", &token)]).await;
    assert_eq!(one_click.location(), remove_path);
    assert_eq!(
        n.get("/dashboard").await.status,
        StatusCode::OK,
        "still a user"
    );
    let confirm = b.get(&remove_path).await.body;
    assert!(
        confirm.contains("Remove new@acme.example from your team?")
            && confirm.contains("They are signed out at once"),
        "{confirm}"
    );
    let removed = b
        .post(&remove_path, &[("csrfToken", &token), ("confirm", "yes")])
        .await;
    assert_eq!(removed.status, StatusCode::SEE_OTHER);
    // Their session ends with them.
    assert_eq!(n.get("/dashboard").await.status, StatusCode::SEE_OTHER);
    let last = b
        .post(
            &format!("/dashboard/settings/users/{owner_id}/remove"),
            &[("csrfToken", &token), ("confirm", "yes")],
        )
        .await;
    assert_eq!(last.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(b.get("/dashboard").await.status, StatusCode::OK);
});

on_both_backends!(
    webhook_endpoints_and_their_deliveries_from_the_dashboard,
    |app| {
        let p = app.partner().await;
        let mut b = signed_in(&app, &p, "hooks@acme.example").await;
        let page = b.get("/dashboard/webhooks").await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(page.body.contains("No endpoints yet"));
        let token = csrf(&page.body);

        // Bad input: every problem shown, nothing made.
        let bad = b
            .post(
                "/dashboard/webhooks",
                &[
                    ("csrfToken", &token),
                    ("url", "ftp://x"),
                    ("events", "payment.exploded"),
                ],
            )
            .await;
        assert_eq!(bad.status, StatusCode::BAD_REQUEST);
        assert!(bad.body.contains("id=\"url-error\"") && bad.body.contains("id=\"events-error\""));
        let none = b
            .post(
                "/dashboard/webhooks",
                &[("csrfToken", &token), ("url", "https://hooks.example/k")],
            )
            .await;
        assert_eq!(none.status, StatusCode::BAD_REQUEST, "no event chosen");
        let listed = app
            .api(&p.key, Method::GET, "/v1/webhook-endpoints", None)
            .await
            .json();
        assert!(ids(&listed).is_empty());

        // Made: the secret is shown once.
        let made = b
            .post(
                "/dashboard/webhooks",
                &[
                    ("csrfToken", &token),
                    ("url", "http://127.0.0.1:9/hook"),
                    ("description", "Accounting"),
                    ("events", "payment_request.created"),
                    ("events", "payment.completed"),
                ],
            )
            .await;
        assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);
        let secret = extract(
            &made.body,
            "aria-describedby=\"new-webhook-secret-hint\">",
            "<",
        )
        .unwrap();
        assert!(secret.starts_with("whsec_"), "{secret}");
        assert_eq!(made.header("cache-control").as_deref(), Some("no-store"));
        let listed = app
            .api(&p.key, Method::GET, "/v1/webhook-endpoints", None)
            .await
            .json();
        let id = ids(&listed)[0].clone();
        assert_eq!(
            listed["data"][0]["events"],
            serde_json::json!(["payment_request.created", "payment.completed"])
        );
        let list_page = b.get("/dashboard/webhooks").await.body;
        assert!(list_page.contains("http://127.0.0.1:9/hook") && !list_page.contains(&secret));

        // An event goes out; the refused connection is logged as an attempt and can be retried.
        app.create_request(&p, "9.00", "HOOK-1").await;
        app.run_jobs().await;
        let detail_path = format!("/dashboard/webhooks/{id}");
        let detail = b.get(&detail_path).await.body;
        assert!(detail.contains("payment_request.created"), "{detail}");
        assert!(detail.contains("ms</li>"), "an attempt is logged: {detail}");
        let delivery = extract(&detail, "/dashboard/webhooks/deliveries/", "/retry").unwrap();
        let retried = b
            .post(
                &format!("/dashboard/webhooks/deliveries/{delivery}/retry"),
                &[("csrfToken", &token)],
            )
            .await;
        assert_eq!(retried.status, StatusCode::SEE_OTHER);
        assert!(b
            .get(&retried.location())
            .await
            .body
            .contains("Delivery scheduled"));

        // Rotate: asked first; then a new secret, shown once; the old one signs for a day.
        let rotate_path = format!("{detail_path}/rotate-secret");
        assert!(detail.contains(&format!("href=\"{rotate_path}\"")));
        let one_click = b.post(&rotate_path, &[("csrfToken", &token)]).await;
        assert_eq!(one_click.location(), rotate_path);
        assert!(!b
            .get(&detail_path)
            .await
            .body
            .contains("Old secret also signs until"));
        let confirm = b.get(&rotate_path).await;
        assert_eq!(confirm.status, StatusCode::OK);
        assert!(confirm
            .body
            .contains("Rotate the signing secret of http://127.0.0.1:9/hook?"));
        let rotated = b
            .post(&rotate_path, &[("csrfToken", &token), ("confirm", "yes")])
            .await;
        assert_eq!(rotated.status, StatusCode::OK);
        let new_secret = extract(
            &rotated.body,
            "aria-describedby=\"new-webhook-secret-hint\">",
            "<",
        )
        .unwrap();
        assert!(new_secret.starts_with("whsec_") && new_secret != secret);
        assert!(rotated.body.contains("Old secret also signs until"));

        // Another partner sees none of it; forged forms change nothing.
        let other = app.partner().await;
        let mut o = signed_in(&app, &other, "o-hooks@other.example").await;
        assert_eq!(o.get(&detail_path).await.status, StatusCode::NOT_FOUND);
        let o_token = csrf(&o.get("/dashboard").await.body);
        let delete_path = format!("{detail_path}/delete");
        assert_eq!(
            o.post(&delete_path, &[("csrfToken", &o_token), ("confirm", "yes")])
                .await
                .status,
            StatusCode::NOT_FOUND
        );
        assert_eq!(o.get(&delete_path).await.status, StatusCode::NOT_FOUND);
        assert_eq!(
            b.post(&delete_path, &[("csrfToken", "x"), ("confirm", "yes")])
                .await
                .status,
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            b.get(&format!("{detail_path}/enable")).await.status,
            StatusCode::NOT_FOUND,
            "only destructive actions have a confirmation page"
        );

        // Delete: asked first too.
        let one_click = b.post(&delete_path, &[("csrfToken", &token)]).await;
        assert_eq!(one_click.location(), delete_path);
        assert_eq!(
            ids(&app
                .api(&p.key, Method::GET, "/v1/webhook-endpoints", None)
                .await
                .json())
            .len(),
            1
        );
        let confirm = b.get(&delete_path).await.body;
        assert!(confirm.contains("Delete the webhook endpoint http://127.0.0.1:9/hook?"));
        assert!(confirm.contains("This cannot be undone."));
        let deleted = b
            .post(&delete_path, &[("csrfToken", &token), ("confirm", "yes")])
            .await;
        assert_eq!(deleted.status, StatusCode::SEE_OTHER);
        assert!(b
            .get(&deleted.location())
            .await
            .body
            .contains("Endpoint deleted"));
        let listed = app
            .api(&p.key, Method::GET, "/v1/webhook-endpoints", None)
            .await
            .json();
        assert!(ids(&listed).is_empty());
    }
);

/// Saves the settings form with these allowed redirect hosts (as typed).
async fn save_hosts(b: &mut Browser<'_>, token: &str, hosts: &str) -> Resp {
    b.post(
        "/dashboard/settings",
        &[
            ("csrfToken", token),
            ("name", "Acme Services"),
            ("brandColor", "#1f4fd1"),
            ("allowedRedirectHosts", hosts),
            ("action", "save"),
        ],
    )
    .await
}

on_both_backends!(settings_allowed_redirect_hosts, |app| {
    let p = app.partner().await;
    let mut b = signed_in(&app, &p, "hosts@acme.example").await;
    let page = b.get("/dashboard/settings").await;
    assert!(page.body.contains("name=\"allowedRedirectHosts\""));
    let token = csrf(&page.body);

    // One a line, or separated by commas; kept lowercase, a repeat dropped.
    let saved = save_hosts(
        &mut b,
        &token,
        "Shop.Acme.Example\r\nwww.acme.example, shop.acme.example\n",
    )
    .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    assert_eq!(
        partner_settings(&app, &p).await["allowedRedirectHosts"],
        serde_json::json!(["shop.acme.example", "www.acme.example"])
    );
    let page = b.get("/dashboard/settings").await.body;
    assert!(
        page.contains(">shop.acme.example\nwww.acme.example</textarea>"),
        "{page}"
    );

    // Bad hosts are named at the field (escaped), and nothing is saved.
    let before = partner_settings(&app, &p).await;
    let bad = save_hosts(&mut b, &token, "ok.example\nhttps://x.example/<b>").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.body.contains("id=\"allowedRedirectHosts-error\""));
    assert!(bad.body.contains("Not a host name: https:"), "{}", bad.body);
    assert!(!bad.body.contains("<b>"), "{}", bad.body);
    assert_eq!(partner_settings(&app, &p).await, before);

    // Emptied, the list is cleared.
    let saved = save_hosts(&mut b, &token, "").await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    assert_eq!(
        partner_settings(&app, &p).await["allowedRedirectHosts"],
        serde_json::json!([])
    );
});

on_both_backends!(
    a_bank_debit_needs_the_payers_authorization_which_it_keeps,
    |app| {
        let p = app.partner().await;
        let pr = app.create_request(&p, "120.00", "ACH-AUTH-1").await;
        let page = pay_path(&pr);
        let mut payer = Payer::from(&app, "203.0.113.9");
        let form = payer.open(&page).await;
        // The wording names the partner, the amount, the date and how to revoke it.
        assert!(form
            .body
            .contains("authorize Acme Services to debit $120.00"));
        assert!(form.body.contains("November 21, 2026"));
        assert!(form.body.contains("revoke"));
        assert!(form
            .body
            .contains("name=\"achAuthorization\" value=\"accepted\" required"));

        // Without the box ticked, or with anything but "accepted": the form again, nothing recorded.
        let without: Vec<_> = ach_fields("110000000", "000123456789")
            .into_iter()
            .filter(|(k, _)| *k != "achAuthorization")
            .collect();
        let mut forged = without.clone();
        forged.push(("achAuthorization", "yes"));
        for fields in [without, forged] {
            let r = payer.submit(&page, &fields).await;
            assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
            assert!(r.body.contains("achAuthorization-error"));
            assert!(r.body.contains("Check the box to authorize the debit"));
        }
        let none = app.api(&p.key, Method::GET, "/v1/payments", None).await;
        assert_eq!(ids(&none.json()).len(), 0, "nothing was recorded");

        let r = payer.pay_ach(&page, "000123456789").await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        let list = app
            .api(&p.key, Method::GET, "/v1/payments", None)
            .await
            .json();
        let payment = &list["data"][0];
        assert_eq!(payment["status"], "pending");
        let kept = &payment["achAuthorization"];
        assert_eq!(kept["ip"], "203.0.113.9");
        assert_eq!(kept["userAgent"], Value::Null);
        assert_eq!(
            kept["textVersion"],
            kassa_core::ach::AUTHORIZATION_TEXT_VERSION
        );
        assert_eq!(kept["acceptedAt"], "2026-11-21T12:00:00Z");
        assert_eq!(payment["processor"]["connector"], "sandbox");

        // The timeline shows who authorized it, from where.
        let mut owner = signed_in(&app, &p, "owner@acme.example").await;
        let id = payment["id"].as_str().unwrap();
        let details = owner.get(&format!("/dashboard/transactions/{id}")).await;
        assert_eq!(details.status, StatusCode::OK);
        assert!(
            details
                .body
                .contains("The payer authorized the debit from 203.0.113.9"),
            "{}",
            details.body
        );
        // A card payment keeps none.
        let card = app.create_request(&p, "10.00", "CARD-NO-AUTH").await;
        let mut card_payer = Payer::new(&app);
        let r = card_payer
            .pay_card(&pay_path(&card), "4242424242424242")
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER);
        let list = app
            .api(&p.key, Method::GET, "/v1/payments", None)
            .await
            .json();
        assert_eq!(list["data"][0]["achAuthorization"], Value::Null);
    }
);

on_both_backends!(payout_statements_as_csv_are_safe_in_a_spreadsheet, |app| {
    let p = app.partner().await;
    let pr = app
        .create_request(&p, "42.00", "=HYPERLINK(\"http://evil.example\")")
        .await;
    let mut payer = Payer::new(&app);
    payer.open(&pay_path(&pr)).await;
    let mut fields = card_fields("4242424242424242");
    fields[1] = ("cardholderName", "@SUM(1+1)");
    let paid = payer.submit(&pay_path(&pr), &fields).await;
    assert_eq!(paid.status, StatusCode::SEE_OTHER, "{}", paid.body);
    admin::run_payouts(
        app.store.as_ref(),
        Some(&p.partner.id),
        start_time(),
        start_time(),
    )
    .await
    .unwrap();
    let mut b = signed_in(&app, &p, "csv@acme.example").await;
    let payouts = b.get("/dashboard/payouts").await.body;
    let id = extract(&payouts, "href=\"/dashboard/payouts/po_", "\"").unwrap();
    let csv = b
        .get(&format!("/dashboard/payouts/po_{id}/statement.csv"))
        .await;
    assert_eq!(csv.status, StatusCode::OK);
    assert!(csv
        .header("content-disposition")
        .unwrap()
        .contains(&format!("attachment; filename=\"payout-po_{id}.csv\"")));
    assert_eq!(csv.header("cache-control").as_deref(), Some("no-store"));
    let line = csv.body.lines().nth(1).unwrap();
    assert!(
        line.contains(
            ",\"'=HYPERLINK(\"\"http://evil.example\"\")\",'@SUM(1+1),,42.00,0.00,42.00,USD,"
        ),
        "{line}"
    );
    // A bad id, or a payout id that names nothing, is the dashboard's 404.
    for path in [
        "/dashboard/payouts/po_nope/statement.csv",
        "/dashboard/payouts/%3Cscript%3E/statement.csv",
    ] {
        assert_eq!(b.get(path).await.status, StatusCode::NOT_FOUND, "{path}");
    }
});
