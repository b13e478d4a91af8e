//! The `Store` conformance suite for `ProcessorStore` (docs/api.md §10), identical on both
//! backends: a partner's processor and account (set, replaced, for an unknown partner), the
//! processor events applied once, and the records a notification names by the processor's id —
//! never another partner's.

mod common;

use std::sync::Arc;

use common::{backends, by_at, card_attempt, instant_in, micros, new_partner};
use kassa_core::authorization::AUTHORIZATION_VALIDITY;
use kassa_core::customer::Customer;
use kassa_core::error::FieldErrors;
use kassa_core::id::{AuthorizationId, CustomerId, InvoiceId, PartnerId, PaymentId, RefundId};
use kassa_core::invoice::{Invoice, InvoiceInput, TaxRates};
use kassa_core::money::{Currency, Money};
use kassa_core::payment::Funding;
use kassa_core::processor::Connector;
use kassa_store::{
    AttemptResult, AuthorizationResult, Begun, CustomerRef, MethodUse, NewApiPayment,
    NewAuthorization, NewRefund, ProcessorAccount, Referenced, RefundBegin, RefundResult,
    SealedSecret, Store,
};
use time::OffsetDateTime;

fn account(
    partner: &PartnerId,
    connector: Connector,
    base: &str,
    at: OffsetDateTime,
) -> ProcessorAccount {
    ProcessorAccount {
        partner_id: partner.clone(),
        connector,
        api_base: base.into(),
        login_id: (connector == Connector::AuthorizeNet).then(|| "login-1".to_string()),
        credentials: SealedSecret {
            nonce: vec![7; 12],
            ciphertext: format!("sealed for {base}").into_bytes(),
        },
        updated_at: at,
    }
}

fn customer(partner: &PartnerId, at: OffsetDateTime) -> Customer {
    Customer {
        id: CustomerId::generate(),
        partner_id: partner.clone(),
        object: Default::default(),
        first_name: "Ada".into(),
        last_name: "Lovelace".into(),
        email: None,
        merchant_customer_ref_id: None,
        entity_use_code: None,
        created_at: at,
        updated_at: at,
    }
}

fn invoice(total: &str) -> Invoice {
    let input: InvoiceInput = serde_json::from_value(serde_json::json!({
        "invoiceLineItems": [{"name": "Consulting", "value": total, "valueType": "Standard"}]
    }))
    .unwrap();
    let mut errors = FieldErrors::new();
    input
        .validate("invoice", Currency::Usd, 99_999_999, &mut errors)
        .expect("a valid invoice")
        .price(InvoiceId::generate(), &TaxRates::new(), false)
}

fn method(c: &Customer) -> MethodUse {
    let mut m = card_attempt().method;
    m.owner.customer_id = Some(c.id.clone());
    MethodUse::New(m)
}

/// An API sale of 50.00 approved with `reference`.
async fn sale(
    store: &Arc<dyn Store>,
    partner: &PartnerId,
    reference: &str,
    at: OffsetDateTime,
) -> PaymentId {
    let c = customer(partner, at);
    let new = NewApiPayment {
        payment_id: PaymentId::generate(),
        idempotency_key: None,
        amount: Money::new(5_000, Currency::Usd),
        method: method(&c),
        customer: CustomerRef::New(c),
        invoice: invoice("50.00"),
        dynamic_descriptor: None,
    };
    let Begun::Started(_) = store
        .begin_payment(partner, &new, &by_at(at))
        .await
        .unwrap()
    else {
        panic!("a new payment");
    };
    store
        .finish_attempt(
            partner,
            &new.payment_id,
            &AttemptResult::Approved {
                funding: Funding::Credit,
            },
            Some(reference),
            at,
        )
        .await
        .unwrap();
    new.payment_id
}

