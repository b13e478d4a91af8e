//! Columns as Kassa stores them: times as microseconds, a money's currency, JSON text, a masked
//! instrument, and the error for a stored value that makes no sense. Shared by every query file.

use kassa_core::ach::AccountType;
use kassa_core::card::CardBrand;
use kassa_core::clock::{from_micros, to_micros};
use kassa_core::money::Currency;
use kassa_core::payment::{Funding, MaskedMethod};
use time::OffsetDateTime;

use crate::db::Row;
use crate::model::*;
use crate::Result;

pub(crate) fn bad(what: &str) -> crate::StoreError {
    crate::StoreError::Corrupt(what.to_string())
}

pub(crate) fn micros(t: Option<OffsetDateTime>) -> Option<i64> {
    t.map(to_micros)
}

pub(crate) fn time_opt(v: Option<i64>) -> Option<OffsetDateTime> {
    v.map(from_micros)
}

pub(crate) fn currency_of(row: &Row) -> Result<Currency> {
    let c: String = row.try_get("currency")?;
    Currency::parse(&c).map_err(|_| bad("currency"))
}

/// The masked instrument of a payments, authorizations or payment_methods row; `funding`
/// is read only where the table has it.
pub(crate) fn masked_from_row(row: &Row, with_funding: bool) -> Result<MaskedMethod> {
    let method_type: String = row.try_get("method_type")?;
    let last4: Option<String> = row.try_get("last4")?;
    Ok(match method_type.as_str() {
        "card" => MaskedMethod::Card {
            brand: row
                .try_get::<Option<String>, _>("brand")?
                .as_deref()
                .and_then(CardBrand::parse_str)
                .ok_or_else(|| bad("card brand"))?,
            funding: if with_funding {
                row.try_get::<Option<String>, _>("funding")?
                    .as_deref()
                    .and_then(Funding::parse_str)
                    .unwrap_or(Funding::Unknown)
            } else {
                Funding::Unknown
            },
            last4: last4.ok_or_else(|| bad("last4"))?,
            exp_month: row
                .try_get::<Option<i32>, _>("exp_month")?
                .unwrap_or_default(),
            exp_year: row
                .try_get::<Option<i32>, _>("exp_year")?
                .unwrap_or_default(),
        },
        "ach" => MaskedMethod::Ach {
            account_type: row
                .try_get::<Option<String>, _>("account_type")?
                .as_deref()
                .and_then(|t| AccountType::parse(t).ok())
                .ok_or_else(|| bad("account type"))?,
            routing_number: row
                .try_get::<Option<String>, _>("routing_number")?
                .unwrap_or_default(),
            last4: last4.ok_or_else(|| bad("last4"))?,
        },
        "google_pay" => MaskedMethod::GooglePay {
            brand: row
                .try_get::<Option<String>, _>("brand")?
                .as_deref()
                .and_then(CardBrand::parse_str),
            last4: last4.filter(|l| !l.is_empty()),
        },
        _ => return Err(bad("payment method type")),
    })
}

pub(crate) fn json_opt<T: serde::de::DeserializeOwned>(row: &Row, col: &str) -> Result<Option<T>> {
    row.try_get::<Option<String>, _>(col)?
        .map(|text| serde_json::from_str(&text).map_err(|_| bad(col)))
        .transpose()
}

pub(crate) fn to_json<T: serde::Serialize>(value: &T) -> Result<String> {
    serde_json::to_string(value).map_err(|_| bad("json"))
}

/// The masked columns of an instrument: (type, brand, exp month, exp year, postal code,
/// routing number, account type).
#[allow(clippy::type_complexity)]
pub(crate) fn method_columns(
    details: &MethodDetails,
) -> (
    &'static str,
    Option<&'static str>,
    Option<i32>,
    Option<i32>,
    Option<&str>,
    Option<&str>,
    Option<&'static str>,
) {
    match details {
        MethodDetails::Card {
            brand,
            exp_month,
            exp_year,
            postal_code,
        } => (
            "card",
            Some(brand.as_str()),
            Some(*exp_month),
            Some(*exp_year),
            postal_code.as_deref(),
            None,
            None,
        ),
        MethodDetails::Ach {
            routing_number,
            account_type,
        } => (
            "ach",
            None,
            None,
            None,
            None,
            Some(routing_number.as_str()),
            Some(account_type.as_str()),
        ),
        MethodDetails::GooglePay { brand } => (
            "google_pay",
            brand.map(CardBrand::as_str),
            None,
            None,
            None,
            None,
            None,
        ),
    }
}

