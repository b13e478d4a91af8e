//! Dashboard roles, two-factor sign-in, idle sessions and emails at several partners
//! (docs/api.md §9): every dashboard page and form × every role is allowed or a 403 that changes
//! nothing; enrolment and sign-in with codes computed from a frozen clock; a code and a
//! recovery code work once; sessions end when idle and after 12 hours; nothing tells a partner
//! that an email has a user elsewhere.

mod common;

use std::time::Duration;

use axum::http::{Method, StatusCode};
use common::*;
use kassa_core::clock::Clock;
use kassa_core::role::Role;
use kassa_core::two_factor;
use kassa_server::admin;
use serde_json::{json, Value};

const PASSWORD: &str = "correct horse battery";

async fn user(app: &TestApp, p: &TestPartner, email: &str, role: Role) {
    admin::create_user(
        app.store.as_ref(),
        &p.partner.id,
        email,
        PASSWORD,
        role,
        &kassa_core::audit::Caller::cli("test", app.clock.now()),
    )
    .await
    .unwrap();
}

/// What a refused form must leave as it was.
async fn snapshot(app: &TestApp, p: &TestPartner) -> Value {
    let mut all = Vec::new();
    for path in [
        "/v1/partner",
        "/v1/payment-requests?limit=100",
        "/v1/api-keys?limit=100",
        "/v1/users?limit=100",
        "/v1/webhook-endpoints?limit=100",
    ] {
        let r = app.api(&p.key, Method::GET, path, None).await;
        assert_eq!(r.status, StatusCode::OK, "{path}: {}", r.body);
        all.push(r.json());
    }
    Value::Array(all)
}

/// Whether the answer redirects to `path`.
fn goes_to(r: &Resp, path: &str) -> bool {
    r.header("location").as_deref() == Some(path)
}

/// One dashboard action: method, path, form fields, and whether owner, staff, viewer may.
type Row<'a> = (Method, String, Vec<(&'a str, &'a str)>, [bool; 3]);

fn refused(r: &Resp) -> bool {
    r.status == StatusCode::FORBIDDEN && r.body.contains("You may not do this")
}

