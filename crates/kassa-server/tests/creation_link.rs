//! Every row of the creation-link table (docs/api.md §2), signed links, where unsigned links may
//! send payers back to (docs/api.md §8), and partner lookup by host.

mod common;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use common::*;
use kassa_server::vault::link_signature;
use serde_json::{json, Value};

/// Sets the partner's `allowedRedirectHosts` through the API.
async fn allow_redirect_hosts(app: &TestApp, p: &TestPartner, hosts: Value) -> Value {
    let r = app
        .api(
            &p.key,
            Method::PATCH,
            "/v1/partner",
            Some(json!({ "allowedRedirectHosts": hosts })),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.json()
}

async fn partner_json(app: &TestApp, p: &TestPartner) -> Value {
    app.api(&p.key, Method::GET, "/v1/partner", None)
        .await
        .json()
}

async fn count_requests(app: &TestApp, p: &TestPartner) -> usize {
    let list = app
        .api(&p.key, Method::GET, "/v1/payment-requests?limit=100", None)
        .await
        .json();
    list["data"].as_array().unwrap().len()
}

on_both_backends!(creation_link_table, |app| {
    let p = app.partner().await;
    let base = format!("/p/{}/payment-request", p.partner.slug);

    // referenceId missing or empty → 400 page, nothing created.
    for q in [
        "amount=250.00",
        "amount=250.00&referenceId=",
        "amount=250.00&referenceId=%20",
    ] {
        let r = app.get(&format!("{base}?{q}")).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{q}");
        assert!(r.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html"));
        assert!(r.body.contains("reference id"), "{}", r.body);
    }
    // amount missing or invalid → 400 page, nothing created.
    for q in [
        "referenceId=Q1",
        "referenceId=Q1&amount=",
        "referenceId=Q1&amount=abc",
        "referenceId=Q1&amount=-5",
        "referenceId=Q1&amount=1e3",
        "referenceId=Q1&amount=250.001",
        "referenceId=Q1&amount=0",
        "referenceId=Q1&amount=1%2C000.00",
    ] {
        let r = app.get(&format!("{base}?{q}")).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{q}: {}", r.body);
        assert!(r.body.contains("amount"), "{q}");
    }
    assert_eq!(count_requests(&app, &p).await, 0);

    // New reference → created, 303 to its page.
    let r = app
        .get(&format!("{base}?amount=250.00&referenceId=QUOTE-123"))
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let location = r.location();
    assert!(
        location.starts_with(&format!("/p/{}/pay/pr_", p.partner.slug)),
        "{location}"
    );
    let id = location.rsplit('/').next().unwrap();
    let pr = app.get_request(&p, id).await;
    assert_eq!(pr["amount"], "250.00");
    assert_eq!(pr["referenceId"], "QUOTE-123");

    // Same reference and amount → 303 to the same page, nothing created.
    let r = app
        .get(&format!("{base}?referenceId=QUOTE-123&amount=250"))
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.location(), location);
    assert_eq!(count_requests(&app, &p).await, 1);

    // Same reference, other amount → 409 page, nothing changed.
    let r = app
        .get(&format!("{base}?amount=300.00&referenceId=QUOTE-123"))
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert!(r.body.contains("QUOTE-123"));
    assert_eq!(app.get_request(&p, id).await["amount"], "250.00");
    assert_eq!(count_requests(&app, &p).await, 1);

    // Also after payment the link leads to the completed page, never a new request.
    let mut payer = Payer::new(&app);
    assert_eq!(
        payer.pay_card(&location, "4242424242424242").await.status,
        StatusCode::SEE_OTHER
    );
    let r = app
        .get(&format!("{base}?amount=250.00&referenceId=QUOTE-123"))
        .await;
    assert_eq!(r.location(), location);
    let page = app.get(&location).await;
    assert!(page
        .body
        .contains("This payment has already been completed"));
    assert_eq!(count_requests(&app, &p).await, 1);

    // A redirect URL to an allowed host rides along; a bad one is refused.
    allow_redirect_hosts(&app, &p, json!(["acme.example"])).await;
    let r = app
        .get(&format!(
            "{base}?amount=5.00&referenceId=R2&redirectUrl=https%3A%2F%2Facme.example%2Fthanks"
        ))
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let pr = app
        .get_request(&p, r.location().rsplit('/').next().unwrap())
        .await;
    assert_eq!(pr["redirectUrl"], "https://acme.example/thanks");
    let r = app
        .get(&format!(
            "{base}?amount=5.00&referenceId=R3&redirectUrl=http%3A%2F%2Fevil.example"
        ))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = app
        .get(&format!("{base}?amount=5.00&amount=6.00&referenceId=R4"))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(count_requests(&app, &p).await, 2);

    // Unknown partner → 404 page.
    let r = app
        .get("/p/no-such-partner/payment-request?amount=1.00&referenceId=A")
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
});

on_both_backends!(signed_links, |app| {
    let p = app.partner_with(|i| i.require_signed_links = true).await;
    let secret = p.link_secret.clone();
    let base = format!("/p/{}/payment-request", p.partner.slug);

    // Missing or wrong signature → 403, nothing created.
    let r = app
        .get(&format!("{base}?amount=250.00&referenceId=QUOTE-123"))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let wrong = link_signature("not-the-secret", "amount=250.00&referenceId=QUOTE-123");
    let r = app
        .get(&format!(
            "{base}?amount=250.00&referenceId=QUOTE-123&signature={wrong}"
        ))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // Signed for another amount → 403.
    let sig = link_signature(&secret, "amount=250.00&referenceId=QUOTE-123");
    let r = app
        .get(&format!(
            "{base}?amount=999.00&referenceId=QUOTE-123&signature={sig}"
        ))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(count_requests(&app, &p).await, 0);

    // Right signature → created; parameter order in the URL does not matter.
    let r = app
        .get(&format!(
            "{base}?signature={sig}&referenceId=QUOTE-123&amount=250.00"
        ))
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);

    // The redirect URL is covered by the signature, with values as encoded in the URL.
    let msg = "amount=10.00&referenceId=Q%202&redirectUrl=https%3A%2F%2Facme.example%2Fthanks";
    let sig = link_signature(&secret, msg);
    let r = app.get(&format!("{base}?{msg}&signature={sig}")).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let pr = app
        .get_request(&p, r.location().rsplit('/').next().unwrap())
        .await;
    assert_eq!(pr["referenceId"], "Q 2");
    let r = app.get(&format!("{base}?amount=10.00&referenceId=Q%202&redirectUrl=https%3A%2F%2Fevil.example&signature={sig}")).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);

    // The link the CLI prints is signed correctly.
    let link = kassa_server::links::creation_link(
        "http://kassa.test",
        &app.app.state().vault,
        &p.partner,
        "12.50",
        "INV 7/2",
        Some("https://acme.example/x?y=1"),
    )
    .unwrap();
    let r = app
        .get(link.strip_prefix("http://kassa.test").unwrap())
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{link}: {}", r.body);
    assert_eq!(count_requests(&app, &p).await, 3);

    // A partner that does not require signatures ignores them.
    let open = app.partner().await;
    let r = app
        .get(&format!(
            "/p/{}/payment-request?amount=1.00&referenceId=A&signature=junk",
            open.partner.slug
        ))
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
});