pub(crate) fn unique_violation_field(err: &crate::StoreError) -> Option<&'static str> {
    err.unique_violation().map(|msg| {
        if msg.contains("billing_host") {
            "billing host"
        } else if msg.contains("slug") {
            "slug"
        } else {
            "id"
        }
    })
}

/// Columns of `payment_requests`, in the order `pr_from_row` reads them by name.
macro_rules! pr_cols {
    () => {
        "id, partner_id, reference_id, amount, currency, status, url, redirect_url, description, \
         payer_email, metadata, created_at, completed_at, expires_at, payment_id, \
         attempt_payment_id, attempt_count"
    };
}

macro_rules! payment_cols {
    () => {
        "id, partner_id, source, status, amount, currency, captured_amount, refunded_amount, \
         customer_id, payment_method_id, authorization_id, payment_request_id, reference_id, \
         method_type, brand, funding, last4, exp_month, exp_year, routing_number, account_type, \
         failure_code, failure_message, created_at, completed_at, invoice, dynamic_descriptor, \
         processor, processor_reference, ach_accepted_at, ach_ip, ach_user_agent, ach_text_version, \
         payer_name, payer_email"
    };
}

macro_rules! customer_cols {
    () => {
        "id, partner_id, first_name, last_name, email, merchant_customer_ref_id, entity_use_code, \
         created_at, updated_at"
    };
}

macro_rules! pm_cols {
    () => {
        "id, partner_id, customer_id, method_type, brand, last4, exp_month, exp_year, routing_number, \
         account_type, billing_first_name, billing_last_name, billing_address, \
         merchant_payment_method_ref_id, created_at, deleted_at"
    };
}

macro_rules! refund_cols {
    () => {
        "id, partner_id, payment_id, amount, currency, status, reason, failure_code, failure_message, \
         payout_id, created_at, created_by_type, created_by_id, created_by_name, processor, \
         processor_reference"
    };
}

macro_rules! auth_cols {
    () => {
        "id, partner_id, status, amount, currency, captured_amount, customer_id, payment_method_id, \
         capture_payment_id, method_type, brand, funding, last4, exp_month, exp_year, invoice, \
         dynamic_descriptor, failure_code, failure_message, created_at, expires_at, captured_at, \
         reversed_at, processor, processor_reference"
    };
}

macro_rules! partner_cols {
    ($p:literal) => {
        concat!(
            $p,
            "id, ",
            $p,
            "slug, ",
            $p,
            "name, ",
            $p,
            "billing_host, ",
            $p,
            "billing_host_status, ",
            $p,
            "billing_host_token, ",
            $p,
            "brand_color, ",
            $p,
            "logo_url, ",
            $p,
            "default_redirect_url, ",
            $p,
            "require_signed_links, ",
            $p,
            "allowed_redirect_hosts, ",
            $p,
            "require_two_factor, ",
            $p,
            "link_secret_nonce, ",
            $p,
            "link_secret_ciphertext, ",
            $p,
            "created_at, ",
            $p,
            "challenge_mode_until, ",
            $p,
            "processor, ",
            $p,
            "support_email, ",
            $p,
            "support_phone, ",
            $p,
            "support_url, ",
            $p,
            "terms_url, ",
            $p,
            "privacy_url, ",
            $p,
            "notification_email, ",
            $p,
            "timezone"
        )
    };
}

pub(crate) use {
    auth_cols, customer_cols, partner_cols, payment_cols, pm_cols, pr_cols, refund_cols,
};

/// `processor` and `processor_reference` of a payment, authorization or refund row.
pub(crate) fn processor_from_row(
    row: &crate::db::Row,
) -> crate::Result<kassa_core::processor::ProcessorRef> {
    let connector: String = row.try_get("processor")?;
    kassa_core::processor::ProcessorRef::from_columns(
        &connector,
        row.try_get("processor_reference")?,
    )
    .ok_or_else(|| crate::StoreError::Corrupt(format!("unknown processor {connector:?}")))
}

/// The payer's authorization of a bank debit, when the row has one.
pub(crate) fn ach_authorization_from_row(
    row: &crate::db::Row,
) -> crate::Result<Option<kassa_core::ach::AchAuthorization>> {
    let Some(accepted_at) = row.try_get::<Option<i64>, _>("ach_accepted_at")? else {
        return Ok(None);
    };
    Ok(Some(kassa_core::ach::AchAuthorization {
        accepted_at: kassa_core::clock::from_micros(accepted_at),
        ip: row.try_get("ach_ip")?,
        user_agent: row.try_get("ach_user_agent")?,
        text_version: row
            .try_get::<Option<String>, _>("ach_text_version")?
            .unwrap_or_default(),
    }))
}