on_both_backends!(each_role_may_do_what_its_table_says, |app| {
    // The snapshots call the API often, at a frozen time.
    let app = app.reconfigured(|c| c.limits.api_calls = None);
    let p = app.partner().await;
    let open = app.create_request(&p, "5.00", "ROLE-OPEN").await;
    let open_id = open["id"].as_str().unwrap().to_string();
    user(&app, &p, "owner@acme.example", Role::Owner).await;
    user(&app, &p, "staff@acme.example", Role::Staff).await;
    user(&app, &p, "viewer@acme.example", Role::Viewer).await;
    // (method, path, form fields, who may: owner, staff, viewer)
    let cancel = format!("/dashboard/payment-requests/{open_id}/cancel");
    let table: Vec<Row> = vec![
        (Method::GET, "/dashboard".into(), vec![], [true, true, true]),
        (
            Method::GET,
            "/dashboard/transactions".into(),
            vec![],
            [true, true, true],
        ),
        (
            Method::GET,
            "/dashboard/transactions.csv".into(),
            vec![],
            [true, true, true],
        ),
        (
            Method::GET,
            "/dashboard/transactions/pay_nope".into(),
            vec![],
            [true, true, true],
        ),
        (
            Method::GET,
            "/dashboard/payment-requests".into(),
            vec![],
            [true, true, true],
        ),
        (
            Method::GET,
            format!("/dashboard/payment-requests/{open_id}"),
            vec![],
            [true, true, true],
        ),
        (
            Method::GET,
            "/dashboard/payouts".into(),
            vec![],
            [true, true, true],
        ),
        (
            Method::GET,
            "/dashboard/payouts/po_nope".into(),
            vec![],
            [true, true, true],
        ),
        (
            Method::GET,
            "/dashboard/webhooks".into(),
            vec![],
            [true, true, true],
        ),
        (
            Method::GET,
            "/dashboard/webhooks/we_nope".into(),
            vec![],
            [true, true, true],
        ),
        (
            Method::GET,
            "/dashboard/settings".into(),
            vec![],
            [true, true, true],
        ),
        (
            Method::GET,
            "/dashboard/security".into(),
            vec![],
            [true, true, true],
        ),
        (
            Method::GET,
            "/dashboard/payment-requests/new".into(),
            vec![],
            [true, true, false],
        ),
        (
            Method::GET,
            "/dashboard/payment-requests/link".into(),
            vec![],
            [true, true, false],
        ),
        (
            Method::GET,
            "/dashboard/transactions/pay_nope/refund".into(),
            vec![],
            [true, true, false],
        ),
        (
            Method::POST,
            "/dashboard/payment-requests".into(),
            vec![("amount", "7.00"), ("referenceId", "")],
            [true, true, false],
        ),
        (
            Method::POST,
            "/dashboard/transactions/pay_nope/refund".into(),
            vec![("amount", "1.00")],
            [true, true, false],
        ),
        (
            Method::POST,
            "/dashboard/settings".into(),
            vec![
                ("action", "save"),
                ("name", "Taken Over"),
                ("brandColor", "#000000"),
            ],
            [true, false, false],
        ),
        (
            Method::POST,
            "/dashboard/settings/api-keys".into(),
            vec![("label", "")],
            [true, false, false],
        ),
        (
            Method::POST,
            "/dashboard/settings/api-keys/key_nope/revoke".into(),
            vec![],
            [true, false, false],
        ),
        (
            Method::POST,
            "/dashboard/settings/users".into(),
            vec![("email", "new@acme.example"), ("password", "short")],
            [true, false, false],
        ),
        (
            Method::POST,
            "/dashboard/settings/users/usr_nope/remove".into(),
            vec![],
            [true, false, false],
        ),
        (
            Method::POST,
            "/dashboard/settings/users/usr_nope/role".into(),
            vec![("role", "owner")],
            [true, false, false],
        ),
        (
            Method::POST,
            "/dashboard/webhooks".into(),
            vec![("url", "ftp://x")],
            [true, false, false],
        ),
        (
            Method::POST,
            "/dashboard/webhooks/we_nope/delete".into(),
            vec![],
            [true, false, false],
        ),
        (
            Method::POST,
            "/dashboard/webhooks/deliveries/whd_nope/retry".into(),
            vec![],
            [true, false, false],
        ),
        // Confirmation steps are the action's own (docs/api.md §9's roles).
        (
            Method::GET,
            "/dashboard/settings/api-keys/key_nope/revoke".into(),
            vec![],
            [true, false, false],
        ),
        (
            Method::GET,
            "/dashboard/settings/users/usr_nope/remove".into(),
            vec![],
            [true, false, false],
        ),
        (
            Method::GET,
            "/dashboard/webhooks/we_nope/delete".into(),
            vec![],
            [true, false, false],
        ),
        (
            Method::GET,
            "/dashboard/payouts/po_nope/statement.csv".into(),
            vec![],
            [true, true, true],
        ),
        (
            Method::GET,
            format!("/dashboard/payment-requests/{open_id}/qr.svg"),
            vec![],
            [true, true, true],
        ),
        (Method::GET, cancel.clone(), vec![], [false, true, false]),
        // Last: a staff user cancels it for real.
        (
            Method::POST,
            cancel.clone(),
            vec![("confirm", "yes")],
            [false, true, false],
        ),
    ];
    for (i, email) in [
        "owner@acme.example",
        "staff@acme.example",
        "viewer@acme.example",
    ]
    .iter()
    .enumerate()
    {
        let mut b = Browser::new(&app);
        let r = b.sign_in(email, PASSWORD).await;
        assert_eq!(r.location(), "/dashboard", "{email}: {}", r.body);
        let home = b.get("/dashboard").await;
        let token = csrf(&home.body);
        for (method, path, fields, may) in &table {
            // The owner's turn at the cancel is skipped: staff does it.
            if *path == cancel && i == 0 {
                continue;
            }
            let before = snapshot(&app, &p).await;
            let r = if *method == Method::GET {
                b.get(path).await
            } else {
                let mut fields = fields.clone();
                fields.push(("csrfToken", &token));
                b.post(path, &fields).await
            };
            assert_eq!(
                !refused(&r),
                may[i],
                "{email} {method} {path}: {} {}",
                r.status,
                r.body
            );
            if refused(&r) {
                assert_eq!(
                    snapshot(&app, &p).await,
                    before,
                    "{email} {path} changed something"
                );
                assert!(r.body.contains("does not allow it"));
            }
        }
        // What a role may not do is not offered.
        let settings = b.get("/dashboard/settings").await;
        assert_eq!(
            settings
                .body
                .contains("action=\"/dashboard/settings/users\""),
            i == 0,
            "{email}"
        );
        let requests = b.get("/dashboard/payment-requests").await;
        assert_eq!(
            requests
                .body
                .contains("href=\"/dashboard/payment-requests/new\""),
            i < 2,
            "{email}"
        );
    }
    assert_eq!(app.get_request(&p, &open_id).await["status"], "canceled");
});