on_both_backends!(partner_found_by_billing_host, |app| {
    let host = format!(
        "pay-{}.acme.example",
        kassa_core::id::random_base62(8).to_lowercase()
    );
    let p = app
        .partner_with(|i| i.billing_host = Some(host.clone()))
        .await;
    // Until the host is verified it serves nothing: the "not found" page of an unknown host, and
    // links stay under Kassa's own host.
    let req = |uri: &str| {
        Request::get(uri)
            .header("host", &host)
            .body(Body::empty())
            .unwrap()
    };
    let pending = app
        .send(req("/payment-request?amount=42.00&referenceId=HOST-0"))
        .await;
    let unknown = app
        .send(
            Request::get("/payment-request?amount=42.00&referenceId=HOST-0")
                .header("host", "unknown.example")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(pending.status, StatusCode::NOT_FOUND);
    assert_eq!(pending.body, unknown.body);
    assert_eq!(count_requests(&app, &p).await, 0);
    let made = app
        .api(
            &p.key,
            Method::POST,
            "/v1/payment-requests",
            Some(serde_json::json!({"amount": "5.00", "referenceId": "HOST-P"})),
        )
        .await
        .json();
    let slug = p.partner.slug.as_str();
    assert!(
        made["url"]
            .as_str()
            .unwrap()
            .starts_with(&format!("http://kassa.test/p/{slug}/pay/")),
        "{made}"
    );
    let pay = app
        .send(req(&format!("/pay/{}", made["id"].as_str().unwrap())))
        .await;
    assert_eq!(pay.status, StatusCode::NOT_FOUND);
    // Kassa's own host keeps serving the partner's pages meanwhile.
    assert_eq!(
        app.get(made["url"].as_str().unwrap()).await.status,
        StatusCode::OK
    );

    app.verify_host(&p).await;
    let r = app
        .send(req("/payment-request?amount=42.00&referenceId=HOST-1"))
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let location = r.location();
    assert!(location.starts_with("/pay/pr_"), "{location}");
    let id = location.rsplit('/').next().unwrap();
    let pr = app.get_request(&p, id).await;
    assert_eq!(pr["url"], format!("https://{host}/pay/{id}"));
    let page = app
        .send(
            Request::get(&location)
                .header("host", &host)
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("$42.00"));
    // Another host does not know the request.
    let page = app
        .send(
            Request::get(&location)
                .header("host", "unknown.example")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    // Nor does another partner's path.
    let q = app.partner().await;
    let page = app.get(&format!("/p/{}/pay/{id}", q.partner.slug)).await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
});

on_both_backends!(hosts_and_paths_are_matched_strictly, |app| {
    let host = format!(
        "pay-{}.acme.example",
        kassa_core::id::random_base62(8).to_lowercase()
    );
    let p = app.partner_on_host(&host).await;
    let q = app.partner().await;
    // The browser may send a default port, other case or a trailing dot.
    for h in [
        format!("{host}:443"),
        host.to_uppercase(),
        format!("{host}."),
    ] {
        let req = Request::get("/payment-request?amount=1.00&referenceId=H-1")
            .header("host", &h)
            .body(Body::empty())
            .unwrap();
        assert_eq!(app.send(req).await.status, StatusCode::SEE_OTHER, "{h}");
    }
    // A partner's billing host does not serve another partner's /p/{slug} pages.
    let req = Request::get(format!(
        "/p/{}/payment-request?amount=1.00&referenceId=H-2",
        q.partner.slug
    ))
    .header("host", &host)
    .body(Body::empty())
    .unwrap();
    assert_eq!(app.send(req).await.status, StatusCode::NOT_FOUND);
    assert_eq!(count_requests(&app, &q).await, 0);
    // Unreadable or hostile paths and values are plain 4xx pages.
    for path in [
        "/p/%00/payment-request?amount=1.00&referenceId=A".to_string(),
        "/p/NOT%20A%20SLUG/payment-request?amount=1.00&referenceId=A".to_string(),
        "/static/brand/%00".to_string(),
        format!("/p/{}/pay/%FF", q.partner.slug),
        format!("/p/{}/pay/%00", q.partner.slug),
    ] {
        let r = app.get(&path).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}");
    }
    let r = app
        .get(&format!(
            "/p/{}/payment-request?amount=1.00&referenceId=%FF%FE",
            q.partner.slug
        ))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("<html"));
    let r = app
        .get(&format!(
            "/p/{}/payment-request?amount=1.00&referenceId=A%00B",
            q.partner.slug
        ))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(count_requests(&app, &q).await, 0);
    let _ = p;
});

