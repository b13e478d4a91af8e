//! The abuse limits of docs/api.md §8, each at its default and at a configured value, on both
//! backends: API calls per key, failed authentications per client IP, unsigned creation links
//! per IP and per partner, declines per IP and per card (across links and partners), sign-in
//! failures per email and per IP (also 30 at once), and the client-IP rule behind a proxy. Every
//! refusal is a 429 with `Retry-After` (the API's error shape, or a plain page) and records
//! nothing.

mod common;

use std::time::Duration;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use common::*;
use kassa_core::limit::Rate;
use kassa_server::vault::link_signature;

fn rate(text: &str) -> Option<Rate> {
    Some(Rate::parse(text).unwrap())
}

fn api_get(key: &str, path: &str) -> Request<Body> {
    Request::get(path)
        .header(header::AUTHORIZATION, format!("Bearer {key}"))
        .body(Body::empty())
        .unwrap()
}

fn assert_limited(r: &Resp, context: &str) {
    assert_eq!(
        r.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{context}: {}",
        r.body
    );
    let wait: u64 = r
        .header("retry-after")
        .unwrap_or_else(|| panic!("{context}: no Retry-After"))
        .parse()
        .unwrap();
    assert!(wait >= 1, "{context}: Retry-After {wait}");
}

fn assert_api_limited(r: &Resp, context: &str) {
    assert_limited(r, context);
    let body = r.json();
    assert_eq!(body["error"]["type"], "rate_limited", "{context}");
    assert_eq!(body["error"]["code"], "rate_limited", "{context}");
}

async fn count_requests(app: &TestApp, p: &TestPartner) -> usize {
    let r = app
        .api(&p.key, Method::GET, "/v1/payment-requests?limit=100", None)
        .await;
    ids(&r.json()).len()
}

on_both_backends!(api_calls_per_key_at_a_configured_rate, |app| {
    let app = app.reconfigured(|c| {
        c.limits.api_calls = rate("5/1h");
        c.limits.api_call_burst = 5;
    });
    let p = app.partner().await;
    let other = app.partner().await;
    for i in 0..5 {
        let r = app.send(api_get(&p.key, "/v1/partner")).await;
        assert_eq!(r.status, StatusCode::OK, "call {i}");
    }
    let r = app.send(api_get(&p.key, "/v1/partner")).await;
    assert_api_limited(&r, "the 6th call");
    let wait: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!(
        (600..=720).contains(&wait),
        "one call per 12 minutes: {wait}"
    );
    // Another key has its own bucket.
    let r = app.send(api_get(&other.key, "/v1/partner")).await;
    assert_eq!(r.status, StatusCode::OK);
});

on_both_backends!(api_calls_per_key_allow_the_default_burst, |app| {
    let p = app.partner().await;
    // 100/s in bursts of 200: 200 calls in a row pass however fast they come.
    for i in 0..200 {
        let r = app.send(api_get(&p.key, "/v1/partner")).await;
        assert_eq!(r.status, StatusCode::OK, "call {i}: {}", r.body);
    }
});

on_both_backends!(failed_authentications_per_ip_at_the_default, |app| {
    let p = app.partner().await;
    let attacker = "198.51.100.7";
    for i in 0..20 {
        let r = app
            .send_from(attacker, api_get(&format!("sk_guess_{i}"), "/v1/partner"))
            .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "guess {i}");
    }
    let r = app
        .send_from(attacker, api_get("sk_guess_21", "/v1/partner"))
        .await;
    assert_api_limited(&r, "the 21st failure");
    // No key at all counts as a failure too, and is refused as well.
    let r = app
        .send_from(
            attacker,
            Request::get("/v1/partner").body(Body::empty()).unwrap(),
        )
        .await;
    assert_api_limited(&r, "no key");
    // Even a valid key is not looked up from the refused address...
    let r = app
        .send_from(attacker, api_get(&p.key, "/v1/partner"))
        .await;
    assert_api_limited(&r, "a valid key from a refused address");
    // ...while other addresses are unaffected.
    let r = app
        .send_from("203.0.113.9", api_get(&p.key, "/v1/partner"))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = app
        .send_from("203.0.113.9", api_get("sk_wrong", "/v1/partner"))
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    // A minute later the address may try again.
    app.advance(Duration::from_secs(61));
    let r = app
        .send_from(attacker, api_get(&p.key, "/v1/partner"))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
});