/// The current code of the secret shown on the page, at the frozen clock's time.
fn code_now(app: &TestApp, secret_base32: &str) -> String {
    let secret = base32_decode(secret_base32);
    two_factor::code_at_step(
        &secret,
        two_factor::step_at(app.clock.now().unix_timestamp()),
    )
}

fn base32_decode(s: &str) -> Vec<u8> {
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let (mut bits, mut value, mut out) = (0u32, 0u32, Vec::new());
    for c in s.bytes().filter(|c| *c != b'=') {
        value = (value << 5) | alphabet.iter().position(|a| *a == c).unwrap() as u32;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((value >> bits) as u8);
        }
    }
    out
}

/// Enrols the signed-in browser's user: (secret, recovery codes).
async fn enrol(app: &TestApp, b: &mut Browser<'_>) -> (String, Vec<String>) {
    let page = b.get("/dashboard/security").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let setup = b
        .post(
            "/dashboard/security/two-factor/setup",
            &[("csrfToken", &csrf(&page.body))],
        )
        .await;
    assert_eq!(setup.status, StatusCode::OK, "{}", setup.body);
    assert!(setup.body.contains("<svg"), "an inline QR code");
    let secret = extract(
        &setup.body,
        "id=\"totp-key\" aria-describedby=\"totp-key-hint\">",
        "<",
    )
    .unwrap();
    let sealed = extract(&setup.body, "name=\"setup\" value=\"", "\"").unwrap();
    let token = csrf(&setup.body);
    let wrong = b
        .post(
            "/dashboard/security/two-factor/confirm",
            &[
                ("csrfToken", &token),
                ("setup", &sealed),
                ("code", "000000"),
            ],
        )
        .await;
    if code_now(app, &secret) != "000000" {
        assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY);
    }
    let done = b
        .post(
            "/dashboard/security/two-factor/confirm",
            &[
                ("csrfToken", &token),
                ("setup", &sealed),
                ("code", &code_now(app, &secret)),
            ],
        )
        .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    let codes: Vec<String> = done
        .body
        .split("<li><code>")
        .skip(1)
        .map(|s| s.split('<').next().unwrap().to_string())
        .collect();
    assert_eq!(codes.len(), 10, "{}", done.body);
    (secret, codes)
}

fn cookie(b: &Browser<'_>, name: &str) -> bool {
    b.cookies.iter().any(|(k, _)| k == name)
}