#[tokio::test]
async fn a_partners_processor_and_account_are_set_and_replaced() {
    for (name, store) in backends().await.iter() {
        let at = micros(instant_in(2032));
        let partner = new_partner(name, store).await;
        // The sandbox: no account.
        assert_eq!(
            store
                .set_processor(&partner, Connector::Sandbox, None, &by_at(at))
                .await
                .unwrap(),
            Some(()),
            "[{name}]"
        );
        assert_eq!(
            store
                .partner_by_id(&partner)
                .await
                .unwrap()
                .unwrap()
                .processor,
            Connector::Sandbox
        );
        assert!(store
            .processor_account(&partner, Connector::Stripe)
            .await
            .unwrap()
            .is_none());

        let first = account(&partner, Connector::Stripe, "http://127.0.0.1:1", at);
        store
            .set_processor(&partner, Connector::Stripe, Some(&first), &by_at(at))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            store
                .partner_by_id(&partner)
                .await
                .unwrap()
                .unwrap()
                .processor,
            Connector::Stripe,
            "[{name}]"
        );
        assert_eq!(
            store
                .processor_account(&partner, Connector::Stripe)
                .await
                .unwrap(),
            Some(first.clone()),
            "[{name}]"
        );
        // Replaced, not added.
        let later = at + time::Duration::minutes(1);
        let second = account(&partner, Connector::Stripe, "https://api.stripe.com", later);
        store
            .set_processor(&partner, Connector::Stripe, Some(&second), &by_at(later))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            store
                .processor_account(&partner, Connector::Stripe)
                .await
                .unwrap(),
            Some(second.clone()),
            "[{name}]"
        );
        // Another connector's account stands beside it; the Stripe one is kept for old records.
        let anet = account(
            &partner,
            Connector::AuthorizeNet,
            "https://apitest.authorize.net",
            later,
        );
        store
            .set_processor(
                &partner,
                Connector::AuthorizeNet,
                Some(&anet),
                &by_at(later),
            )
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            store
                .partner_by_id(&partner)
                .await
                .unwrap()
                .unwrap()
                .processor,
            Connector::AuthorizeNet
        );
        assert_eq!(
            store
                .processor_account(&partner, Connector::AuthorizeNet)
                .await
                .unwrap(),
            Some(anet),
            "[{name}]"
        );
        assert_eq!(
            store
                .processor_account(&partner, Connector::Stripe)
                .await
                .unwrap(),
            Some(second),
            "[{name}]"
        );
        // Back to the sandbox.
        store
            .set_processor(&partner, Connector::Sandbox, None, &by_at(later))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            store
                .partner_by_id(&partner)
                .await
                .unwrap()
                .unwrap()
                .processor,
            Connector::Sandbox
        );

        // Another partner sees none of it; an unknown partner is None and gets nothing.
        let other = new_partner(name, store).await;
        assert!(
            store
                .processor_account(&other, Connector::Stripe)
                .await
                .unwrap()
                .is_none(),
            "[{name}]"
        );
        let ghost = PartnerId::generate();
        let ghost_account = account(&ghost, Connector::Stripe, "http://127.0.0.1:2", at);
        assert_eq!(
            store
                .set_processor(&ghost, Connector::Stripe, Some(&ghost_account), &by_at(at))
                .await
                .unwrap(),
            None,
            "[{name}]"
        );
        assert!(
            store
                .processor_account(&ghost, Connector::Stripe)
                .await
                .unwrap()
                .is_none(),
            "[{name}]"
        );
    }
}

#[tokio::test]
async fn a_processor_event_is_noted_once_per_partner_and_connector() {
    for (name, store) in backends().await.iter() {
        let at = micros(instant_in(2032));
        let partner = new_partner(name, store).await;
        let other = new_partner(name, store).await;
        let event = format!("evt_{}", kassa_core::id::random_base62(12));
        assert!(!store
            .processor_event_seen(&partner, Connector::Stripe, &event)
            .await
            .unwrap());
        assert!(
            store
                .note_processor_event(&partner, Connector::Stripe, &event, at)
                .await
                .unwrap(),
            "[{name}]"
        );
        assert!(store
            .processor_event_seen(&partner, Connector::Stripe, &event)
            .await
            .unwrap());
        assert!(
            !store
                .note_processor_event(&partner, Connector::Stripe, &event, at)
                .await
                .unwrap(),
            "[{name}] second note"
        );
        // The same id from another connector or for another partner is another event.
        assert!(
            !store
                .processor_event_seen(&partner, Connector::AuthorizeNet, &event)
                .await
                .unwrap(),
            "[{name}]"
        );
        assert!(
            !store
                .processor_event_seen(&other, Connector::Stripe, &event)
                .await
                .unwrap(),
            "[{name}]"
        );
        assert!(
            store
                .note_processor_event(&other, Connector::Stripe, &event, at)
                .await
                .unwrap(),
            "[{name}]"
        );
    }
}