/// An unsigned creation link for `redirect` (percent-encoded here).
fn unsigned(p: &TestPartner, reference: &str, redirect: &str) -> String {
    let redirect: String = form_urlencoded::byte_serialize(redirect.as_bytes()).collect();
    format!(
        "/p/{}/payment-request?amount=5.00&referenceId={reference}&redirectUrl={redirect}",
        p.partner.slug
    )
}

on_both_backends!(unsigned_links_redirect_only_to_allowed_hosts, |app| {
    let p = app.partner().await;
    // Nothing allowed yet and no default redirect: an unsigned link may name no redirect at all,
    // though it still works without one.
    let r = app
        .get(&unsigned(&p, "R0", "https://shop.acme.example/done"))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    let r = app
        .get(&format!(
            "/p/{}/payment-request?amount=5.00&referenceId=R0",
            p.partner.slug
        ))
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(count_requests(&app, &p).await, 1);

    let r = app
        .api(
            &p.key,
            Method::PATCH,
            "/v1/partner",
            Some(json!({"allowedRedirectHosts": ["Shop.Acme.Example"],
                        "defaultRedirectUrl": "https://www.acme.example/thanks"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);

    // A listed host, in any case and on the scheme's own port, and the default redirect's host.
    for (reference, redirect) in [
        ("R1", "https://shop.acme.example/done?order=1"),
        ("R2", "https://SHOP.acme.example:443/done"),
        ("R3", "https://www.acme.example/elsewhere"),
    ] {
        let r = app.get(&unsigned(&p, reference, redirect)).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{redirect}: {}", r.body);
        let pr = app
            .get_request(&p, r.location().rsplit('/').next().unwrap())
            .await;
        assert_eq!(pr["redirectUrl"], redirect);
    }
    assert_eq!(count_requests(&app, &p).await, 4);

    // Any other host is a 400 page naming it, and nothing is made: not a parent or a subdomain
    // of a listed host, not a host that merely contains one.
    for (reference, redirect) in [
        ("E1", "https://evil.example/done"),
        ("E2", "https://acme.example/"),
        ("E3", "https://sub.shop.acme.example/"),
        ("E4", "https://shop.acme.example.evil.example/"),
        (
            "E5",
            "https://evil.example/?next=https://shop.acme.example/",
        ),
        ("E6", "http://localhost:3000/"),
        // Another port of a listed host is another service.
        ("E7", "https://shop.acme.example:8443/done"),
    ] {
        let r = app.get(&unsigned(&p, reference, redirect)).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{redirect}");
        assert!(r.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html"));
        assert!(
            r.body.contains("may not send you"),
            "{redirect}: {}",
            r.body
        );
        let host = redirect
            .split('/')
            .nth(2)
            .unwrap()
            .split(':')
            .next()
            .unwrap();
        assert!(r.body.contains(host), "{redirect}: names the host");
    }
    // A signature the partner's secret did not make is no signature.
    let r = app
        .get(&format!(
            "{}&signature=junk",
            unsigned(&p, "E7", "https://evil.example/")
        ))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    // Markup in the address is never echoed.
    let r = app
        .get(&unsigned(
            &p,
            "E8",
            "https://evil.example/<script>alert(1)</script>",
        ))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(!r.body.contains("<script>alert"), "{}", r.body);
    assert_eq!(count_requests(&app, &p).await, 4);

    // A link signed with the partner's secret may name any valid redirect, even when the
    // partner does not require signatures.
    let msg = "amount=7.00&referenceId=S1&redirectUrl=https%3A%2F%2Fpartner-site.example%2Fdone";
    let sig = link_signature(&p.link_secret, msg);
    let r = app
        .get(&format!(
            "/p/{}/payment-request?{msg}&signature={sig}",
            p.partner.slug
        ))
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let pr = app
        .get_request(&p, r.location().rsplit('/').next().unwrap())
        .await;
    assert_eq!(pr["redirectUrl"], "https://partner-site.example/done");

    // The API names any valid redirect.
    let r = app
        .api(
            &p.key,
            Method::POST,
            "/v1/payment-requests",
            Some(json!({"amount": "3.00", "referenceId": "API-1",
                        "redirectUrl": "https://partner-site.example/api"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.json()["redirectUrl"], "https://partner-site.example/api");
    assert_eq!(count_requests(&app, &p).await, 6);

    // The link builder refuses to make an unsigned link that would be refused…
    let build = |redirect: &str| {
        app.api(
            &p.key,
            Method::POST,
            "/v1/creation-links",
            Some(json!({"amount": "5.00", "referenceId": "B1", "redirectUrl": redirect})),
        )
    };
    let r = build("https://evil.example/").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert_eq!(
        r.json()["error"]["errors"][0]["code"],
        "redirect_host_not_allowed"
    );
    let r = build("https://shop.acme.example/").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    // …and signs one for a partner that requires signatures, whatever its redirect.
    let signing = app.partner_with(|i| i.require_signed_links = true).await;
    let r = app
        .api(
            &signing.key,
            Method::POST,
            "/v1/creation-links",
            Some(json!({"amount": "5.00", "referenceId": "B2",
                        "redirectUrl": "https://evil.example/"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let link = r.json()["url"].as_str().unwrap().to_string();
    let r = app
        .get(link.strip_prefix("http://kassa.test").unwrap())
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{link}: {}", r.body);
});

on_both_backends!(allowed_redirect_hosts_are_a_partner_setting, |app| {
    let p = app.partner().await;
    assert_eq!(
        partner_json(&app, &p).await["allowedRedirectHosts"],
        json!([])
    );
    // Lowercased, trimmed, a repeat dropped, in the order given.
    let set = allow_redirect_hosts(
        &app,
        &p,
        json!([
            "Shop.Acme.Example",
            " www.acme.example ",
            "shop.acme.example"
        ]),
    )
    .await;
    assert_eq!(
        set["allowedRedirectHosts"],
        json!(["shop.acme.example", "www.acme.example"])
    );
    // Another field's change keeps the list.
    let r = app
        .api(
            &p.key,
            Method::PATCH,
            "/v1/partner",
            Some(json!({"name": "Acme Two"})),
        )
        .await;
    assert_eq!(
        r.json()["allowedRedirectHosts"],
        json!(["shop.acme.example", "www.acme.example"])
    );

    // Every bad entry is named by its index, and nothing changes.
    let before = partner_json(&app, &p).await;
    let many: Vec<String> = (0..51).map(|i| format!("h{i}.example")).collect();
    for (body, expected) in [
        (
            json!({"allowedRedirectHosts": ["ok.example", "https://shop.acme.example", "shop.acme.example/x",
                                            "shop.acme.example:443", "*.acme.example", ""]}),
            vec![
                ("allowedRedirectHosts[1]", "invalid_host"),
                ("allowedRedirectHosts[2]", "invalid_host"),
                ("allowedRedirectHosts[3]", "invalid_host"),
                ("allowedRedirectHosts[4]", "invalid_host"),
                ("allowedRedirectHosts[5]", "invalid_host"),
            ],
        ),
        (
            json!({"allowedRedirectHosts": many}),
            vec![("allowedRedirectHosts", "too_many_hosts")],
        ),
        (
            json!({"allowedRedirectHosts": "shop.acme.example"}),
            vec![("allowedRedirectHosts", "invalid_type")],
        ),
        (
            json!({"allowedRedirectHosts": [5]}),
            vec![("allowedRedirectHosts[0]", "invalid_type")],
        ),
        (
            json!({"allowedRedirectHosts": ["ok.example", "<b>x</b>"], "name": "Changed"}),
            vec![("allowedRedirectHosts[1]", "invalid_host")],
        ),
    ] {
        let r = app
            .api(&p.key, Method::PATCH, "/v1/partner", Some(body.clone()))
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body}: {}", r.body);
        let got: Vec<(String, String)> = r.json()["error"]["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                (
                    e["field"].as_str().unwrap().to_string(),
                    e["code"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        let expected: Vec<(String, String)> = expected
            .iter()
            .map(|(f, c)| (f.to_string(), c.to_string()))
            .collect();
        assert_eq!(got, expected, "{body}");
    }
    assert_eq!(partner_json(&app, &p).await, before, "nothing changed");

    // null and [] clear it.
    let cleared = allow_redirect_hosts(&app, &p, Value::Null).await;
    assert_eq!(cleared["allowedRedirectHosts"], json!([]));
    allow_redirect_hosts(&app, &p, json!(["a.example"])).await;
    let cleared = allow_redirect_hosts(&app, &p, json!([])).await;
    assert_eq!(cleared["allowedRedirectHosts"], json!([]));
});
