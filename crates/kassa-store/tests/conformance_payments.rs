//! The `Store` conformance suite for the one-time payment API: customers, stored payment methods,
//! tax rates, API sales, authorizations and their single capture — identical on both backends.

mod common;

use std::sync::Arc;

use common::{backends, by, by_at, card_attempt, instant_in, micros, new_partner, now};
use kassa_core::authorization::{Authorization, AuthorizationStatus, AUTHORIZATION_VALIDITY};
use kassa_core::customer::{Customer, CustomerPatch};
use kassa_core::error::FieldErrors;
use kassa_core::id::{AuthorizationId, CustomerId, InvoiceId, PartnerId, PaymentId};
use kassa_core::invoice::{Invoice, InvoiceInput, TaxRate, TaxRates};
use kassa_core::money::{Currency, Money};
use kassa_core::payment::{DeclineCode, Funding, PaymentSource, PaymentStatus};
use kassa_store::{
    AttemptResult, AuthorizationResult, Begun, CaptureOutcome, CustomerFilter, CustomerRef,
    MethodUse, NewApiPayment, NewAuthorization, NewCapture, NewPaymentMethod, Page, PageRequest,
    PaymentFilter, ReverseOutcome, Store, StoreError,
};
use time::OffsetDateTime;

fn customer(partner: &PartnerId, at: OffsetDateTime) -> Customer {
    Customer {
        id: CustomerId::generate(),
        partner_id: partner.clone(),
        object: Default::default(),
        first_name: "Ada".into(),
        last_name: "Lovelace".into(),
        email: Some("ada@example.com".into()),
        merchant_customer_ref_id: Some(format!("C-{}", kassa_core::id::random_base62(8))),
        entity_use_code: None,
        created_at: at,
        updated_at: at,
    }
}

fn invoice(total: &str) -> Invoice {
    let input: InvoiceInput = serde_json::from_value(serde_json::json!({
        "merchantInvoiceRefId": "A-1",
        "invoiceLineItems": [{"name": "Consulting", "value": total, "valueType": "Standard"}]
    }))
    .unwrap();
    let mut errors = FieldErrors::new();
    let draft = input
        .validate("invoice", Currency::Usd, 99_999_999, &mut errors)
        .expect("a valid invoice");
    draft.price(InvoiceId::generate(), &TaxRates::new(), false)
}

fn usd(minor: i64) -> Money {
    Money::new(minor, Currency::Usd)
}

fn new_method(customer: &CustomerId) -> NewPaymentMethod {
    let mut m = card_attempt().method;
    m.owner.customer_id = Some(customer.clone());
    m.owner.billing_first_name = Some("Ada".into());
    m.owner.billing_last_name = Some("Lovelace".into());
    m
}

/// An authorization of `minor` cents, approved by the processor.
async fn authorized(
    store: &Arc<dyn Store>,
    partner: &PartnerId,
    minor: i64,
    at: OffsetDateTime,
) -> Authorization {
    let c = customer(partner, at);
    let new = NewAuthorization {
        id: AuthorizationId::generate(),
        idempotency_key: None,
        amount: usd(minor),
        method: MethodUse::New(new_method(&c.id)),
        customer: CustomerRef::New(c),
        invoice: invoice(&kassa_core::money::format_minor(minor)),
        dynamic_descriptor: None,
        expires_at: at + AUTHORIZATION_VALIDITY,
    };
    let Begun::Started(pending) = store
        .begin_authorization(partner, &new, &by_at(at))
        .await
        .unwrap()
    else {
        panic!("a new authorization");
    };
    assert_eq!(pending.status, AuthorizationStatus::Pending);
    let auth = store
        .finish_authorization(
            partner,
            &new.id,
            &AuthorizationResult::Authorized {
                funding: Funding::Credit,
            },
            None,
            at,
        )
        .await
        .unwrap();
    assert_eq!(auth.status, AuthorizationStatus::Authorized);
    auth
}

fn capture(amount: Option<i64>) -> NewCapture {
    NewCapture {
        payment_id: PaymentId::generate(),
        idempotency_key: None,
        amount: amount.map(usd),
        invoice: None,
        dynamic_descriptor: None,
    }
}

