//! The dashboard's Transactions search box (every kind of term, with `%` and `_` taken
//! literally), the totals of what a search shows, date presets and dates as days of the
//! partner's timezone (in the page, the CSV and the home chart), and what the home page says
//! needs attention.

mod common;

use std::time::Duration;

use axum::http::{Method, StatusCode};
use common::*;
use kassa_server::admin;
use serde_json::{json, Value};

const PASSWORD: &str = "correct horse battery";

async fn signed_in<'a>(app: &'a TestApp, p: &TestPartner) -> Browser<'a> {
    let email = format!("{}@acme.example", p.partner.slug);
    admin::create_user(
        app.store.as_ref(),
        &p.partner.id,
        &email,
        PASSWORD,
        kassa_core::role::Role::Owner,
        &kassa_core::audit::Caller::cli("test", start_time()),
    )
    .await
    .unwrap();
    let mut b = Browser::new(app);
    let r = b.sign_in(&email, PASSWORD).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    b
}

/// A request for `amount` under `reference` (with the payer's email when given), paid by card.
async fn paid(app: &TestApp, p: &TestPartner, amount: &str, reference: &str, email: Option<&str>) {
    let mut body = json!({"amount": amount, "referenceId": reference});
    if let Some(email) = email {
        body["payerEmail"] = json!(email);
    }
    let r = app
        .api(&p.key, Method::POST, "/v1/payment-requests", Some(body))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let done = Payer::new(app)
        .pay_card(&pay_path(&r.json()), "4242424242424242")
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
}

/// The reference of every row the page lists, in order.
fn listed(html: &str) -> Vec<String> {
    html.split("<td data-label=\"Reference ID\">")
        .skip(1)
        .map(|rest| rest.split("</td>").next().unwrap().to_string())
        .collect()
}

/// The payments of the partner, by reference.
async fn payments(app: &TestApp, p: &TestPartner) -> Vec<Value> {
    app.api(&p.key, Method::GET, "/v1/payments?limit=100", None)
        .await
        .json()["data"]
        .as_array()
        .unwrap()
        .clone()
}

fn search(q: &str) -> String {
    format!(
        "/dashboard/transactions?{}",
        form_urlencoded::Serializer::new(String::new())
            .append_pair("q", q)
            .finish()
    )
}

on_both_backends!(one_search_box_reads_every_kind_of_term, |app| {
    let p = app.partner().await;
    paid(&app, &p, "10.00", "QUOTE-100", None).await;
    paid(&app, &p, "20.00", "QUOTE-200", Some("Ann@Client.example")).await;
    paid(&app, &p, "12.50", "50%_OFF", None).await;
    paid(&app, &p, "12.51", "50X-OFF", None).await;
    paid(&app, &p, "1250.00", "A_B", None).await;
    paid(&app, &p, "7.00", "AXB", None).await;
    let bank = app.create_request(&p, "30.00", "BANK-1").await;
    Payer::new(&app)
        .pay_ach(&pay_path(&bank), "000123456789")
        .await;
    let all = payments(&app, &p).await;
    let of = |reference: &str| {
        all.iter()
            .find(|v| v["referenceId"] == reference)
            .unwrap()
            .clone()
    };
    let mut b = signed_in(&app, &p).await;

    let cases: Vec<(String, Vec<&str>)> = vec![
        // Part of a reference, any case.
        ("quote-1".into(), vec!["QUOTE-100"]),
        // Part of the payer's email, any case; and the name on the card.
        ("ann@client".into(), vec!["QUOTE-200"]),
        // The last 4 of the bank account.
        ("6789".into(), vec!["BANK-1"]),
        // Dollars, with a sign or a decimal point; a bare number is not an amount.
        ("$12.50".into(), vec!["50%_OFF"]),
        ("12.50".into(), vec!["50%_OFF"]),
        ("$1,250.00".into(), vec!["A_B"]),
        ("1250".into(), vec![]),
        // % and _ are letters, not wildcards.
        ("50%".into(), vec!["50%_OFF"]),
        ("a_b".into(), vec!["A_B"]),
        ("%".into(), vec!["50%_OFF"]),
        // Ids, exactly.
        (of("AXB")["id"].as_str().unwrap().to_string(), vec!["AXB"]),
        (
            of("QUOTE-200")["paymentRequestId"]
                .as_str()
                .unwrap()
                .to_string(),
            vec!["QUOTE-200"],
        ),
        ("pay_nothing".into(), vec![]),
    ];
    for (q, expected) in &cases {
        let page = b.get(&search(q)).await;
        assert_eq!(page.status, StatusCode::OK, "{q}");
        let mut got = listed(&page.body);
        got.sort();
        let mut want: Vec<String> = expected.iter().map(|s| s.to_string()).collect();
        want.sort();
        assert_eq!(got, want, "search {q:?}");
    }
    // Every card payment carries the card holder's name, and the search finds it.
    assert_eq!(listed(&b.get(&search("jo payer")).await.body).len(), 7);
    let page = b.get(&search("QUOTE-200")).await.body;
    assert!(
        page.contains("Jo Payer") && page.contains("Ann@Client.example"),
        "the payer's name and email are listed: {page}"
    );
    // The CSV finds the same.
    let csv = b.get("/dashboard/transactions.csv?q=%2412.50").await.body;
    assert_eq!(csv.lines().count(), 2, "{csv}");
    assert!(csv.contains(",50%_OFF,Jo Payer,,card,4242,"), "{csv}");
    // A term too long is cut, not refused; a filter that does not read is.
    assert_eq!(
        b.get(&search(&"x".repeat(500))).await.status,
        StatusCode::OK
    );
    assert_eq!(
        b.get("/dashboard/transactions?period=yesterday")
            .await
            .status,
        StatusCode::BAD_REQUEST
    );

    // Another partner's search finds none of it, whatever the term.
    let other = app.partner().await;
    let mut o = signed_in(&app, &other).await;
    for (q, _) in &cases {
        assert!(listed(&o.get(&search(q)).await.body).is_empty(), "{q}");
    }
});