on_both_backends!(
    two_factor_sign_in_needs_a_fresh_code_or_an_unused_recovery_code,
    |app| {
        let p = app.partner().await;
        user(&app, &p, "ada@acme.example", Role::Staff).await;
        let mut b = Browser::new(&app);
        b.sign_in("ada@acme.example", PASSWORD).await;
        let (secret, codes) = enrol(&app, &mut b).await;

        // The password alone is now a pending sign-in that opens nothing.
        let mut b = Browser::new(&app);
        let r = b.sign_in("ada@acme.example", PASSWORD).await;
        assert_eq!(r.location(), "/dashboard/login/code");
        assert!(!cookie(&b, "kassa_session") && cookie(&b, "kassa_pending"));
        assert_eq!(b.get("/dashboard").await.location(), "/dashboard/login");
        let page = b.get("/dashboard/login/code").await;
        assert_eq!(page.status, StatusCode::OK);
        let (token, user) = (
            csrf(&page.body),
            extract(&page.body, "name=\"user\" value=\"", "\"").unwrap(),
        );
        // The code used to confirm the enrolment was spent: the next step's code works, once.
        let r = b
            .post(
                "/dashboard/login/code",
                &[
                    ("csrfToken", &token),
                    ("user", &user),
                    ("code", &code_now(&app, &secret)),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "not twice");
        app.advance(Duration::from_secs(30));
        let code = code_now(&app, &secret);
        let r = b
            .post(
                "/dashboard/login/code",
                &[("csrfToken", &token), ("user", &user), ("code", &code)],
            )
            .await;
        assert_eq!(r.location(), "/dashboard", "{}", r.body);
        assert_eq!(b.get("/dashboard").await.status, StatusCode::OK);

        // A recovery code works once.
        for (i, expect_ok) in [true, false].into_iter().enumerate() {
            let mut c = Browser::new(&app);
            c.sign_in("ada@acme.example", PASSWORD).await;
            let page = c.get("/dashboard/login/code").await;
            let r = c
                .post(
                    "/dashboard/login/code",
                    &[
                        ("csrfToken", &csrf(&page.body)),
                        ("user", &user),
                        ("code", &codes[3].to_uppercase()),
                    ],
                )
                .await;
            assert_eq!(goes_to(&r, "/dashboard"), expect_ok, "use {i}: {}", r.body);
        }
        // A pending sign-in expires.
        let mut c = Browser::new(&app);
        c.sign_in("ada@acme.example", PASSWORD).await;
        app.advance(Duration::from_secs(6 * 60));
        assert_eq!(
            c.get("/dashboard/login/code").await.location(),
            "/dashboard/login"
        );

        // Turning it off asks first, and needs a current code.
        let disable = "/dashboard/security/two-factor/disable";
        let page = b.get("/dashboard/security").await;
        assert!(page.body.contains(&format!("href=\"{disable}\"")));
        let one_click = b
            .post(
                disable,
                &[
                    ("csrfToken", &csrf(&page.body)),
                    ("code", &code_now(&app, &secret)),
                ],
            )
            .await;
        assert_eq!(one_click.location(), disable, "{}", one_click.body);
        let confirm = b.get(disable).await;
        assert_eq!(confirm.status, StatusCode::OK);
        assert!(
            confirm.body.contains("Turn off two-factor sign-in?")
                && confirm.body.contains("name=\"code\"")
                && confirm.body.contains("name=\"confirm\" value=\"yes\""),
            "{}",
            confirm.body
        );
        let r = b
            .post(
                disable,
                &[
                    ("csrfToken", &csrf(&page.body)),
                    ("confirm", "yes"),
                    ("code", "12"),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        let r = b
            .post(
                disable,
                &[
                    ("csrfToken", &csrf(&page.body)),
                    ("confirm", "yes"),
                    ("code", &code_now(&app, &secret)),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        let mut d = Browser::new(&app);
        assert_eq!(
            d.sign_in("ada@acme.example", PASSWORD).await.location(),
            "/dashboard"
        );
    }
);

on_both_backends!(owners_must_enrol_when_the_partner_requires_it, |app| {
    let p = app.partner().await;
    user(&app, &p, "owner@acme.example", Role::Owner).await;
    user(&app, &p, "viewer@acme.example", Role::Viewer).await;
    let r = app
        .api(
            &p.key,
            Method::PATCH,
            "/v1/partner",
            Some(json!({"requireTwoFactor": true})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json()["requireTwoFactor"], true);
    let mut b = Browser::new(&app);
    b.sign_in("owner@acme.example", PASSWORD).await;
    for path in [
        "/dashboard",
        "/dashboard/settings",
        "/dashboard/transactions",
    ] {
        assert_eq!(
            b.get(path).await.location(),
            "/dashboard/security",
            "{path}"
        );
    }
    let (_, _) = enrol(&app, &mut b).await;
    assert_eq!(b.get("/dashboard/settings").await.status, StatusCode::OK);
    // It stays on while required.
    let page = b.get("/dashboard/security").await;
    assert!(!page.body.contains("two-factor/disable"));
    // Not required of a viewer.
    let mut v = Browser::new(&app);
    v.sign_in("viewer@acme.example", PASSWORD).await;
    assert_eq!(v.get("/dashboard").await.status, StatusCode::OK);
});

on_both_backends!(a_session_ends_when_idle_and_after_twelve_hours, |app| {
    let p = app.partner().await;
    user(&app, &p, "ada@acme.example", Role::Viewer).await;
    let mut b = Browser::new(&app);
    b.sign_in("ada@acme.example", PASSWORD).await;
    app.advance(Duration::from_secs(14 * 60));
    assert_eq!(
        b.get("/dashboard").await.status,
        StatusCode::OK,
        "14 minutes idle"
    );
    app.advance(Duration::from_secs(16 * 60));
    assert_eq!(
        b.get("/dashboard").await.location(),
        "/dashboard/login",
        "16 minutes idle"
    );
    // Busy all day, it still ends after 12 hours.
    b.sign_in("ada@acme.example", PASSWORD).await;
    for _ in 0..(12 * 6 - 1) {
        app.advance(Duration::from_secs(10 * 60));
        assert_eq!(b.get("/dashboard").await.status, StatusCode::OK);
    }
    app.advance(Duration::from_secs(10 * 60));
    assert_eq!(b.get("/dashboard").await.location(), "/dashboard/login");
});

on_both_backends!(
    no_answer_tells_a_partner_about_another_partners_users,
    |app| {
        let a = app.partner().await;
        let b_partner = app.partner_with(|p| p.name = "Bravo Shop".into()).await;
        user(&app, &a, "shared@acme.example", Role::Owner).await;
        // B adds the same email: created like any other, through the API and the dashboard.
        let r = app
        .api(
            &b_partner.key,
            Method::POST,
            "/v1/users",
            Some(json!({"email": "shared@acme.example", "password": "another long password", "role": "owner"})),
        )
        .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        let r = app
            .api(
                &b_partner.key,
                Method::POST,
                "/v1/users",
                Some(json!({"email": "shared@acme.example", "password": PASSWORD})),
            )
            .await;
        assert_eq!(r.status, StatusCode::CONFLICT, "B's own user");
        user(&app, &a, "other@acme.example", Role::Owner).await;
        let mut owner_b = Browser::new(&app);
        assert_eq!(
            owner_b
                .sign_in("shared@acme.example", "another long password")
                .await
                .location(),
            "/dashboard"
        );
        let settings = owner_b.get("/dashboard/settings").await;
        let r = owner_b
            .post(
                "/dashboard/settings/users",
                &[
                    ("csrfToken", &csrf(&settings.body)),
                    ("email", "other@acme.example"),
                    ("password", PASSWORD),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);

        // Each password opens its own account; the same password at both asks which.
        let mut x = Browser::new(&app);
        x.sign_in("shared@acme.example", PASSWORD).await;
        assert!(x.get("/dashboard").await.body.contains(&a.partner.name));
        let mut y = Browser::new(&app);
        let r = y.sign_in("other@acme.example", PASSWORD).await;
        assert_eq!(r.location(), "/dashboard/login/choose");
        let page = y.get("/dashboard/login/choose").await;
        assert!(page.body.contains(&a.partner.name) && page.body.contains(&b_partner.partner.name));
        let choice = extract(
            page.body
                .split(&b_partner.partner.name)
                .next()
                .unwrap()
                .rsplit("name=\"user\" value=\"")
                .next()
                .unwrap(),
            "",
            "\"",
        )
        .unwrap();
        let r = y
            .post(
                "/dashboard/login/choose",
                &[("csrfToken", &csrf(&page.body)), ("user", &choice)],
            )
            .await;
        assert_eq!(r.location(), "/dashboard", "{}", r.body);
        assert!(y
            .get("/dashboard")
            .await
            .body
            .contains(&b_partner.partner.name));

        // A wrong password is the same answer whether the email is used elsewhere or nowhere.
        let mut z = Browser::new(&app);
        let used = z
            .sign_in("shared@acme.example", "wrong password here")
            .await;
        let unused = z
            .sign_in("nobody@acme.example", "wrong password here")
            .await;
        assert_eq!(used.status, StatusCode::UNAUTHORIZED);
        assert_eq!(unused.status, used.status);
    }
);