#[tokio::test]
async fn simultaneous_captures_of_one_authorization_capture_once() {
    for (name, store) in backends().await.iter() {
        let partner = new_partner(name, store).await;
        let at = now();
        let auth = authorized(store, &partner, 10_000, at).await;
        let tasks: Vec<_> = (0..8)
            .map(|i| {
                let (store, partner, id) = (store.clone(), partner.clone(), auth.id.clone());
                tokio::spawn(async move {
                    store
                        .capture_authorization(&partner, &id, &capture(Some(1_000 + i)), &by_at(at))
                        .await
                        .unwrap()
                })
            })
            .collect();
        let mut captured = Vec::new();
        for t in tasks {
            match t.await.unwrap() {
                CaptureOutcome::Captured { payment, .. } => captured.push(payment),
                CaptureOutcome::AlreadyCaptured(_) => {}
                other => panic!("[{name}] unexpected {other:?}"),
            }
        }
        assert_eq!(captured.len(), 1, "[{name}] exactly one capture");
        let payments = match store
            .list_payments(&partner, &PaymentFilter::default(), &PageRequest::default())
            .await
            .unwrap()
        {
            Page::Items { data, .. } => data,
            Page::UnknownCursor => panic!("no cursor given"),
        };
        assert_eq!(payments.len(), 1, "[{name}]");
        assert_eq!(payments[0].id, captured[0].id);
        // Claimed, not yet confirmed by the processor.
        assert_eq!(payments[0].status, PaymentStatus::Pending);
        assert_eq!(payments[0].authorization_id.as_ref(), Some(&auth.id));
        let stored = store
            .authorization(&partner, &auth.id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(stored.status, AuthorizationStatus::Captured);
        assert_eq!(stored.captured_amount, captured[0].amount);
        assert_eq!(stored.payment_id.as_ref(), Some(&captured[0].id));
    }
}

#[tokio::test]
async fn capture_and_reverse_follow_the_authorization_rules() {
    for (name, store) in backends().await.iter() {
        let partner = new_partner(name, store).await;
        let at = now();
        let auth = authorized(store, &partner, 5_000, at).await;
        let over = store
            .capture_authorization(&partner, &auth.id, &capture(Some(5_001)), &by_at(at))
            .await
            .unwrap();
        assert!(
            matches!(over, CaptureOutcome::ExceedsAuthorized(_)),
            "[{name}] {over:?}"
        );
        // The whole amount by default; the authorization's invoice goes with it.
        let CaptureOutcome::Captured {
            payment,
            authorization,
        } = store
            .capture_authorization(&partner, &auth.id, &capture(None), &by_at(at))
            .await
            .unwrap()
        else {
            panic!("[{name}] capture refused");
        };
        assert_eq!(payment.amount, usd(5_000));
        assert_eq!(payment.status, PaymentStatus::Pending);
        assert_eq!(payment.captured_amount, usd(0));
        assert_eq!(payment.source, PaymentSource::Api);
        assert_eq!(payment.invoice, auth.invoice);
        assert_eq!(payment.customer_id, auth.customer_id);
        assert_eq!(authorization.status, AuthorizationStatus::Captured);
        let reversed = store
            .reverse_authorization(&partner, &auth.id, &by_at(at))
            .await
            .unwrap();
        assert!(
            matches!(reversed, ReverseOutcome::AlreadyCaptured(_)),
            "[{name}]"
        );

        let second = authorized(store, &partner, 5_000, at).await;
        let ReverseOutcome::Reversed(r) = store
            .reverse_authorization(&partner, &second.id, &by_at(at))
            .await
            .unwrap()
        else {
            panic!("[{name}] reverse refused");
        };
        assert_eq!(r.status, AuthorizationStatus::Reversed);
        assert!(r.reversed_at.is_some());
        let again = store
            .capture_authorization(&partner, &second.id, &capture(None), &by_at(at))
            .await
            .unwrap();
        assert!(
            matches!(again, CaptureOutcome::NotCapturable(_)),
            "[{name}] {again:?}"
        );
        let again = store
            .reverse_authorization(&partner, &second.id, &by_at(at))
            .await
            .unwrap();
        assert!(
            matches!(again, ReverseOutcome::NotReversible(_)),
            "[{name}]"
        );

        // An expired hold cannot be captured or reversed; another partner's is not found.
        let third = authorized(store, &partner, 5_000, at).await;
        let late = at + AUTHORIZATION_VALIDITY;
        let refused = store
            .capture_authorization(&partner, &third.id, &capture(None), &by_at(late))
            .await
            .unwrap();
        match refused {
            CaptureOutcome::NotCapturable(a) => assert_eq!(a.status, AuthorizationStatus::Expired),
            other => panic!("[{name}] {other:?}"),
        }
        let stranger = new_partner(name, store).await;
        let missing = store
            .capture_authorization(&stranger, &third.id, &capture(None), &by_at(at))
            .await
            .unwrap();
        assert_eq!(missing, CaptureOutcome::NotFound);
        assert!(store
            .authorization(&stranger, &third.id)
            .await
            .unwrap()
            .is_none());
    }
}

#[tokio::test]
async fn an_api_sale_is_recorded_before_and_after_the_processor() {
    for (name, store) in backends().await.iter() {
        let partner = new_partner(name, store).await;
        // A year of its own, so other tests' recovery sweeps never see this attempt.
        let at = micros(instant_in(2031));
        let c = customer(&partner, at);
        let method = new_method(&c.id);
        let new = NewApiPayment {
            payment_id: PaymentId::generate(),
            idempotency_key: None,
            amount: usd(12_100),
            method: MethodUse::New(method.clone()),
            customer: CustomerRef::New(c.clone()),
            invoice: invoice("121.00"),
            dynamic_descriptor: None,
        };
        let Begun::Started(pending) = store
            .begin_payment(&partner, &new, &by_at(at))
            .await
            .unwrap()
        else {
            panic!("[{name}] a new payment");
        };
        assert_eq!(pending.status, PaymentStatus::Pending);
        assert_eq!(pending.source, PaymentSource::Api);
        assert_eq!(pending.customer_id.as_ref(), Some(&c.id));
        assert_eq!(pending.invoice.as_ref(), Some(&new.invoice));
        // Undecided and old: listed for recovery.
        let abandoned = store
            .abandoned_attempts(at + time::Duration::minutes(10))
            .await
            .unwrap();
        assert!(
            abandoned.contains(&(partner.clone(), new.payment_id.clone())),
            "[{name}]"
        );

        let done = store
            .finish_attempt(
                &partner,
                &new.payment_id,
                &AttemptResult::Approved {
                    funding: Funding::Debit,
                },
                None,
                at,
            )
            .await
            .unwrap();
        assert!(done.request.is_none());
        assert_eq!(done.payment.status, PaymentStatus::Completed);
        assert_eq!(done.payment.captured_amount, usd(12_100));
        // Recorded once: a second answer (a racing recovery) is refused, and nothing is left over.
        let twice = store
            .finish_attempt(
                &partner,
                &new.payment_id,
                &AttemptResult::Declined {
                    code: DeclineCode::CardDeclined,
                },
                None,
                at,
            )
            .await;
        assert!(
            matches!(twice, Err(StoreError::AlreadyRecorded)),
            "[{name}] {twice:?}"
        );
        let abandoned = store
            .abandoned_attempts(at + time::Duration::minutes(10))
            .await
            .unwrap();
        assert!(
            !abandoned.contains(&(partner.clone(), new.payment_id.clone())),
            "[{name}]"
        );

        // The customer and the vaulted method exist; a second sale reuses both.
        assert_eq!(
            store
                .customer(&partner, &c.id)
                .await
                .unwrap()
                .unwrap()
                .first_name,
            "Ada"
        );
        let pm = store
            .payment_method(&partner, &method.id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(pm.customer_id.as_ref(), Some(&c.id));
        assert_eq!(pm.billing_first_name.as_deref(), Some("Ada"));
        let sealed = store
            .payment_method_vault(&partner, &method.id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(sealed.ciphertext, method.vault.ciphertext);
        let reuse = NewApiPayment {
            payment_id: PaymentId::generate(),
            idempotency_key: None,
            amount: usd(100),
            method: MethodUse::Existing {
                id: method.id.clone(),
                last4: "4242".into(),
                details: method.details.clone(),
            },
            customer: CustomerRef::Existing(c.id.clone()),
            invoice: invoice("1.00"),
            dynamic_descriptor: None,
        };
        store
            .begin_payment(&partner, &reuse, &by_at(at))
            .await
            .unwrap();
        store
            .finish_attempt(
                &partner,
                &reuse.payment_id,
                &AttemptResult::Approved {
                    funding: Funding::Credit,
                },
                None,
                at,
            )
            .await
            .unwrap();

        // Deleting the method destroys its vault entry; it can no longer be used.
        let stranger = new_partner(name, store).await;
        assert!(store
            .delete_payment_method(&stranger, &method.id, &by_at(at))
            .await
            .unwrap()
            .is_none());
        assert!(store
            .delete_payment_method(&partner, &method.id, &by_at(at))
            .await
            .unwrap()
            .is_some());
        assert!(store
            .payment_method(&partner, &method.id)
            .await
            .unwrap()
            .is_none());
        assert!(store
            .payment_method_vault(&partner, &method.id)
            .await
            .unwrap()
            .is_none());
        assert!(store
            .delete_payment_method(&partner, &method.id, &by_at(at))
            .await
            .unwrap()
            .is_none());
        let after = NewApiPayment {
            payment_id: PaymentId::generate(),
            idempotency_key: None,
            ..reuse
        };
        assert!(
            store
                .begin_payment(&partner, &after, &by_at(at))
                .await
                .is_err(),
            "[{name}] a deleted method"
        );
        // Another partner's customer cannot be charged.
        let foreign = NewApiPayment {
            payment_id: PaymentId::generate(),
            idempotency_key: None,
            amount: usd(100),
            method: MethodUse::New(new_method(&c.id)),
            customer: CustomerRef::Existing(c.id.clone()),
            invoice: invoice("1.00"),
            dynamic_descriptor: None,
        };
        assert!(
            store
                .begin_payment(&stranger, &foreign, &by_at(at))
                .await
                .is_err(),
            "[{name}]"
        );
    }
}

#[tokio::test]
async fn abandoned_authorizations_are_found_and_recorded_once() {
    for (name, store) in backends().await.iter() {
        let partner = new_partner(name, store).await;
        let at = micros(instant_in(2032));
        let c = customer(&partner, at);
        let new = NewAuthorization {
            id: AuthorizationId::generate(),
            idempotency_key: None,
            amount: usd(700),
            method: MethodUse::New(new_method(&c.id)),
            customer: CustomerRef::New(c),
            invoice: invoice("7.00"),
            dynamic_descriptor: None,
            expires_at: at + AUTHORIZATION_VALIDITY,
        };
        store
            .begin_authorization(&partner, &new, &by_at(at))
            .await
            .unwrap();
        let later = at + time::Duration::minutes(10);
        assert!(store
            .abandoned_authorizations(later)
            .await
            .unwrap()
            .contains(&(partner.clone(), new.id.clone())));
        let failed = store
            .finish_authorization(
                &partner,
                &new.id,
                &AuthorizationResult::Declined {
                    code: DeclineCode::CardDeclined,
                },
                None,
                later,
            )
            .await
            .unwrap();
        assert_eq!(failed.status, AuthorizationStatus::Failed);
        assert_eq!(failed.failure_code.as_deref(), Some("card_declined"));
        let twice = store
            .finish_authorization(
                &partner,
                &new.id,
                &AuthorizationResult::Authorized {
                    funding: Funding::Credit,
                },
                None,
                later,
            )
            .await;
        assert!(
            matches!(twice, Err(StoreError::AlreadyRecorded)),
            "[{name}]"
        );
        assert!(!store
            .abandoned_authorizations(later)
            .await
            .unwrap()
            .contains(&(partner.clone(), new.id.clone())));
        let refused = store
            .capture_authorization(&partner, &new.id, &capture(None), &by_at(later))
            .await
            .unwrap();
        assert!(
            matches!(refused, CaptureOutcome::NotCapturable(_)),
            "[{name}]"
        );
    }
}

#[tokio::test]
async fn customers_are_patched_listed_and_scoped() {
    for (name, store) in backends().await.iter() {
        let partner = new_partner(name, store).await;
        let at = now();
        let a = customer(&partner, at);
        let b = customer(&partner, at);
        store.create_customer(&a, &by()).await.unwrap();
        store.create_customer(&b, &by()).await.unwrap();
        let patch = CustomerPatch {
            last_name: Some("Byron".into()),
            email: Some(None),
            entity_use_code: Some(Some("E".into())),
            ..Default::default()
        };
        let later = at + time::Duration::seconds(5);
        let changed = store
            .update_customer(&partner, &a.id, &patch, &by_at(later))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(changed.first_name, "Ada", "[{name}] untouched");
        assert_eq!(changed.last_name, "Byron");
        assert_eq!(changed.email, None);
        assert_eq!(changed.entity_use_code.as_deref(), Some("E"));
        assert_eq!(changed.merchant_customer_ref_id, a.merchant_customer_ref_id);
        assert_eq!(changed.updated_at, later);
        let stranger = new_partner(name, store).await;
        assert!(store
            .update_customer(&stranger, &a.id, &patch, &by_at(later))
            .await
            .unwrap()
            .is_none());
        assert!(store.customer(&stranger, &a.id).await.unwrap().is_none());
        let Page::Items { data, has_more } = store
            .list_customers(
                &partner,
                &CustomerFilter::default(),
                &PageRequest {
                    limit: 1,
                    starting_after: None,
                },
            )
            .await
            .unwrap()
        else {
            panic!("no cursor given");
        };
        assert_eq!(data[0].id, b.id, "[{name}] newest first");
        assert!(has_more);
        let filter = CustomerFilter {
            merchant_customer_ref_id: a.merchant_customer_ref_id.clone(),
        };
        let Page::Items { data, .. } = store
            .list_customers(&partner, &filter, &PageRequest::default())
            .await
            .unwrap()
        else {
            panic!("no cursor given");
        };
        assert_eq!(data.iter().map(|c| &c.id).collect::<Vec<_>>(), [&a.id]);
    }
}

#[tokio::test]
async fn tax_rates_are_set_per_partner_and_code() {
    for (name, store) in backends().await.iter() {
        let partner = new_partner(name, store).await;
        let other = new_partner(name, store).await;
        store
            .set_tax_rate(
                &partner,
                "P0000000",
                TaxRate::parse("8.25").unwrap(),
                &by_at(now()),
            )
            .await
            .unwrap();
        store
            .set_tax_rate(
                &partner,
                "P0000000",
                TaxRate::parse("8.875").unwrap(),
                &by_at(now()),
            )
            .await
            .unwrap();
        store
            .set_tax_rate(
                &partner,
                "FR020100",
                TaxRate::parse("0").unwrap(),
                &by_at(now()),
            )
            .await
            .unwrap();
        let rates = store.tax_rates(&partner).await.unwrap();
        assert_eq!(
            rates.get("P0000000"),
            Some(TaxRate::parse("8.875").unwrap()),
            "[{name}]"
        );
        assert_eq!(rates.get("FR020100"), Some(TaxRate::from_e4(0)));
        assert_eq!(rates.get("p0000000"), None, "codes are exact");
        assert_eq!(store.tax_rates(&other).await.unwrap(), TaxRates::new());

        // A new rate is seen at once.
        store
            .set_tax_rate(
                &partner,
                "P0000000",
                TaxRate::parse("9").unwrap(),
                &by_at(now()),
            )
            .await
            .unwrap();
        assert_eq!(
            store.tax_rates(&partner).await.unwrap().get("P0000000"),
            Some(TaxRate::parse("9").unwrap()),
            "[{name}] a changed rate is read back at once"
        );
    }
}

#[tokio::test]
async fn a_capture_completes_when_confirmed_and_frees_the_hold_when_refused() {
    for (name, store) in backends().await.iter() {
        let partner = new_partner(name, store).await;
        let at = now();
        let auth = authorized(store, &partner, 3_000, at).await;
        let CaptureOutcome::Captured { payment, .. } = store
            .capture_authorization(&partner, &auth.id, &capture(Some(1_000)), &by_at(at))
            .await
            .unwrap()
        else {
            panic!("[{name}] capture refused");
        };
        let refused = store
            .finish_attempt(
                &partner,
                &payment.id,
                &AttemptResult::Declined {
                    code: DeclineCode::ProcessingError,
                },
                None,
                at,
            )
            .await
            .unwrap();
        assert_eq!(refused.payment.status, PaymentStatus::Failed);
        let freed = store
            .authorization(&partner, &auth.id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(freed.status, AuthorizationStatus::Authorized, "[{name}]");
        assert_eq!(freed.captured_amount, usd(0));
        assert_eq!(freed.payment_id, None);
        // Captured again (the failed payment does not count), and confirmed this time.
        let CaptureOutcome::Captured { payment, .. } = store
            .capture_authorization(&partner, &auth.id, &capture(Some(2_000)), &by_at(at))
            .await
            .unwrap()
        else {
            panic!("[{name}] second capture refused");
        };
        let done = store
            .finish_attempt(
                &partner,
                &payment.id,
                &AttemptResult::Approved {
                    funding: Funding::Credit,
                },
                None,
                at,
            )
            .await
            .unwrap();
        assert_eq!(done.payment.status, PaymentStatus::Completed);
        assert_eq!(done.payment.captured_amount, usd(2_000));
        let held = store
            .authorization(&partner, &auth.id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(held.status, AuthorizationStatus::Captured);
        assert_eq!(held.captured_amount, usd(2_000));
        assert_eq!(held.payment_id.as_ref(), Some(&payment.id));
    }
}

#[tokio::test]
async fn an_idempotency_key_finds_what_the_first_request_made() {
    for (name, store) in backends().await.iter() {
        let partner = new_partner(name, store).await;
        let at = now();
        let c = customer(&partner, at);
        let sale = |key: &str| NewApiPayment {
            payment_id: PaymentId::generate(),
            idempotency_key: Some(key.to_string()),
            amount: usd(500),
            method: MethodUse::New(new_method(&c.id)),
            customer: CustomerRef::New(customer(&partner, at)),
            invoice: invoice("5.00"),
            dynamic_descriptor: None,
        };
        let first = sale("k-1");
        let Begun::Started(made) = store
            .begin_payment(&partner, &first, &by_at(at))
            .await
            .unwrap()
        else {
            panic!("[{name}] new");
        };
        match store
            .begin_payment(&partner, &sale("k-1"), &by_at(at))
            .await
            .unwrap()
        {
            Begun::Existing(found) => assert_eq!(found.id, made.id, "[{name}]"),
            other => panic!("[{name}] {other:?}"),
        }
        // Keys are the partner's own.
        let other = new_partner(name, store).await;
        let theirs = NewApiPayment {
            method: MethodUse::New(new_method(&c.id)),
            customer: CustomerRef::New(customer(&other, at)),
            ..sale("k-1")
        };
        let mut theirs = theirs;
        if let MethodUse::New(m) = &mut theirs.method {
            m.owner.customer_id = Some(theirs.customer.id().clone());
        }
        assert!(
            matches!(
                store
                    .begin_payment(&other, &theirs, &by_at(at))
                    .await
                    .unwrap(),
                Begun::Started(_)
            ),
            "[{name}]"
        );
        // The same for authorizations and captures.
        let auth = authorized(store, &partner, 900, at).await;
        let keyed = NewCapture {
            idempotency_key: Some("k-2".into()),
            ..capture(Some(100))
        };
        let CaptureOutcome::Captured { payment, .. } = store
            .capture_authorization(&partner, &auth.id, &keyed, &by_at(at))
            .await
            .unwrap()
        else {
            panic!("[{name}] capture refused");
        };
        let again = NewCapture {
            idempotency_key: Some("k-2".into()),
            ..capture(Some(100))
        };
        match store
            .capture_authorization(&partner, &auth.id, &again, &by_at(at))
            .await
            .unwrap()
        {
            CaptureOutcome::Existing(found) => assert_eq!(found.id, payment.id),
            other => panic!("[{name}] {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_sale_that_fails_part_way_leaves_none_of_its_rows() {
    for (name, store) in backends().await.iter() {
        let partner = new_partner(name, store).await;
        let at = micros(instant_in(2032));
        let sale = |payment_id: PaymentId| {
            let c = customer(&partner, at);
            let method = new_method(&c.id);
            NewApiPayment {
                payment_id,
                idempotency_key: None,
                amount: usd(2_500),
                method: MethodUse::New(method),
                customer: CustomerRef::New(c),
                invoice: invoice("25.00"),
                dynamic_descriptor: None,
            }
        };
        let first = sale(PaymentId::generate());
        assert!(matches!(
            store.begin_payment(&partner, &first, &by_at(at)).await,
            Ok(Begun::Started(_))
        ));
        // The customer, vault entry and method go in one round trip with the payment, which
        // then fails (its id is taken): none of them may stay.
        let clash = sale(first.payment_id.clone());
        let failed = store.begin_payment(&partner, &clash, &by_at(at)).await;
        assert!(failed.is_err(), "[{name}] {failed:?}");
        assert_eq!(
            store.customer(&partner, clash.customer.id()).await.unwrap(),
            None,
            "[{name}] no customer left behind"
        );
        assert_eq!(
            store
                .payment_method(&partner, clash.method.id())
                .await
                .unwrap(),
            None,
            "[{name}] no payment method left behind"
        );
        // And the next write goes through as usual.
        let next = sale(PaymentId::generate());
        assert!(
            matches!(
                store.begin_payment(&partner, &next, &by_at(at)).await,
                Ok(Begun::Started(_))
            ),
            "[{name}]"
        );
        assert!(store
            .customer(&partner, next.customer.id())
            .await
            .unwrap()
            .is_some());
    }
}