on_both_backends!(totals_add_up_what_the_filters_show, |app| {
    let p = app.partner().await;
    paid(&app, &p, "10.00", "TOT-1", None).await;
    paid(&app, &p, "25.00", "TOT-2", None).await;
    paid(&app, &p, "99.00", "OTHER", None).await;
    let declined = app.create_request(&p, "40.00", "TOT-3").await;
    Payer::new(&app)
        .pay_card(&pay_path(&declined), "4000000000000002")
        .await;
    let refund_of = payments(&app, &p)
        .await
        .into_iter()
        .find(|v| v["referenceId"] == "TOT-2")
        .unwrap();
    let r = app
        .api(
            &p.key,
            Method::POST,
            &format!("/v1/payments/{}/refunds", refund_of["id"].as_str().unwrap()),
            Some(json!({"amount": "5.00"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let mut b = signed_in(&app, &p).await;

    let page = b.get(&search("tot-")).await.body;
    let totals = extract(&page, "<dl class=\"totals\"", "</dl>").expect("the totals");
    for (label, value) in [
        ("Transactions", "3"),
        ("Succeeded", "2"),
        ("Gross", "$35.00"),
        ("Refunded", "$5.00"),
        ("Net", "$30.00"),
    ] {
        assert!(
            totals.contains(&format!("<dt>{label}</dt><dd class=\"num\">{value}</dd>")),
            "{label} {value}: {totals}"
        );
    }
    // With a status too, and over every page (not just the first 50).
    let failed = b
        .get("/dashboard/transactions?q=tot-&status=failed")
        .await
        .body;
    assert!(failed.contains("<dt>Transactions</dt><dd class=\"num\">1</dd>"));
    assert!(failed.contains("<dt>Gross</dt><dd class=\"num\">$0.00</dd>"));
    let everything = b.get("/dashboard/transactions").await.body;
    assert!(everything.contains("<dt>Gross</dt><dd class=\"num\">$134.00</dd>"));
});

on_both_backends!(dates_are_days_of_the_partners_timezone, |app| {
    let p = app.partner().await;
    let r = app
        .api(
            &p.key,
            Method::PATCH,
            "/v1/partner",
            Some(json!({"timezone": "America/New_York"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    // 2026-11-21 12:00 UTC is 7:00 AM in New York (EST, UTC-5).
    paid(&app, &p, "10.00", "MORNING", None).await;
    // 02:00 UTC on the 22nd is still 9:00 PM on the 21st in New York.
    app.advance(Duration::from_secs(14 * 3600));
    paid(&app, &p, "20.00", "EVENING", None).await;
    // 06:00 UTC on the 22nd: 1:00 AM on the 22nd in New York.
    app.advance(Duration::from_secs(4 * 3600));
    paid(&app, &p, "40.00", "NIGHT", None).await;
    let mut b = signed_in(&app, &p).await;

    let refs = |html: &str| {
        let mut l = listed(html);
        l.sort();
        l
    };
    let today = b.get("/dashboard/transactions?period=today").await.body;
    assert_eq!(refs(&today), ["NIGHT"]);
    assert!(
        today.contains("value=\"2026-11-22\""),
        "the preset fills in its dates: {today}"
    );
    assert!(today.contains("aria-current=\"true\">Today</a>"));
    let the_21st = b
        .get("/dashboard/transactions?from=2026-11-21&to=2026-11-21")
        .await
        .body;
    assert_eq!(refs(&the_21st), ["EVENING", "MORNING"]);
    for preset in ["7d", "30d", "month", "all"] {
        let page = b
            .get(&format!("/dashboard/transactions?period={preset}"))
            .await
            .body;
        assert_eq!(refs(&page).len(), 3, "{preset}");
    }
    // A preset keeps the search, and custom dates give way to it.
    let kept = b
        .get("/dashboard/transactions?q=ning&period=today&from=2026-01-01")
        .await
        .body;
    assert!(refs(&kept).is_empty(), "both are on the 21st");
    assert!(
        kept.contains("href=\"/dashboard/transactions?q=ning&#38;period=7d\"")
            || kept.contains("href=\"/dashboard/transactions?q=ning&amp;period=7d\""),
        "{kept}"
    );
    let week = b.get("/dashboard/transactions?q=ning&period=7d").await.body;
    assert_eq!(refs(&week), ["EVENING", "MORNING"]);

    // Times are the zone's, and the page says which zone.
    let all = b.get("/dashboard/transactions").await.body;
    assert!(all.contains("Times in America/New_York"), "{all}");
    assert!(all.contains("Nov 21, 2026, 9:00 PM EST"), "{all}");
    assert!(all.contains("Nov 21, 2026, 7:00 AM EST"));
    // The CSV says the offset.
    let csv = b.get("/dashboard/transactions.csv?q=evening").await.body;
    assert!(
        csv.lines()
            .nth(1)
            .unwrap()
            .ends_with(",2026-11-21T21:00:00-05:00,2026-11-21T21:00:00-05:00"),
        "{csv}"
    );
    // So do the audit log's.
    let audit = b.get("/dashboard/audit.csv").await.body;
    assert!(audit.contains("-05:00,"), "{audit}");

    // The home chart counts the zone's days: two payments on Nov 21, one on Nov 22.
    let home = b.get("/dashboard").await.body;
    for text in [
        "<td data-label=\"Day\">Nov 22</td><td class=\"num\" data-label=\"Payments\">1</td><td class=\"num\" data-label=\"Amount\">$40.00</td>",
        "<td data-label=\"Day\">Nov 21</td><td class=\"num\" data-label=\"Payments\">2</td><td class=\"num\" data-label=\"Amount\">$30.00</td>",
        "<td data-label=\"Day\">Nov 20</td><td class=\"num\" data-label=\"Payments\">0</td>",
        "Nov 22: $40.00 (1 payment)",
        "role=\"img\"",
        "Days in America/New_York",
    ] {
        assert!(home.contains(text), "{text} missing: {home}");
    }
    assert!(
        home.contains("<span class=\"hint\">(3 payments)</span></dt><dd class=\"num\">$70.00</dd>"),
        "{home}"
    );
});

on_both_backends!(home_says_what_needs_attention, |app| {
    let p = app.partner().await;
    let mut b = signed_in(&app, &p).await;
    assert!(b
        .get("/dashboard")
        .await
        .body
        .contains("Nothing needs your attention."));

    // A returned bank debit, a switched-off webhook endpoint, challenge mode.
    let bank = app.create_request(&p, "30.00", "BANK-R").await;
    Payer::new(&app)
        .pay_ach(&pay_path(&bank), "000222222227")
        .await;
    let debit = payments(&app, &p).await[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = app
        .api(
            &p.key,
            Method::POST,
            &format!("/v1/sandbox/payments/{debit}/return"),
            Some(json!({"code": "R01"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let returned = app.get_request(&p, bank["id"].as_str().unwrap()).await;
    assert_eq!(
        returned["status"], "open",
        "the debit came back: {returned}"
    );
    let made = app
        .api(
            &p.key,
            Method::POST,
            "/v1/webhook-endpoints",
            Some(json!({"url": "https://hooks.acme.example/kassa", "events": ["*"]})),
        )
        .await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);
    app.raw_sql(&format!(
        "UPDATE webhook_endpoints SET status = 'disabled', disabled_reason = 'failing for 3 days' WHERE id = '{}'",
        made.json()["id"].as_str().unwrap()
    ))
    .await
    .unwrap();
    let until = kassa_core::clock::to_micros(start_time()) + 3_600_000_000_i64 * 24;
    app.raw_sql(&format!(
        "UPDATE partners SET challenge_mode_until = {until} WHERE id = '{}'",
        p.partner.id
    ))
    .await
    .unwrap();

    let home = b.get("/dashboard").await.body;
    for text in [
        "1 bank payment was returned in the last 30 days.",
        "href=\"/dashboard/transactions?method=ach&#38;status=failed&#38;period=30d\"",
        "1 webhook endpoint is switched off",
        "href=\"/dashboard/webhooks\">Review webhook endpoints</a>",
        "Challenge mode is on until",
        "See today&#39;s declined payments",
    ] {
        assert!(
            home.contains(text) || home.contains(&text.replace("&#38;", "&amp;")),
            "{text} missing: {home}"
        );
    }
    assert!(!home.contains("Nothing needs your attention."));

    // The dashboard's own stylesheet (stacked rows on phones) is linked by its pages only.
    assert!(home.contains("<link rel=\"stylesheet\" href=\"/static/dashboard.css\">"));
    let css = app.get("/static/dashboard.css").await;
    assert_eq!(css.status, StatusCode::OK);
    assert!(css.header("content-type").unwrap().starts_with("text/css"));
    assert!(css.body.contains("attr(data-label)"));
    let pay_page = Payer::new(&app).open(&pay_path(&bank)).await.body;
    assert!(pay_page.contains("/static/kassa.css") && !pay_page.contains("dashboard.css"));
    // Another partner's home has none of it.
    let other = app.partner().await;
    let mut o = signed_in(&app, &other).await;
    assert!(o
        .get("/dashboard")
        .await
        .body
        .contains("Nothing needs your attention."));
});