on_both_backends!(failed_authentications_at_a_configured_rate, |app| {
    let app = app.reconfigured(|c| c.limits.failed_authentications = rate("2/1h"));
    for i in 0..2 {
        let r = app
            .send_from("198.51.100.8", api_get("sk_nope", "/v1/payments"))
            .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "guess {i}");
    }
    let r = app
        .send_from("198.51.100.8", api_get("sk_nope", "/v1/payments"))
        .await;
    assert_api_limited(&r, "the 3rd failure");
    let app = app.reconfigured(|c| c.limits.failed_authentications = None);
    for _ in 0..30 {
        let r = app
            .send_from("198.51.100.9", api_get("sk_nope", "/v1/payments"))
            .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "the limit is off");
    }
});

on_both_backends!(unsigned_links_per_ip_at_the_default, |app| {
    let p = app.partner().await;
    let link = |n: usize| {
        Request::get(format!(
            "/p/{}/payment-request?amount=5.00&referenceId=U-{n}",
            p.partner.slug
        ))
        .body(Body::empty())
        .unwrap()
    };
    for n in 0..30 {
        let r = app.send_from("198.51.100.20", link(n)).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "link {n}: {}", r.body);
    }
    let r = app.send_from("198.51.100.20", link(30)).await;
    assert_limited(&r, "the 31st unsigned link");
    assert!(r.body.contains("Too many"), "{}", r.body);
    assert_eq!(count_requests(&app, &p).await, 30, "nothing more created");
    // A signed link from the same address is not limited.
    let query = "amount=5.00&referenceId=SIGNED-1";
    let sig = link_signature(&p.link_secret, query);
    let r = app
        .send_from(
            "198.51.100.20",
            Request::get(format!(
                "/p/{}/payment-request?{query}&signature={sig}",
                p.partner.slug
            ))
            .body(Body::empty())
            .unwrap(),
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    // Another address still may.
    let r = app.send_from("198.51.100.21", link(31)).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
});

on_both_backends!(unsigned_links_per_partner_at_a_configured_rate, |app| {
    let app = app.reconfigured(|c| c.limits.unsigned_links_per_partner = rate("3/1h"));
    let p = app.partner().await;
    let other = app.partner().await;
    let link = |slug: &str, n: usize| {
        Request::get(format!(
            "/p/{slug}/payment-request?amount=5.00&referenceId=P-{n}"
        ))
        .body(Body::empty())
        .unwrap()
    };
    for n in 0..3 {
        let r = app
            .send_from(
                &format!("198.51.100.{}", 30 + n),
                link(p.partner.slug.as_str(), n),
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "link {n}");
    }
    let r = app
        .send_from("198.51.100.40", link(p.partner.slug.as_str(), 3))
        .await;
    assert_limited(&r, "the partner's 4th unsigned link");
    assert_eq!(count_requests(&app, &p).await, 3);
    let r = app
        .send_from("198.51.100.40", link(other.partner.slug.as_str(), 3))
        .await;
    assert_eq!(
        r.status,
        StatusCode::SEE_OTHER,
        "another partner is not limited"
    );
});

const DECLINED: &str = "4000000000000002";
const INSUFFICIENT: &str = "4000000000009995";
const EXPIRED: &str = "4000000000000069";
const CVC: &str = "4000000000000127";
const PROCESSING: &str = "4000000000000119";

on_both_backends!(declines_per_ip_across_links_and_partners, |app| {
    let a = app.partner().await;
    let b = app.partner().await;
    let cards = [DECLINED, INSUFFICIENT, EXPIRED, CVC, PROCESSING];
    // Ten declines from one address, over ten links of two partners, with five cards (two
    // each, under the per-card limit).
    for n in 0..10 {
        let p = if n % 2 == 0 { &a } else { &b };
        let pr = app.create_request(p, "9.00", &format!("D-{n}")).await;
        let mut payer = Payer::from(&app, "198.51.100.50");
        let r = payer.pay_card(&pay_path(&pr), cards[n % 5]).await;
        assert_eq!(
            r.status,
            StatusCode::PAYMENT_REQUIRED,
            "decline {n}: {}",
            r.body
        );
    }
    // The 11th attempt is refused before it is tried, even with a good card.
    let pr = app.create_request(&a, "9.00", "D-10").await;
    let mut payer = Payer::from(&app, "198.51.100.50");
    let r = payer.pay_card(&pay_path(&pr), "4242424242424242").await;
    assert_limited(&r, "the 11th attempt");
    let id = pr["id"].as_str().unwrap();
    assert_eq!(app.get_request(&a, id).await["status"], "open");
    let payments = app
        .api(&a.key, Method::GET, "/v1/payments?limit=100", None)
        .await;
    assert_eq!(ids(&payments.json()).len(), 5, "no payment recorded for it");
    // Another payer pays that link.
    let mut payer = Payer::from(&app, "203.0.113.50");
    let r = payer.pay_card(&pay_path(&pr), "4242424242424242").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    // Ten minutes later the first address may try again.
    app.advance(Duration::from_secs(600));
    let pr = app.create_request(&a, "9.00", "D-11").await;
    let mut payer = Payer::from(&app, "198.51.100.50");
    let r = payer.pay_card(&pay_path(&pr), "4242424242424242").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
});