#[tokio::test]
async fn records_are_found_by_the_processors_reference_for_their_partner_only() {
    for (name, store) in backends().await.iter() {
        let at = micros(instant_in(2032));
        let partner = new_partner(name, store).await;
        store
            .set_processor(
                &partner,
                Connector::Stripe,
                Some(&account(
                    &partner,
                    Connector::Stripe,
                    "http://127.0.0.1:1",
                    at,
                )),
                &by_at(at),
            )
            .await
            .unwrap()
            .unwrap();
        let tag = kassa_core::id::random_base62(10);
        let pi = format!("pi_{tag}");
        let payment = sale(store, &partner, &pi, at).await;
        match store
            .by_processor_reference(&partner, Connector::Stripe, &pi)
            .await
            .unwrap()
        {
            Some(Referenced::Payment(p)) => {
                assert_eq!(p.id, payment, "[{name}]");
                assert_eq!(p.processor.connector, Connector::Stripe);
                assert_eq!(p.processor.reference.as_deref(), Some(pi.as_str()));
            }
            other => panic!("[{name}] {other:?}"),
        }
        // Another connector, another partner, another reference: not found.
        assert!(
            store
                .by_processor_reference(&partner, Connector::AuthorizeNet, &pi)
                .await
                .unwrap()
                .is_none(),
            "[{name}]"
        );
        let other = new_partner(name, store).await;
        assert!(
            store
                .by_processor_reference(&other, Connector::Stripe, &pi)
                .await
                .unwrap()
                .is_none(),
            "[{name}]"
        );
        assert!(store
            .by_processor_reference(&partner, Connector::Stripe, "pi_nothing")
            .await
            .unwrap()
            .is_none());

        // An authorization.
        let c = customer(&partner, at);
        let auth = NewAuthorization {
            id: AuthorizationId::generate(),
            idempotency_key: None,
            amount: Money::new(7_000, Currency::Usd),
            method: method(&c),
            customer: CustomerRef::New(c),
            invoice: invoice("70.00"),
            dynamic_descriptor: None,
            expires_at: at + AUTHORIZATION_VALIDITY,
        };
        let Begun::Started(_) = store
            .begin_authorization(&partner, &auth, &by_at(at))
            .await
            .unwrap()
        else {
            panic!("[{name}] a new authorization");
        };
        // Before it is released, the job finds it by id alone.
        let held_pi = format!("pi_held_{tag}");
        store
            .finish_authorization(
                &partner,
                &auth.id,
                &AuthorizationResult::Authorized {
                    funding: Funding::Credit,
                },
                Some(&held_pi),
                at,
            )
            .await
            .unwrap();
        match store
            .by_processor_reference(&partner, Connector::Stripe, &held_pi)
            .await
            .unwrap()
        {
            Some(Referenced::Authorization(a)) => assert_eq!(a.id, auth.id, "[{name}]"),
            other => panic!("[{name}] {other:?}"),
        }
        let to_release = store
            .authorization_to_release(&auth.id)
            .await
            .unwrap()
            .expect("found by id alone");
        assert_eq!(to_release.partner_id, partner, "[{name}]");
        assert_eq!(
            to_release.processor.reference.as_deref(),
            Some(held_pi.as_str())
        );
        assert!(store
            .authorization_to_release(&AuthorizationId::generate())
            .await
            .unwrap()
            .is_none());

        // A refund.
        let refund = NewRefund {
            id: RefundId::generate(),
            amount: Some(Money::new(1_000, Currency::Usd)),
            reason: None,
            idempotency_key: None,
        };
        let RefundBegin::Started { .. } = store
            .begin_refund(&partner, &payment, &refund, &by_at(at))
            .await
            .unwrap()
        else {
            panic!("[{name}] a new refund");
        };
        let re = format!("re_{tag}");
        store
            .finish_refund(
                &partner,
                &refund.id,
                &RefundResult::Succeeded,
                Some(&re),
                at,
            )
            .await
            .unwrap();
        match store
            .by_processor_reference(&partner, Connector::Stripe, &re)
            .await
            .unwrap()
        {
            Some(Referenced::Refund(r)) => {
                assert_eq!(r.id, refund.id, "[{name}]");
                assert_eq!(r.processor.connector, Connector::Stripe);
            }
            other => panic!("[{name}] {other:?}"),
        }
        assert!(
            store
                .by_processor_reference(&other, Connector::Stripe, &re)
                .await
                .unwrap()
                .is_none(),
            "[{name}]"
        );
    }
}