on_both_backends!(approved_payments_do_not_count_as_declines, |app| {
    let app = app.reconfigured(|c| c.limits.declines_per_ip = rate("2/10m"));
    let p = app.partner().await;
    for n in 0..5 {
        let pr = app.create_request(&p, "3.00", &format!("OK-{n}")).await;
        let mut payer = Payer::from(&app, "198.51.100.60");
        let r = payer.pay_card(&pay_path(&pr), "4242424242424242").await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "payment {n}");
    }
    for n in 0..2 {
        let pr = app.create_request(&p, "3.00", &format!("NO-{n}")).await;
        let mut payer = Payer::from(&app, "198.51.100.60");
        let r = payer.pay_card(&pay_path(&pr), DECLINED).await;
        assert_eq!(r.status, StatusCode::PAYMENT_REQUIRED);
    }
    let pr = app.create_request(&p, "3.00", "NO-2").await;
    let mut payer = Payer::from(&app, "198.51.100.60");
    let r = payer.pay_card(&pay_path(&pr), "4242424242424242").await;
    assert_limited(&r, "after the configured 2 declines");
});

on_both_backends!(declines_per_card_across_links_and_partners, |app| {
    let partners = [app.partner().await, app.partner().await];
    // Five declines of one card, each from its own address, on links of two partners.
    for n in 0..5 {
        let p = &partners[n % 2];
        let pr = app.create_request(p, "4.00", &format!("C-{n}")).await;
        let mut payer = Payer::from(&app, &format!("198.51.100.{}", 70 + n));
        let r = payer.pay_card(&pay_path(&pr), INSUFFICIENT).await;
        assert_eq!(r.status, StatusCode::PAYMENT_REQUIRED, "decline {n}");
    }
    let pr = app.create_request(&partners[0], "4.00", "C-5").await;
    let mut payer = Payer::from(&app, "198.51.100.99");
    let r = payer.pay_card(&pay_path(&pr), INSUFFICIENT).await;
    assert_limited(&r, "the card's 6th attempt");
    // The same address with another card is fine.
    let r = payer.pay_card(&pay_path(&pr), "4242424242424242").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
});

async fn add_user(app: &TestApp, p: &TestPartner, email: &str) {
    kassa_server::admin::create_user(
        app.store.as_ref(),
        &p.partner.id,
        email,
        "correct horse battery",
        kassa_core::role::Role::Owner,
        &kassa_core::audit::Caller::cli("test", start_time()),
    )
    .await
    .unwrap();
}

/// A sign-in form post from `peer`, with its CSRF cookie and token.
async fn sign_in_from(app: &TestApp, peer: &str, email: &str, password: &str) -> Resp {
    let page = app
        .send_from(
            peer,
            Request::get("/dashboard/login")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    let cookie = page
        .header("set-cookie")
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("csrfToken", csrf(&page.body).as_str()),
            ("email", email),
            ("password", password),
        ])
        .finish();
    app.send_from(
        peer,
        Request::post("/dashboard/login")
            .header(header::COOKIE, cookie)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(body))
            .unwrap(),
    )
    .await
}

on_both_backends!(sign_in_failures_per_email_at_the_default, |app| {
    let p = app.partner().await;
    let email = format!("owner-{}@acme.example", kassa_core::id::random_base62(6));
    add_user(&app, &p, &email).await;
    // A right password gives its count back.
    let r = sign_in_from(&app, "198.51.100.80", &email, "correct horse battery").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    for i in 0..5 {
        let r = sign_in_from(&app, &format!("198.51.100.{}", 81 + i), &email, "wrong").await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "failure {i}");
    }
    // The 6th, even with the right password and from a new address, is refused.
    let r = sign_in_from(&app, "198.51.100.90", &email, "correct horse battery").await;
    assert_limited(&r, "after 5 failures");
    assert!(r.body.contains("Too many failed sign-ins"), "{}", r.body);
    // Three minutes on, one more try is allowed.
    app.advance(Duration::from_secs(180));
    let r = sign_in_from(&app, "198.51.100.90", &email, "correct horse battery").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
});

on_both_backends!(thirty_wrong_passwords_at_once_check_at_most_five, |app| {
    let p = app.partner().await;
    let email = format!("owner-{}@acme.example", kassa_core::id::random_base62(6));
    add_user(&app, &p, &email).await;
    let app = std::sync::Arc::new(app);
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..30 {
        let app = std::sync::Arc::clone(&app);
        let email = email.clone();
        tasks.spawn(async move {
            sign_in_from(&app, &format!("203.0.113.{}", 100 + i), &email, "wrong")
                .await
                .status
        });
    }
    let (mut checked, mut refused) = (0, 0);
    while let Some(status) = tasks.join_next().await {
        match status.unwrap() {
            StatusCode::UNAUTHORIZED => checked += 1,
            StatusCode::TOO_MANY_REQUESTS => refused += 1,
            other => panic!("{other}"),
        }
    }
    assert_eq!((checked, refused), (5, 25));
});

on_both_backends!(sign_in_failures_per_ip_at_a_configured_rate, |app| {
    let app = app.reconfigured(|c| c.limits.sign_in_failures_per_ip = rate("3/15m"));
    let p = app.partner().await;
    let email = format!("owner-{}@acme.example", kassa_core::id::random_base62(6));
    add_user(&app, &p, &email).await;
    for i in 0..3 {
        let r = sign_in_from(
            &app,
            "198.51.100.100",
            &format!("nobody{i}@x.example"),
            "wrong",
        )
        .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "failure {i}");
    }
    let r = sign_in_from(&app, "198.51.100.100", &email, "correct horse battery").await;
    assert_limited(&r, "the address's 4th sign-in");
    let r = sign_in_from(&app, "198.51.100.101", &email, "correct horse battery").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "another address signs in");
});

on_both_backends!(the_client_ip_comes_from_trusted_proxies_only, |app| {
    let app = app.reconfigured(|c| {
        c.trusted_proxies = vec!["10.0.0.0/8".parse().unwrap()];
        c.limits.failed_authentications = rate("1/1h");
    });
    let via_proxy = |client: &str| {
        let mut req = api_get("sk_nope", "/v1/partner");
        req.headers_mut()
            .insert("x-forwarded-for", client.parse().unwrap());
        req
    };
    // Two clients behind one trusted proxy are told apart.
    assert_eq!(
        app.send_from("10.0.0.5", via_proxy("198.51.100.1"))
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.send_from("10.0.0.5", via_proxy("198.51.100.2"))
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    assert_api_limited(
        &app.send_from("10.0.0.5", via_proxy("198.51.100.1")).await,
        "the first client again",
    );
    // An untrusted peer cannot pick its address with the header.
    assert_eq!(
        app.send_from("203.0.113.1", via_proxy("198.51.100.3"))
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    assert_api_limited(
        &app.send_from("203.0.113.1", via_proxy("198.51.100.4"))
            .await,
        "the same untrusted peer",
    );
});

on_both_backends!(ipv6_clients_are_counted_by_their_64, |app| {
    let app = app.reconfigured(|c| c.limits.failed_authentications = rate("2/1h"));
    // A fresh address from the same /64 for every guess changes nothing.
    for (n, peer) in ["2001:db8:7:7::1", "2001:db8:7:7::2"].iter().enumerate() {
        let r = app.send_from(peer, api_get("sk_nope", "/v1/partner")).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "guess {n}");
    }
    let r = app
        .send_from(
            "2001:db8:7:7:dead:beef::3",
            api_get("sk_nope", "/v1/partner"),
        )
        .await;
    assert_api_limited(&r, "a third address of the same /64");
    // Another /64 has its own count.
    let r = app
        .send_from("2001:db8:7:8::1", api_get("sk_nope", "/v1/partner"))
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
});

on_both_backends!(declines_per_card_at_a_configured_rate, |app| {
    let app = app.reconfigured(|c| c.limits.declines_per_card = rate("1/1h"));
    let p = app.partner().await;
    let pr = app.create_request(&p, "4.00", "K-0").await;
    let mut payer = Payer::from(&app, "198.51.100.120");
    let r = payer.pay_card(&pay_path(&pr), EXPIRED).await;
    assert_eq!(r.status, StatusCode::PAYMENT_REQUIRED);
    let pr = app.create_request(&p, "4.00", "K-1").await;
    let mut payer = Payer::from(&app, "198.51.100.121");
    let r = payer.pay_card(&pay_path(&pr), EXPIRED).await;
    assert_limited(&r, "the card's 2nd attempt");
    let wait: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((3000..=3600).contains(&wait), "{wait}");
});
