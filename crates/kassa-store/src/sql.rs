//! The SQL both backends share. The schema differs per backend (see `migrations/`), but every
//! statement here is written once, in the dialect SQLite and PostgreSQL have in common
//! (`$n` parameters, `RETURNING`, `ON CONFLICT`), and expanded for each backend by
//! [`store_impl!`]. Backend-only clauses come in as macro arguments.

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
         failure_code, failure_message, created_at, completed_at, invoice, dynamic_descriptor"
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
         payout_id, created_at"
    };
}

macro_rules! auth_cols {
    () => {
        "id, partner_id, status, amount, currency, captured_amount, customer_id, payment_method_id, \
         capture_payment_id, method_type, brand, funding, last4, exp_month, exp_year, invoice, \
         dynamic_descriptor, failure_code, failure_message, created_at, expires_at, captured_at, \
         reversed_at"
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
            "brand_color, ",
            $p,
            "logo_url, ",
            $p,
            "default_redirect_url, ",
            $p,
            "require_signed_links, ",
            $p,
            "link_secret, ",
            $p,
            "created_at"
        )
    };
}

/// A LIKE pattern matching text that contains `q`, ignoring ASCII case (compare with LOWER()).
/// Only ASCII is folded, as SQLite's LOWER() does, so both backends find the same rows.
pub(crate) fn like_contains(q: &str) -> String {
    let escaped = q
        .to_ascii_lowercase()
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

/// `sql` with every parameter `$n` numbered `$(n + offset)` instead, to append it to a
/// multi-statement query whose earlier statements bind `offset` values. Parameters are the only
/// `$` in Kassa's SQL (no string literal holds one).
pub(crate) fn renumber_params(sql: &str, offset: usize) -> String {
    debug_assert!(
        !param_in_literal(sql),
        "a `$n` inside a string literal would be renumbered: {sql}"
    );
    let mut out = String::with_capacity(sql.len() + 16);
    let mut rest = sql;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..=at]);
        rest = &rest[at + 1..];
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        match rest[..digits].parse::<usize>() {
            Ok(n) => out.push_str(&(n + offset).to_string()),
            Err(_) => out.push_str(&rest[..digits]),
        }
        rest = &rest[digits..];
    }
    out.push_str(rest);
    out
}

/// A value a [`Batch`](store_impl) binds, made owned: a batch's arguments outlive the caller's
/// borrows, since its first round trip may run in a task of its own (see `sqlite.rs`).
pub(crate) trait OwnedArg {
    type Owned: Send + 'static;
    fn owned(self) -> Self::Owned;
}

impl OwnedArg for &str {
    type Owned = String;
    fn owned(self) -> String {
        self.to_string()
    }
}

impl OwnedArg for Option<&str> {
    type Owned = Option<String>;
    fn owned(self) -> Option<String> {
        self.map(str::to_string)
    }
}

impl OwnedArg for &[u8] {
    type Owned = Vec<u8>;
    fn owned(self) -> Vec<u8> {
        self.to_vec()
    }
}

macro_rules! owned_as_is {
    ($($t:ty),*) => {$(
        impl OwnedArg for $t {
            type Owned = $t;
            fn owned(self) -> $t {
                self
            }
        }
    )*};
}

owned_as_is!(
    String,
    Option<String>,
    i64,
    Option<i64>,
    i32,
    Option<i32>,
    bool,
    Vec<u8>
);

/// Whether a `$` followed by a digit appears inside a `'…'` literal of `sql`.
fn param_in_literal(sql: &str) -> bool {
    let mut quoted = false;
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' => quoted = !quoted,
            '$' if quoted && chars.peek().is_some_and(char::is_ascii_digit) => return true,
            _ => {}
        }
    }
    false
}

/// Implements [`crate::Store`] for `$store`, which must offer `reader()`, `read_cache()` and
/// `begin_write()`. `$skip_locked` is appended to the job-claiming subquery (`FOR UPDATE SKIP
/// LOCKED` on PostgreSQL; SQLite has a single writer and needs nothing). `multi_statement` says
/// whether one query may hold several `;`-separated statements with parameters (SQLite: yes;
/// PostgreSQL prepares one statement at a time), which [`Batch`] uses to save round trips.
macro_rules! store_impl {
    ($store:ty, $db:ty, $row:ty, skip_locked = $skip_locked:literal, multi_statement = $multi:literal) => {
        use async_trait::async_trait;
        use kassa_core::ach::AccountType;
        use kassa_core::card::CardBrand;
        use kassa_core::clock::{from_micros, to_micros};
        use kassa_core::email::Email;
        use kassa_core::authorization::{Authorization, AuthorizationStatus};
        use kassa_core::customer::{Customer, CustomerPatch};
        use kassa_core::id::{
            ApiKeyId, AuthorizationId, CustomerId, EventId, JobId, LedgerEntryId, PartnerId, PaymentId,
            PaymentMethodId, PaymentRequestId, PayoutId, RefundId, UserId, VaultEntryId,
        };
        use kassa_core::fee::{FeeMethod, FeeSchedule};
        use kassa_core::invoice::{TaxRate, TaxRates};
        use kassa_core::ledger::{Account, PostingSet};
        use kassa_core::payout::{Payout, PayoutItem, PayoutItemType, PayoutStatus};
        use kassa_core::percent::Percent;
        use kassa_core::refund::{Refund, RefundStatus};
        use kassa_core::payment_method::PaymentMethod;
        use kassa_core::money::{Currency, Money};
        use kassa_core::partner::{BillingHost, BrandColor, LogoUrl, Slug};
        use kassa_core::payment::{AchResolution, Funding, MaskedMethod, Payment, PaymentSource, PaymentStatus};
        use kassa_core::payment_request::{PaymentRequest, PaymentRequestStatus, FAILED_ATTEMPT_WINDOW, MAX_FAILED_ATTEMPTS};
        use kassa_core::reference::ReferenceId;
        use kassa_core::secret::Secret;
        use kassa_core::url::RedirectUrl;
        use sqlx::Row as _;
        use time::OffsetDateTime;

        use crate::model::*;
        use crate::{Result, Store};

        type Tx<'a> = BackendTx<'a>;

        fn bad(what: &str) -> crate::StoreError {
            crate::StoreError::Inconsistent(what.to_string())
        }

        /// Statements that go to the database together, in order, in the caller's transaction;
        /// the first failure stops the rest (and the caller's transaction is rolled back).
        ///
        /// Where the backend takes several statements in one query (SQLite), they go as one
        /// `;`-separated query with the parameters renumbered: one round trip to the
        /// connection's thread instead of one per statement, which is what a write costs most
        /// there. Elsewhere (PostgreSQL) they run one after the other, as separate queries.
        struct Batch {
            /// One entry per round trip: its SQL and its arguments.
            queries: Vec<(String, <$db as sqlx::Database>::Arguments<'static>)>,
            /// The first value that could not be encoded, reported when the batch runs.
            error: Option<sqlx::error::BoxDynError>,
        }

        impl Batch {
            fn new() -> Self {
                Self { queries: Vec::new(), error: None }
            }

            /// Appends a statement numbering its parameters from `$1`; bind them next, in order.
            fn push(&mut self, sql: &str) -> &mut Self {
                match self.queries.last_mut() {
                    Some((text, args)) if $multi => {
                        let offset = sqlx::Arguments::len(args);
                        text.push_str(";\n");
                        text.push_str(&crate::sql::renumber_params(sql, offset));
                    }
                    _ => self.queries.push((sql.to_string(), Default::default())),
                }
                self
            }

            fn bind<T>(&mut self, value: T) -> &mut Self
            where
                T: crate::sql::OwnedArg,
                T::Owned: sqlx::Encode<'static, $db> + sqlx::Type<$db>,
            {
                let (_, args) = self.queries.last_mut().expect("Batch::bind after Batch::push");
                if let Err(e) = sqlx::Arguments::add(args, value.owned()) {
                    self.error.get_or_insert(e);
                }
                self
            }

            /// Runs the statements; the rows any of them return, in order.
            async fn fetch_all(self, tx: &mut Tx<'_>) -> Result<Vec<$row>> {
                if let Some(e) = self.error {
                    return Err(sqlx::Error::Encode(e).into());
                }
                let mut rows = Vec::new();
                for (sql, args) in self.queries {
                    rows.extend(backend_fetch(tx, sql, args).await?);
                }
                Ok(rows)
            }

            async fn execute(self, tx: &mut Tx<'_>) -> Result<()> {
                self.fetch_all(tx).await.map(drop)
            }
        }

        fn micros(t: Option<OffsetDateTime>) -> Option<i64> {
            t.map(to_micros)
        }

        fn time_opt(v: Option<i64>) -> Option<OffsetDateTime> {
            v.map(from_micros)
        }

        fn currency_of(row: &$row) -> Result<Currency> {
            let c: String = row.try_get("currency")?;
            Currency::parse(&c).map_err(|_| bad("currency"))
        }

        fn partner_from_row(row: &$row) -> Result<Partner> {
            Ok(Partner {
                id: PartnerId::from_trusted(row.try_get("id")?),
                slug: Slug::from_trusted(row.try_get("slug")?),
                name: row.try_get("name")?,
                billing_host: row.try_get::<Option<String>, _>("billing_host")?.map(BillingHost::from_trusted),
                brand_color: BrandColor::from_trusted(row.try_get("brand_color")?),
                logo_url: row.try_get::<Option<String>, _>("logo_url")?.map(LogoUrl::from_trusted),
                default_redirect_url: row
                    .try_get::<Option<String>, _>("default_redirect_url")?
                    .map(RedirectUrl::from_trusted),
                require_signed_links: row.try_get("require_signed_links")?,
                link_secret: Secret::new(row.try_get("link_secret")?),
                created_at: from_micros(row.try_get("created_at")?),
            })
        }

        fn api_key_from_row(row: &$row) -> Result<ApiKeyRecord> {
            Ok(ApiKeyRecord {
                id: ApiKeyId::from_trusted(row.try_get("id")?),
                partner_id: PartnerId::from_trusted(row.try_get("partner_id")?),
                label: row.try_get("label")?,
                prefix: row.try_get("prefix")?,
                key_hash: row.try_get("key_hash")?,
                created_at: from_micros(row.try_get("created_at")?),
                revoked_at: time_opt(row.try_get("revoked_at")?),
            })
        }

        fn pr_from_row(row: &$row) -> Result<PaymentRequest> {
            let currency = currency_of(row)?;
            let status: String = row.try_get("status")?;
            let metadata: String = row.try_get("metadata")?;
            Ok(PaymentRequest {
                id: PaymentRequestId::from_trusted(row.try_get("id")?),
                partner_id: PartnerId::from_trusted(row.try_get("partner_id")?),
                object: Default::default(),
                reference_id: ReferenceId::from_trusted(row.try_get("reference_id")?),
                amount: Money::new(row.try_get("amount")?, currency),
                currency,
                status: PaymentRequestStatus::parse_str(&status).ok_or_else(|| bad("payment request status"))?,
                url: row.try_get("url")?,
                redirect_url: row.try_get::<Option<String>, _>("redirect_url")?.map(RedirectUrl::from_trusted),
                description: row.try_get("description")?,
                payer_email: row.try_get::<Option<String>, _>("payer_email")?.map(Email::from_trusted),
                metadata: serde_json::from_str(&metadata).map_err(|_| bad("metadata"))?,
                created_at: from_micros(row.try_get("created_at")?),
                completed_at: time_opt(row.try_get("completed_at")?),
                expires_at: time_opt(row.try_get("expires_at")?),
                payment_id: row.try_get::<Option<String>, _>("payment_id")?.map(PaymentId::from_trusted),
                attempt_count: row.try_get("attempt_count")?,
                attempt_payment_id: row
                    .try_get::<Option<String>, _>("attempt_payment_id")?
                    .map(PaymentId::from_trusted),
            })
        }

        /// The masked instrument of a payments, authorizations or payment_methods row; `funding`
        /// is read only where the table has it.
        fn masked_from_row(row: &$row, with_funding: bool) -> Result<MaskedMethod> {
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
                    exp_month: row.try_get::<Option<i32>, _>("exp_month")?.unwrap_or_default(),
                    exp_year: row.try_get::<Option<i32>, _>("exp_year")?.unwrap_or_default(),
                },
                "ach" => MaskedMethod::Ach {
                    account_type: row
                        .try_get::<Option<String>, _>("account_type")?
                        .as_deref()
                        .and_then(|t| AccountType::parse(t).ok())
                        .ok_or_else(|| bad("account type"))?,
                    routing_number: row.try_get::<Option<String>, _>("routing_number")?.unwrap_or_default(),
                    last4: last4.ok_or_else(|| bad("last4"))?,
                },
                "google_pay" => MaskedMethod::GooglePay {
                    brand: row.try_get::<Option<String>, _>("brand")?.as_deref().and_then(CardBrand::parse_str),
                    last4: last4.filter(|l| !l.is_empty()),
                },
                _ => return Err(bad("payment method type")),
            })
        }

        fn json_opt<T: serde::de::DeserializeOwned>(row: &$row, col: &str) -> Result<Option<T>> {
            row.try_get::<Option<String>, _>(col)?
                .map(|text| serde_json::from_str(&text).map_err(|_| bad(col)))
                .transpose()
        }

        fn to_json<T: serde::Serialize>(value: &T) -> Result<String> {
            serde_json::to_string(value).map_err(|_| bad("json"))
        }

        fn payment_from_row(row: &$row) -> Result<Payment> {
            let currency = currency_of(row)?;
            let status: String = row.try_get("status")?;
            let source: String = row.try_get("source")?;
            let payment_method = masked_from_row(row, true)?;
            Ok(Payment {
                id: PaymentId::from_trusted(row.try_get("id")?),
                partner_id: PartnerId::from_trusted(row.try_get("partner_id")?),
                object: Default::default(),
                status: PaymentStatus::parse_str(&status).ok_or_else(|| bad("payment status"))?,
                amount: Money::new(row.try_get("amount")?, currency),
                currency,
                captured_amount: Money::new(row.try_get("captured_amount")?, currency),
                refunded_amount: Money::new(row.try_get("refunded_amount")?, currency),
                customer_id: row.try_get::<Option<String>, _>("customer_id")?.map(CustomerId::from_trusted),
                payment_method_id: row
                    .try_get::<Option<String>, _>("payment_method_id")?
                    .map(PaymentMethodId::from_trusted),
                authorization_id: row
                    .try_get::<Option<String>, _>("authorization_id")?
                    .map(AuthorizationId::from_trusted),
                payment_request_id: row
                    .try_get::<Option<String>, _>("payment_request_id")?
                    .map(PaymentRequestId::from_trusted),
                reference_id: row.try_get("reference_id")?,
                source: PaymentSource::parse_str(&source).ok_or_else(|| bad("payment source"))?,
                payment_method,
                invoice: json_opt(row, "invoice")?,
                dynamic_descriptor: json_opt(row, "dynamic_descriptor")?,
                failure_code: row.try_get("failure_code")?,
                failure_message: row.try_get("failure_message")?,
                created_at: from_micros(row.try_get("created_at")?),
                completed_at: time_opt(row.try_get("completed_at")?),
            })
        }

        fn event_from_row(row: &$row) -> Result<EventRecord> {
            let data: String = row.try_get("data")?;
            Ok(EventRecord {
                id: EventId::from_trusted(row.try_get("id")?),
                event_type: row.try_get("type")?,
                data: serde_json::from_str(&data).map_err(|_| bad("event data"))?,
                created_at: from_micros(row.try_get("created_at")?),
            })
        }

        fn user_from_row(row: &$row) -> Result<User> {
            Ok(User {
                id: UserId::from_trusted(row.try_get("id")?),
                partner_id: PartnerId::from_trusted(row.try_get("partner_id")?),
                email: row.try_get("email")?,
                created_at: from_micros(row.try_get("created_at")?),
                disabled_at: time_opt(row.try_get("disabled_at")?),
            })
        }

        fn customer_from_row(row: &$row) -> Result<Customer> {
            Ok(Customer {
                id: CustomerId::from_trusted(row.try_get("id")?),
                partner_id: PartnerId::from_trusted(row.try_get("partner_id")?),
                object: Default::default(),
                first_name: row.try_get("first_name")?,
                last_name: row.try_get("last_name")?,
                email: row.try_get("email")?,
                merchant_customer_ref_id: row.try_get("merchant_customer_ref_id")?,
                entity_use_code: row.try_get("entity_use_code")?,
                created_at: from_micros(row.try_get("created_at")?),
                updated_at: from_micros(row.try_get("updated_at")?),
            })
        }

        fn pm_from_row(row: &$row) -> Result<PaymentMethod> {
            Ok(PaymentMethod {
                id: PaymentMethodId::from_trusted(row.try_get("id")?),
                partner_id: PartnerId::from_trusted(row.try_get("partner_id")?),
                object: Default::default(),
                customer_id: row.try_get::<Option<String>, _>("customer_id")?.map(CustomerId::from_trusted),
                billing_first_name: row.try_get("billing_first_name")?,
                billing_last_name: row.try_get("billing_last_name")?,
                billing_address: json_opt(row, "billing_address")?,
                merchant_payment_method_ref_id: row.try_get("merchant_payment_method_ref_id")?,
                method: masked_from_row(row, false)?,
                created_at: from_micros(row.try_get("created_at")?),
                deleted_at: time_opt(row.try_get("deleted_at")?),
            })
        }

        fn auth_from_row(row: &$row) -> Result<Authorization> {
            let currency = currency_of(row)?;
            let status: String = row.try_get("status")?;
            Ok(Authorization {
                id: AuthorizationId::from_trusted(row.try_get("id")?),
                partner_id: PartnerId::from_trusted(row.try_get("partner_id")?),
                object: Default::default(),
                status: AuthorizationStatus::parse_str(&status).ok_or_else(|| bad("authorization status"))?,
                amount: Money::new(row.try_get("amount")?, currency),
                currency,
                captured_amount: Money::new(row.try_get("captured_amount")?, currency),
                customer_id: row.try_get::<Option<String>, _>("customer_id")?.map(CustomerId::from_trusted),
                payment_method_id: row
                    .try_get::<Option<String>, _>("payment_method_id")?
                    .map(PaymentMethodId::from_trusted),
                payment_id: row.try_get::<Option<String>, _>("capture_payment_id")?.map(PaymentId::from_trusted),
                payment_method: masked_from_row(row, true)?,
                invoice: json_opt(row, "invoice")?,
                dynamic_descriptor: json_opt(row, "dynamic_descriptor")?,
                failure_code: row.try_get("failure_code")?,
                failure_message: row.try_get("failure_message")?,
                created_at: from_micros(row.try_get("created_at")?),
                expires_at: from_micros(row.try_get("expires_at")?),
                captured_at: time_opt(row.try_get("captured_at")?),
                reversed_at: time_opt(row.try_get("reversed_at")?),
            })
        }

        /// The masked columns of an instrument: (type, brand, exp month, exp year, postal code,
        /// routing number, account type).
        #[allow(clippy::type_complexity)]
        fn method_columns(details: &MethodDetails) -> (&'static str, Option<&'static str>, Option<i32>, Option<i32>, Option<&str>, Option<&str>, Option<&'static str>) {
            match details {
                MethodDetails::Card { brand, exp_month, exp_year, postal_code } => {
                    ("card", Some(brand.as_str()), Some(*exp_month), Some(*exp_year), postal_code.as_deref(), None, None)
                }
                MethodDetails::Ach { routing_number, account_type } => {
                    ("ach", None, None, None, None, Some(routing_number.as_str()), Some(account_type.as_str()))
                }
                MethodDetails::GooglePay { brand } => ("google_pay", brand.map(CardBrand::as_str), None, None, None, None, None),
            }
        }

        async fn insert_customer(tx: &mut Tx<'_>, c: &Customer) -> Result<()> {
            let mut batch = Batch::new();
            push_customer(&mut batch, c);
            batch.execute(tx).await
        }

        fn push_customer(batch: &mut Batch, c: &Customer) {
            batch
                .push(
                    "INSERT INTO customers (id, partner_id, first_name, last_name, email, merchant_customer_ref_id, \
                     entity_use_code, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                )
                .bind(c.id.as_str())
                .bind(c.partner_id.as_str())
                .bind(c.first_name.as_str())
                .bind(c.last_name.as_str())
                .bind(c.email.as_deref())
                .bind(c.merchant_customer_ref_id.as_deref())
                .bind(c.entity_use_code.as_deref())
                .bind(to_micros(c.created_at))
                .bind(to_micros(c.updated_at));
        }

        /// Adds a new customer to `batch`, or checks an existing one belongs to the partner.
        async fn ensure_customer(
            tx: &mut Tx<'_>,
            batch: &mut Batch,
            partner: &PartnerId,
            customer: &CustomerRef,
        ) -> Result<()> {
            match customer {
                CustomerRef::New(c) => {
                    push_customer(batch, c);
                    Ok(())
                }
                CustomerRef::Existing(id) => {
                    let mut check = Batch::new();
                    check
                        .push("SELECT seq FROM customers WHERE partner_id = $1 AND id = $2")
                        .bind(partner.as_str())
                        .bind(id.as_str());
                    let found = check.fetch_all(tx).await?;
                    found.first().map(|_| ()).ok_or_else(|| bad("customer of another partner"))
                }
            }
        }

        /// Adds the vault entry and the masked payment method row to `batch`.
        fn push_payment_method(
            batch: &mut Batch,
            partner: &PartnerId,
            m: &NewPaymentMethod,
            now: OffsetDateTime,
        ) -> Result<()> {
            batch
                .push("INSERT INTO vault_entries (id, partner_id, nonce, ciphertext, created_at) VALUES ($1, $2, $3, $4, $5)")
                .bind(m.vault.id.as_str())
                .bind(partner.as_str())
                .bind(m.vault.nonce.as_slice())
                .bind(m.vault.ciphertext.as_slice())
                .bind(to_micros(now));
            let (method_type, brand, exp_month, exp_year, postal_code, routing, account_type) = method_columns(&m.details);
            let billing_address = m.owner.billing_address.as_ref().map(to_json).transpose()?;
            batch
                .push(
                    "INSERT INTO payment_methods (id, partner_id, customer_id, method_type, holder_name, brand, last4, exp_month, \
                     exp_year, routing_number, account_type, postal_code, fingerprint, vault_entry_id, created_at, \
                     billing_first_name, billing_last_name, billing_address, merchant_payment_method_ref_id) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)",
                )
                .bind(m.id.as_str())
                .bind(partner.as_str())
                .bind(m.owner.customer_id.as_ref().map(|c| c.as_str()))
                .bind(method_type)
                .bind(m.holder_name.as_deref())
                .bind(brand)
                .bind(m.last4.as_str())
                .bind(exp_month)
                .bind(exp_year)
                .bind(routing)
                .bind(account_type)
                .bind(postal_code)
                .bind(m.fingerprint.as_str())
                .bind(m.vault.id.as_str())
                .bind(to_micros(now))
                .bind(m.owner.billing_first_name.as_deref())
                .bind(m.owner.billing_last_name.as_deref())
                .bind(billing_address)
                .bind(m.owner.merchant_payment_method_ref_id.as_deref());
            Ok(())
        }

        /// Adds a new method (vaulted) to `batch`, or checks a stored one is the partner's and
        /// not deleted.
        async fn ensure_method(
            tx: &mut Tx<'_>,
            batch: &mut Batch,
            partner: &PartnerId,
            method: &MethodUse,
            now: OffsetDateTime,
        ) -> Result<()> {
            match method {
                MethodUse::New(m) => push_payment_method(batch, partner, m, now),
                MethodUse::Existing { id, .. } => {
                    let mut check = Batch::new();
                    check
                        .push("SELECT seq FROM payment_methods WHERE partner_id = $1 AND id = $2 AND deleted_at IS NULL")
                        .bind(partner.as_str())
                        .bind(id.as_str());
                    let found = check.fetch_all(tx).await?;
                    found.first().map(|_| ()).ok_or_else(|| bad("payment method missing or deleted"))
                }
            }
        }

        /// The payment an earlier request under this `Idempotency-Key` made, if any.
        async fn payment_by_key(tx: &mut Tx<'_>, partner: &PartnerId, key: Option<&str>) -> Result<Option<Payment>> {
            let Some(key) = key else { return Ok(None) };
            let mut find = Batch::new();
            find.push(concat!("SELECT ", crate::sql::payment_cols!(), " FROM payments WHERE partner_id = $1 AND idempotency_key = $2"))
                .bind(partner.as_str())
                .bind(key);
            let rows = find.fetch_all(tx).await?;
            rows.first().map(payment_from_row).transpose()
        }

        async fn auth_in_tx(tx: &mut Tx<'_>, partner: &PartnerId, id: &AuthorizationId) -> Result<Option<Authorization>> {
            let row = sqlx::query(concat!("SELECT ", crate::sql::auth_cols!(), " FROM authorizations WHERE partner_id = $1 AND id = $2"))
                .bind(partner.as_str())
                .bind(id.as_str())
                .fetch_optional(&mut **tx)
                .await?;
            row.as_ref().map(auth_from_row).transpose()
        }

        fn refund_from_row(row: &$row) -> Result<Refund> {
            let currency = currency_of(row)?;
            let status: String = row.try_get("status")?;
            Ok(Refund {
                id: RefundId::from_trusted(row.try_get("id")?),
                partner_id: PartnerId::from_trusted(row.try_get("partner_id")?),
                object: Default::default(),
                payment_id: PaymentId::from_trusted(row.try_get("payment_id")?),
                amount: Money::new(row.try_get("amount")?, currency),
                currency,
                status: RefundStatus::parse_str(&status).ok_or_else(|| bad("refund status"))?,
                reason: row.try_get("reason")?,
                failure_code: row.try_get("failure_code")?,
                failure_message: row.try_get("failure_message")?,
                created_at: from_micros(row.try_get("created_at")?),
                payout_id: row.try_get::<Option<String>, _>("payout_id")?.map(PayoutId::from_trusted),
            })
        }

        /// Writes one balanced set of ledger entries in the caller's transaction.
        async fn post(tx: &mut Tx<'_>, partner: &PartnerId, currency: Currency, set: &PostingSet, now: OffsetDateTime) -> Result<()> {
            let mut batch = Batch::new();
            push_postings(&mut batch, partner, currency, &[set], now)?;
            batch.execute(tx).await
        }

        /// Adds the postings of every set to `batch` as one multi-row `INSERT`; each set is
        /// checked balanced first.
        fn push_postings(
            batch: &mut Batch,
            partner: &PartnerId,
            currency: Currency,
            sets: &[&PostingSet],
            now: OffsetDateTime,
        ) -> Result<()> {
            if sets.iter().any(|set| !set.is_balanced()) {
                return Err(bad("an unbalanced posting set"));
            }
            let rows: Vec<(String, &PostingSet, &kassa_core::ledger::Posting)> = sets
                .iter()
                .flat_map(|set| {
                    let set_id = LedgerEntryId::generate().as_str().to_string();
                    set.postings().iter().map(move |posting| (set_id.clone(), *set, posting))
                })
                .collect();
            if rows.is_empty() {
                return Ok(());
            }
            let mut sql = String::from(
                "INSERT INTO ledger_entries (id, partner_id, set_id, account, kind, source_id, amount, currency, created_at) VALUES ",
            );
            for i in 0..rows.len() {
                let b = i * 9;
                if i > 0 {
                    sql.push_str(", ");
                }
                sql.push_str(&format!(
                    "(${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${})",
                    b + 1, b + 2, b + 3, b + 4, b + 5, b + 6, b + 7, b + 8, b + 9
                ));
            }
            batch.push(&sql);
            for (set_id, set, posting) in rows {
                batch
                    .bind(LedgerEntryId::generate().as_str().to_string())
                    .bind(partner.as_str())
                    .bind(set_id)
                    .bind(posting.account.as_str())
                    .bind(set.kind().as_str())
                    .bind(set.source_id().to_string())
                    .bind(posting.amount)
                    .bind(currency.as_str())
                    .bind(to_micros(now));
            }
            Ok(())
        }

        const FEE_SCHEDULE_SQL: &str =
            "SELECT fee_card_percent_e4, fee_card_fixed, fee_ach_percent_e4, fee_ach_cap FROM partners WHERE id = $1";

        fn fee_schedule_from_row(row: &$row) -> Result<FeeSchedule> {
            Ok(FeeSchedule {
                card_percent: Percent::from_e4(row.try_get("fee_card_percent_e4")?),
                card_fixed: row.try_get("fee_card_fixed")?,
                ach_percent: Percent::from_e4(row.try_get("fee_ach_percent_e4")?),
                ach_cap: row.try_get("fee_ach_cap")?,
            })
        }

        async fn fee_schedule(executor: impl sqlx::Executor<'_, Database = $db>, partner: &PartnerId) -> Result<FeeSchedule> {
            let row = sqlx::query(FEE_SCHEDULE_SQL)
                .bind(partner.as_str())
                .fetch_optional(executor)
                .await?
                .ok_or_else(|| bad("fees of an unknown partner"))?;
            fee_schedule_from_row(&row)
        }

        /// Money that became the partner's: the capture (or cleared debit) and its fee.
        async fn post_settled(tx: &mut Tx<'_>, payment: &Payment, set: PostingSet, now: OffsetDateTime) -> Result<()> {
            let fees = fee_schedule(&mut **tx, &payment.partner_id).await?;
            let mut batch = Batch::new();
            push_settled(&mut batch, payment, &set, &fees, now)?;
            batch.execute(tx).await
        }

        /// Adds to `batch` the postings of [`post_settled`], with the partner's `fees`.
        fn push_settled(
            batch: &mut Batch,
            payment: &Payment,
            set: &PostingSet,
            fees: &FeeSchedule,
            now: OffsetDateTime,
        ) -> Result<()> {
            let method = match payment.payment_method {
                MaskedMethod::Ach { .. } => FeeMethod::Ach,
                _ => FeeMethod::Card,
            };
            let fee = fees.fee(method, payment.amount.minor());
            match PostingSet::fee(payment.id.as_str(), fee) {
                Some(fee) => push_postings(batch, &payment.partner_id, payment.currency, &[set, &fee], now),
                None => push_postings(batch, &payment.partner_id, payment.currency, &[set], now),
            }
        }

        async fn payout_in(conn: &mut <$db as sqlx::Database>::Connection, partner: &PartnerId, id: &str) -> Result<Option<Payout>> {
            let row = sqlx::query(
                "SELECT id, partner_id, status, amount, currency, cutoff_at, created_at FROM payouts WHERE partner_id = $1 AND id = $2",
            )
            .bind(partner.as_str())
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?;
            let Some(row) = row else { return Ok(None) };
            let items = sqlx::query("SELECT item_type, source_id, amount FROM payout_items WHERE payout_id = $1 ORDER BY seq")
                .bind(id)
                .fetch_all(&mut *conn)
                .await?;
            payout_from_rows(&row, &items).map(Some)
        }

        fn payout_from_rows(row: &$row, items: &[$row]) -> Result<Payout> {
            let currency = currency_of(row)?;
            let status: String = row.try_get("status")?;
            let items = items
                .iter()
                .map(|item| {
                    let kind: String = item.try_get("item_type")?;
                    Ok(PayoutItem {
                        item_type: PayoutItemType::parse_str(&kind).ok_or_else(|| bad("payout item type"))?,
                        source_id: item.try_get("source_id")?,
                        amount: Money::new(item.try_get("amount")?, currency),
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            Ok(Payout {
                id: PayoutId::from_trusted(row.try_get("id")?),
                partner_id: PartnerId::from_trusted(row.try_get("partner_id")?),
                object: Default::default(),
                status: PayoutStatus::parse_str(&status).ok_or_else(|| bad("payout status"))?,
                amount: Money::new(row.try_get("amount")?, currency),
                currency,
                created_at: from_micros(row.try_get("created_at")?),
                cutoff_at: from_micros(row.try_get("cutoff_at")?),
                items,
            })
        }

        /// The outbox: an event is written in the same transaction as the change it reports.
        async fn insert_event<T: serde::Serialize>(
            tx: &mut Tx<'_>,
            partner: &PartnerId,
            event_type: &str,
            object: &T,
            now: OffsetDateTime,
        ) -> Result<()> {
            let mut batch = Batch::new();
            push_event(&mut batch, partner, event_type, object, now)?;
            batch.execute(tx).await
        }

        fn push_event<T: serde::Serialize>(
            batch: &mut Batch,
            partner: &PartnerId,
            event_type: &str,
            object: &T,
            now: OffsetDateTime,
        ) -> Result<()> {
            let data = serde_json::to_string(object).map_err(|_| bad("event data"))?;
            batch
                .push("INSERT INTO events (id, partner_id, type, data, created_at) VALUES ($1, $2, $3, $4, $5)")
                .bind(EventId::generate().as_str().to_string())
                .bind(partner.as_str())
                .bind(event_type)
                .bind(data)
                .bind(to_micros(now));
            Ok(())
        }

        async fn insert_api_key(tx: &mut Tx<'_>, k: &ApiKeyRecord) -> Result<()> {
            sqlx::query(
                "INSERT INTO api_keys (id, partner_id, label, prefix, key_hash, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(k.id.as_str())
            .bind(k.partner_id.as_str())
            .bind(&k.label)
            .bind(&k.prefix)
            .bind(&k.key_hash)
            .bind(to_micros(k.created_at))
            .execute(&mut **tx)
            .await?;
            Ok(())
        }

        async fn insert_job(tx: &mut Tx<'_>, job: &NewJob, now: OffsetDateTime) -> Result<()> {
            let mut batch = Batch::new();
            push_job(&mut batch, job, now);
            batch.execute(tx).await
        }

        fn push_job(batch: &mut Batch, job: &NewJob, now: OffsetDateTime) {
            batch
                .push("INSERT INTO jobs (id, kind, payload, run_at, created_at) VALUES ($1, $2, $3, $4, $5)")
                .bind(JobId::generate().as_str().to_string())
                .bind(job.kind.clone())
                .bind(job.payload.to_string())
                .bind(to_micros(job.run_at))
                .bind(to_micros(now));
        }

        async fn pr_in_tx(tx: &mut Tx<'_>, partner: &PartnerId, id: &PaymentRequestId) -> Result<Option<PaymentRequest>> {
            let row = sqlx::query(concat!("SELECT ", crate::sql::pr_cols!(), " FROM payment_requests WHERE partner_id = $1 AND id = $2"))
                .bind(partner.as_str())
                .bind(id.as_str())
                .fetch_optional(&mut **tx)
                .await?;
            row.as_ref().map(pr_from_row).transpose()
        }

        /// Sets a request's state after its attempt was decided; the update must hit exactly the
        /// row still held by `payment`, or something else changed it and the transaction aborts.
        async fn update_request_for(
            tx: &mut Tx<'_>,
            sql: &'static str,
            request: &str,
            payment: &PaymentId,
            now: OffsetDateTime,
        ) -> Result<PaymentRequest> {
            let row = sqlx::query(sql)
                .bind(request)
                .bind(payment.as_str())
                .bind(to_micros(now))
                .fetch_optional(&mut **tx)
                .await?
                .ok_or_else(|| bad("payment request changed under its attempt"))?;
            pr_from_row(&row)
        }

        /// Claims `host` for the partner, or finds it claimed (now or before) by another:
        /// Taken("billing host").
        async fn claim_billing_host(tx: &mut Tx<'_>, partner: &PartnerId, host: &str) -> Result<()> {
            sqlx::query("INSERT INTO billing_host_claims (host, partner_id) VALUES ($1, $2) ON CONFLICT (host) DO NOTHING")
                .bind(host)
                .bind(partner.as_str())
                .execute(&mut **tx)
                .await?;
            let owner: String = sqlx::query_scalar("SELECT partner_id FROM billing_host_claims WHERE host = $1")
                .bind(host)
                .fetch_one(&mut **tx)
                .await?;
            if owner == partner.as_str() {
                Ok(())
            } else {
                Err(crate::StoreError::Taken("billing host"))
            }
        }

        fn unique_violation_field(err: &sqlx::Error) -> Option<&'static str> {
            match err {
                sqlx::Error::Database(db) if db.is_unique_violation() => {
                    let msg = db.message().to_string() + db.constraint().unwrap_or("");
                    Some(if msg.contains("billing_host") { "billing host" } else if msg.contains("slug") { "slug" } else { "id" })
                }
                _ => None,
            }
        }

        /// Where a page starts: Some(None) from the newest, Some(Some(seq)) after a row of the
        /// partner's, None when `startingAfter` names no row of theirs.
        async fn cursor_of(pool: &sqlx::Pool<$db>, table_sql: &'static str, partner: &PartnerId, page: &PageRequest) -> Result<Option<Option<i64>>> {
            match &page.starting_after {
                None => Ok(Some(None)),
                Some(id) => Ok(seq_of(pool, table_sql, partner, id).await?.map(Some)),
            }
        }

        /// A page from rows fetched with `LIMIT limit + 1`: the extra row only says there is more.
        fn page_of<T>(rows: &[$row], page: &PageRequest, read: fn(&$row) -> Result<T>) -> Result<Page<T>> {
            let has_more = rows.len() as i64 > page.limit;
            let data = rows.iter().take(page.limit as usize).map(read).collect::<Result<Vec<_>>>()?;
            Ok(Page::Items { data, has_more })
        }

        /// The `seq` of a partner's row named by a list cursor (`table_sql` takes partner, id).
        async fn seq_of(pool: &sqlx::Pool<$db>, table_sql: &'static str, partner: &PartnerId, id: &str) -> Result<Option<i64>> {
            Ok(sqlx::query_scalar(table_sql)
                .bind(partner.as_str())
                .bind(id)
                .fetch_optional(pool)
                .await?)
        }

        #[async_trait]
        impl Store for $store {
            async fn check_vault_key(&self, check: &str, now: OffsetDateTime) -> Result<bool> {
                let mut tx = self.begin_write().await?;
                sqlx::query("INSERT INTO installation (id, vault_key_check, created_at) VALUES (1, $1, $2) ON CONFLICT (id) DO NOTHING")
                    .bind(check)
                    .bind(to_micros(now))
                    .execute(&mut *tx)
                    .await?;
                let stored: String = sqlx::query_scalar("SELECT vault_key_check FROM installation WHERE id = 1")
                    .fetch_one(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(stored == check)
            }

            fn group_commit_stats(&self) -> Option<crate::GroupCommitStats> {
                self.commit_stats()
            }

            async fn ping(&self) -> Result<()> {
                sqlx::query("SELECT 1").execute(self.reader()).await?;
                Ok(())
            }

            async fn create_partner(&self, p: &Partner, first_key: Option<&ApiKeyRecord>) -> Result<()> {
                let mut tx = self.begin_write().await?;
                let res = sqlx::query(
                    "INSERT INTO partners (id, slug, name, billing_host, brand_color, logo_url, \
                     default_redirect_url, require_signed_links, link_secret, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                )
                .bind(p.id.as_str())
                .bind(p.slug.as_str())
                .bind(&p.name)
                .bind(p.billing_host.as_ref().map(|h| h.as_str()))
                .bind(p.brand_color.as_str())
                .bind(p.logo_url.as_ref().map(|u| u.as_str()))
                .bind(p.default_redirect_url.as_ref().map(|u| u.as_str()))
                .bind(p.require_signed_links)
                .bind(p.link_secret.expose())
                .bind(to_micros(p.created_at))
                .execute(&mut *tx)
                .await;
                if let Err(e) = res {
                    return Err(unique_violation_field(&e).map(crate::StoreError::Taken).unwrap_or(e.into()));
                }
                if let Some(host) = &p.billing_host {
                    claim_billing_host(&mut tx, &p.id, host.as_str()).await?;
                }
                if let Some(k) = first_key {
                    insert_api_key(&mut tx, k).await?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn partner_by_id(&self, id: &PartnerId) -> Result<Option<Partner>> {
                let row = sqlx::query(concat!("SELECT ", crate::sql::partner_cols!(""), " FROM partners WHERE id = $1"))
                    .bind(id.as_str())
                    .fetch_optional(self.reader())
                    .await?;
                row.as_ref().map(partner_from_row).transpose()
            }

            async fn partner_by_slug(&self, slug: &str) -> Result<Option<Partner>> {
                let row = sqlx::query(concat!("SELECT ", crate::sql::partner_cols!(""), " FROM partners WHERE slug = $1"))
                    .bind(slug)
                    .fetch_optional(self.reader())
                    .await?;
                row.as_ref().map(partner_from_row).transpose()
            }

            async fn partner_by_host(&self, host: &str) -> Result<Option<Partner>> {
                let row = sqlx::query(concat!("SELECT ", crate::sql::partner_cols!(""), " FROM partners WHERE billing_host = $1"))
                    .bind(host)
                    .fetch_optional(self.reader())
                    .await?;
                row.as_ref().map(partner_from_row).transpose()
            }

            async fn update_partner_settings(&self, partner: &PartnerId, s: &PartnerSettings) -> Result<Option<Partner>> {
                let mut tx = self.begin_write().await?;
                let res = sqlx::query(concat!(
                    "UPDATE partners SET name = $2, billing_host = $3, brand_color = $4, logo_url = $5, \
                     default_redirect_url = $6, require_signed_links = $7 WHERE id = $1 RETURNING ",
                    crate::sql::partner_cols!("")
                ))
                .bind(partner.as_str())
                .bind(&s.name)
                .bind(s.billing_host.as_ref().map(|h| h.as_str()))
                .bind(s.brand_color.as_str())
                .bind(s.logo_url.as_ref().map(|u| u.as_str()))
                .bind(s.default_redirect_url.as_ref().map(|u| u.as_str()))
                .bind(s.require_signed_links)
                .fetch_optional(&mut *tx)
                .await;
                let updated = match res {
                    Ok(row) => row.as_ref().map(partner_from_row).transpose()?,
                    Err(e) => return Err(unique_violation_field(&e).map(crate::StoreError::Taken).unwrap_or(e.into())),
                };
                // Checked after the update so an unknown partner is None; a refused claim rolls
                // the update back with the transaction.
                if let (Some(_), Some(host)) = (&updated, &s.billing_host) {
                    claim_billing_host(&mut tx, partner, host.as_str()).await?;
                }
                let _forget = self.read_cache().forget_on_drop();
                tx.commit().await?;
                Ok(updated)
            }

            async fn create_api_key(&self, k: &ApiKeyRecord) -> Result<()> {
                let mut tx = self.begin_write().await?;
                insert_api_key(&mut tx, k).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn partner_by_api_key_hash(&self, key_hash: &str) -> Result<Option<(Partner, ApiKeyId)>> {
                if let Some(found) = self.read_cache().api_key(key_hash) {
                    return Ok(Some(found));
                }
                let generation = self.read_cache().generation();
                let row = sqlx::query(concat!(
                    "SELECT ", crate::sql::partner_cols!("p."), ", k.id AS key_id FROM api_keys k \
                     JOIN partners p ON p.id = k.partner_id \
                     WHERE k.key_hash = $1 AND k.revoked_at IS NULL"
                ))
                .bind(key_hash)
                .fetch_optional(self.reader())
                .await?;
                let Some(row) = row else { return Ok(None) };
                let found = (partner_from_row(&row)?, ApiKeyId::from_trusted(row.try_get("key_id")?));
                self.read_cache().put_api_key(generation, key_hash, &found);
                Ok(Some(found))
            }

            async fn list_api_keys(&self, partner: &PartnerId) -> Result<Vec<ApiKeyRecord>> {
                let rows = sqlx::query(
                    "SELECT id, partner_id, label, prefix, key_hash, created_at, revoked_at \
                     FROM api_keys WHERE partner_id = $1 ORDER BY created_at DESC, id",
                )
                .bind(partner.as_str())
                .fetch_all(self.reader())
                .await?;
                rows.iter().map(api_key_from_row).collect()
            }

            async fn api_key(&self, partner: &PartnerId, id: &ApiKeyId) -> Result<Option<ApiKeyRecord>> {
                let row = sqlx::query(
                    "SELECT id, partner_id, label, prefix, key_hash, created_at, revoked_at \
                     FROM api_keys WHERE partner_id = $1 AND id = $2",
                )
                .bind(partner.as_str())
                .bind(id.as_str())
                .fetch_optional(self.reader())
                .await?;
                row.as_ref().map(api_key_from_row).transpose()
            }

            async fn revoke_api_key(&self, partner: &PartnerId, id: &ApiKeyId, now: OffsetDateTime) -> Result<bool> {
                let mut tx = self.begin_write().await?;
                let res = sqlx::query(
                    "UPDATE api_keys SET revoked_at = $3 WHERE partner_id = $1 AND id = $2 AND revoked_at IS NULL",
                )
                .bind(partner.as_str())
                .bind(id.as_str())
                .bind(to_micros(now))
                .execute(&mut *tx)
                .await?;
                let _forget = self.read_cache().forget_on_drop();
                tx.commit().await?;
                Ok(res.rows_affected() == 1)
            }

            async fn revoke_api_keys_labeled(&self, partner: &PartnerId, label: &str, now: OffsetDateTime) -> Result<u64> {
                let mut tx = self.begin_write().await?;
                let res = sqlx::query(
                    "UPDATE api_keys SET revoked_at = $3 WHERE partner_id = $1 AND label = $2 AND revoked_at IS NULL",
                )
                .bind(partner.as_str())
                .bind(label)
                .bind(to_micros(now))
                .execute(&mut *tx)
                .await?;
                let _forget = self.read_cache().forget_on_drop();
                tx.commit().await?;
                Ok(res.rows_affected())
            }

            async fn create_payment_request(&self, pr: &PaymentRequestRecord, now: OffsetDateTime) -> Result<CreateOutcome> {
                let mut tx = self.begin_write().await?;
                let metadata = serde_json::to_string(&pr.metadata).map_err(|_| bad("metadata"))?;
                let inserted = sqlx::query(
                    "INSERT INTO payment_requests (id, partner_id, reference_id, amount, currency, status, url, \
                     redirect_url, description, payer_email, metadata, created_at, updated_at, expires_at) \
                     VALUES ($1, $2, $3, $4, $5, 'open', $6, $7, $8, $9, $10, $11, $11, $12) \
                     ON CONFLICT (partner_id, reference_id) DO NOTHING",
                )
                .bind(pr.id.as_str())
                .bind(pr.partner_id.as_str())
                .bind(pr.reference_id.as_str())
                .bind(pr.amount.minor())
                .bind(pr.currency.as_str())
                .bind(&pr.url)
                .bind(pr.redirect_url.as_ref().map(|u| u.as_str()))
                .bind(pr.description.as_deref())
                .bind(pr.payer_email.as_ref().map(|e| e.as_str()))
                .bind(metadata)
                .bind(to_micros(pr.created_at))
                .bind(micros(pr.expires_at))
                .execute(&mut *tx)
                .await?
                .rows_affected()
                    == 1;
                if inserted {
                    let created = pr_in_tx(&mut tx, &pr.partner_id, &pr.id).await?.ok_or_else(|| bad("inserted request"))?;
                    insert_event(&mut tx, &pr.partner_id, "payment_request.created", &created, now).await?;
                    if let Some(at) = pr.expires_at {
                        let job = NewJob {
                            kind: "expire_payment_request".into(),
                            payload: serde_json::json!({ "paymentRequestId": pr.id.as_str() }),
                            run_at: at,
                        };
                        insert_job(&mut tx, &job, now).await?;
                    }
                    tx.commit().await?;
                    return Ok(CreateOutcome::Created(created));
                }
                let row = sqlx::query(concat!(
                    "SELECT ", crate::sql::pr_cols!(), " FROM payment_requests WHERE partner_id = $1 AND reference_id = $2"
                ))
                .bind(pr.partner_id.as_str())
                .bind(pr.reference_id.as_str())
                .fetch_one(&mut *tx)
                .await?;
                tx.commit().await?;
                let existing = pr_from_row(&row)?;
                if existing.amount == pr.amount {
                    Ok(CreateOutcome::Existing(existing))
                } else {
                    Ok(CreateOutcome::Conflict(existing))
                }
            }

            async fn payment_request(&self, partner: &PartnerId, id: &PaymentRequestId) -> Result<Option<PaymentRequest>> {
                let row = sqlx::query(concat!("SELECT ", crate::sql::pr_cols!(), " FROM payment_requests WHERE partner_id = $1 AND id = $2"))
                    .bind(partner.as_str())
                    .bind(id.as_str())
                    .fetch_optional(self.reader())
                    .await?;
                row.as_ref().map(pr_from_row).transpose()
            }

            async fn list_payment_requests(
                &self,
                partner: &PartnerId,
                filter: &PaymentRequestFilter,
                page: &PageRequest,
            ) -> Result<Page<PaymentRequest>> {
                let Some(cursor) = cursor_of(self.reader(), "SELECT seq FROM payment_requests WHERE partner_id = $1 AND id = $2", partner, page).await? else {
                    return Ok(Page::UnknownCursor);
                };
                let rows = sqlx::query(concat!(
                    "SELECT ", crate::sql::pr_cols!(), " FROM payment_requests WHERE partner_id = $1 \
                     AND ($2 IS NULL OR seq < $2) \
                     AND ($4 IS NULL OR (CASE WHEN status = 'open' AND expires_at <= $6 THEN 'expired' ELSE status END) = $4) \
                     AND ($5 IS NULL OR reference_id = $5) \
                     AND ($7 IS NULL OR LOWER(reference_id) LIKE $7 ESCAPE '\\') ORDER BY seq DESC LIMIT $3"
                ))
                .bind(partner.as_str())
                .bind(cursor)
                .bind(page.limit + 1)
                .bind(filter.status.map(|s| s.as_str()))
                .bind(filter.reference_id.as_deref())
                .bind(filter.as_of.map(to_micros).unwrap_or(i64::MIN))
                .bind(filter.reference_contains.as_deref().map(crate::sql::like_contains))
                .fetch_all(self.reader())
                .await?;
                page_of(&rows, page, pr_from_row)
            }

            async fn cancel_payment_request(&self, partner: &PartnerId, id: &PaymentRequestId, now: OffsetDateTime) -> Result<CancelOutcome> {
                let mut tx = self.begin_write().await?;
                let row = sqlx::query(concat!(
                    "UPDATE payment_requests SET status = 'canceled', canceled_at = $3, updated_at = $3 \
                     WHERE partner_id = $1 AND id = $2 AND status = 'open' AND attempt_payment_id IS NULL \
                     AND (expires_at IS NULL OR expires_at > $3) RETURNING ", crate::sql::pr_cols!()
                ))
                .bind(partner.as_str())
                .bind(id.as_str())
                .bind(to_micros(now))
                .fetch_optional(&mut *tx)
                .await?;
                let outcome = match row {
                    Some(row) => {
                        let pr = pr_from_row(&row)?;
                        insert_event(&mut tx, partner, "payment_request.canceled", &pr, now).await?;
                        CancelOutcome::Canceled(pr)
                    }
                    None => match pr_in_tx(&mut tx, partner, id).await? {
                        None => CancelOutcome::NotFound,
                        Some(pr) if pr.attempt_payment_id.is_some() => CancelOutcome::InProgress(pr),
                        Some(pr) => CancelOutcome::NotOpen(pr.seen_at(now)),
                    },
                };
                tx.commit().await?;
                Ok(outcome)
            }

            async fn expire_payment_request(&self, id: &PaymentRequestId, now: OffsetDateTime) -> Result<bool> {
                let mut tx = self.begin_write().await?;
                let res = sqlx::query(
                    "UPDATE payment_requests SET status = 'expired', updated_at = $2 WHERE id = $1 AND status = 'open' \
                     AND attempt_payment_id IS NULL AND expires_at IS NOT NULL AND expires_at <= $2",
                )
                .bind(id.as_str())
                .bind(to_micros(now))
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(res.rows_affected() == 1)
            }

            async fn begin_attempt(
                &self,
                partner: &PartnerId,
                request: &PaymentRequestId,
                attempt: &NewAttempt,
                now: OffsetDateTime,
            ) -> Result<BeginOutcome> {
                // The savepoint opens with the claim, in one round trip.
                let mut tx = self.begin_write_lazy().await?;
                let mut claim = Batch::new();
                claim.push(concat!(
                    "UPDATE payment_requests SET attempt_payment_id = $3, attempt_count = attempt_count + 1, updated_at = $4 \
                     WHERE partner_id = $1 AND id = $2 AND status = 'open' AND attempt_payment_id IS NULL \
                     AND (expires_at IS NULL OR expires_at > $4) \
                     AND (SELECT COUNT(*) FROM payments WHERE payment_request_id = $2 AND status = 'failed' \
                          AND created_at > $5) < $6 RETURNING ", crate::sql::pr_cols!()
                ))
                .bind(partner.as_str())
                .bind(request.as_str())
                .bind(attempt.payment_id.as_str())
                .bind(to_micros(now))
                .bind(to_micros(now - FAILED_ATTEMPT_WINDOW))
                .bind(MAX_FAILED_ATTEMPTS);
                let claimed = claim.fetch_all(&mut tx).await?.into_iter().next();
                let Some(row) = claimed else {
                    let outcome = match pr_in_tx(&mut tx, partner, request).await?.map(|pr| pr.seen_at(now)) {
                        None => BeginOutcome::NotFound,
                        Some(pr) => match pr.status {
                            PaymentRequestStatus::Completed => BeginOutcome::AlreadyCompleted(pr),
                            PaymentRequestStatus::Open if pr.attempt_payment_id.is_none() => {
                                let failed: i64 = sqlx::query_scalar(
                                    "SELECT COUNT(*) FROM payments WHERE payment_request_id = $1 AND status = 'failed' AND created_at > $2",
                                )
                                .bind(request.as_str())
                                .bind(to_micros(now - FAILED_ATTEMPT_WINDOW))
                                .fetch_one(&mut *tx)
                                .await?;
                                if failed >= MAX_FAILED_ATTEMPTS { BeginOutcome::TooManyAttempts(pr) } else { BeginOutcome::InProgress(pr) }
                            }
                            PaymentRequestStatus::Open | PaymentRequestStatus::Processing => BeginOutcome::InProgress(pr),
                            PaymentRequestStatus::Canceled | PaymentRequestStatus::Expired => BeginOutcome::NotOpen(pr),
                        },
                    };
                    tx.rollback().await?;
                    return Ok(outcome);
                };
                let pr = pr_from_row(&row)?;
                let m = &attempt.method;
                // The vault entry, method and payment go in one round trip.
                let mut batch = Batch::new();
                push_payment_method(&mut batch, partner, m, now)?;
                let (method_type, brand, exp_month, exp_year, _, routing, account_type) = method_columns(&m.details);
                batch.push(concat!(
                    "INSERT INTO payments (id, partner_id, source, status, amount, currency, payment_method_id, \
                     payment_request_id, reference_id, method_type, brand, funding, last4, exp_month, exp_year, \
                     routing_number, account_type, created_at, awaiting_processor) \
                     VALUES ($1, $2, 'payment_request', 'pending', $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, TRUE) \
                     RETURNING ", crate::sql::payment_cols!()
                ))
                .bind(attempt.payment_id.as_str())
                .bind(partner.as_str())
                .bind(pr.amount.minor())
                .bind(pr.currency.as_str())
                .bind(m.id.as_str())
                .bind(pr.id.as_str())
                .bind(pr.reference_id.as_str())
                .bind(method_type)
                .bind(brand)
                .bind((method_type == "card").then_some("unknown"))
                .bind(m.last4.as_str())
                .bind(exp_month)
                .bind(exp_year)
                .bind(routing)
                .bind(account_type)
                .bind(to_micros(now));
                let rows = batch.fetch_all(&mut tx).await?;
                let payment = payment_from_row(rows.last().ok_or_else(|| bad("payment just made"))?)?;
                tx.commit().await?;
                Ok(BeginOutcome::Started { request: pr, payment })
            }

            async fn finish_attempt(
                &self,
                partner: &PartnerId,
                payment_id: &PaymentId,
                result: &AttemptResult,
                now: OffsetDateTime,
            ) -> Result<FinishedAttempt> {
                let mut tx = self.begin_write_lazy().await?;
                // First round trip: the answer, recorded once however many callers race
                // (`awaiting_processor`), and for a capture the partner's fees.
                let mut batch = Batch::new();
                let approved = matches!(result, AttemptResult::Approved { .. });
                if approved {
                    batch.push(FEE_SCHEDULE_SQL).bind(partner.as_str());
                }
                match result {
                    AttemptResult::Approved { funding } => batch
                        .push(concat!(
                            "UPDATE payments SET status = 'completed', captured_amount = amount, funding = $3, completed_at = $4, \
                             awaiting_processor = FALSE \
                             WHERE partner_id = $1 AND id = $2 AND status = 'pending' AND awaiting_processor RETURNING ", crate::sql::payment_cols!()
                        ))
                        .bind(partner.as_str())
                        .bind(payment_id.as_str())
                        .bind(funding.as_str())
                        .bind(to_micros(now)),
                    AttemptResult::Declined { code } => batch
                        .push(concat!(
                            "UPDATE payments SET status = 'failed', failure_code = $3, failure_message = $4, awaiting_processor = FALSE \
                             WHERE partner_id = $1 AND id = $2 AND status = 'pending' AND awaiting_processor RETURNING ", crate::sql::payment_cols!()
                        ))
                        .bind(partner.as_str())
                        .bind(payment_id.as_str())
                        .bind(code.as_str())
                        .bind(code.payer_message()),
                    AttemptResult::AchSubmitted { .. } => batch
                        .push(concat!(
                            "UPDATE payments SET awaiting_processor = FALSE \
                             WHERE partner_id = $1 AND id = $2 AND status = 'pending' AND awaiting_processor RETURNING ", crate::sql::payment_cols!()
                        ))
                        .bind(partner.as_str())
                        .bind(payment_id.as_str()),
                };
                let mut rows = batch.fetch_all(&mut tx).await?.into_iter();
                let fees = match approved {
                    true => Some(fee_schedule_from_row(&rows.next().ok_or_else(|| bad("fees of an unknown partner"))?)?),
                    false => None,
                };
                let payment = payment_from_row(&rows.next().ok_or_else(|| bad("attempt is not awaiting the processor"))?)?;

                // Second round trip: everything that follows from the answer.
                let mut batch = Batch::new();
                let event = match result {
                    AttemptResult::Approved { .. } => "payment.completed",
                    AttemptResult::Declined { .. } => "payment.failed",
                    AttemptResult::AchSubmitted { .. } => "payment.pending",
                };
                push_event(&mut batch, partner, event, &payment, now)?;
                match (result, &fees) {
                    (AttemptResult::Approved { .. }, Some(fees)) => {
                        let set = PostingSet::card_captured(payment.id.as_str(), payment.amount.minor());
                        push_settled(&mut batch, &payment, &set, fees, now)?;
                    }
                    (AttemptResult::AchSubmitted { .. }, _) => {
                        let set = PostingSet::ach_submitted(payment.id.as_str(), payment.amount.minor());
                        push_postings(&mut batch, partner, payment.currency, &[&set], now)?;
                    }
                    _ => {}
                }
                let job = match result {
                    AttemptResult::AchSubmitted { settle: Some((resolution, at)) } => Some(NewJob {
                        kind: "ach_settlement".into(),
                        payload: serde_json::json!({
                            "paymentId": payment_id.as_str(),
                            "outcome": match resolution {
                                AchResolution::Clear => "clear",
                                AchResolution::Return(code) => code.as_str(),
                            },
                        }),
                        run_at: *at,
                    }),
                    _ => None,
                };
                if let Some(job) = &job {
                    push_job(&mut batch, job, now);
                }
                if let (Some(authorization), AttemptResult::Declined { .. }) = (&payment.authorization_id, result) {
                    // The processor refused the capture: the hold is the partner's to capture again.
                    batch
                        .push(
                            "UPDATE authorizations SET status = 'authorized', captured_amount = 0, capture_payment_id = NULL, \
                             captured_at = NULL, updated_at = $3 WHERE id = $1 AND capture_payment_id = $2 AND status = 'captured'",
                        )
                        .bind(authorization.as_str())
                        .bind(payment_id.as_str())
                        .bind(to_micros(now));
                }
                if let Some(request_id) = &payment.payment_request_id {
                    // Must hit exactly the row this attempt holds, or something else changed it
                    // and the transaction aborts.
                    let sql = match result {
                        AttemptResult::Approved { .. } => concat!(
                            "UPDATE payment_requests SET status = 'completed', payment_id = $2, attempt_payment_id = NULL, \
                             completed_at = $3, updated_at = $3 WHERE id = $1 AND attempt_payment_id = $2 AND status = 'open' RETURNING ", crate::sql::pr_cols!()
                        ),
                        AttemptResult::Declined { .. } => concat!(
                            "UPDATE payment_requests SET attempt_payment_id = NULL, updated_at = $3 \
                             WHERE id = $1 AND attempt_payment_id = $2 \
                             RETURNING ", crate::sql::pr_cols!()
                        ),
                        AttemptResult::AchSubmitted { .. } => concat!(
                            "UPDATE payment_requests SET status = 'processing', payment_id = $2, attempt_payment_id = NULL, \
                             updated_at = $3 WHERE id = $1 AND attempt_payment_id = $2 AND status = 'open' RETURNING ", crate::sql::pr_cols!()
                        ),
                    };
                    batch.push(sql).bind(request_id.as_str()).bind(payment_id.as_str()).bind(to_micros(now));
                }
                let rows = batch.fetch_all(&mut tx).await?;
                let request = match &payment.payment_request_id {
                    None => None,
                    Some(_) => {
                        let row = rows.first().ok_or_else(|| bad("payment request changed under its attempt"))?;
                        Some(pr_from_row(row)?)
                    }
                };
                if let (Some(pr), AttemptResult::Approved { .. }) = (&request, result) {
                    insert_event(&mut tx, partner, "payment_request.completed", pr, now).await?;
                }
                tx.commit().await?;
                Ok(FinishedAttempt { request, payment })
            }

            async fn resolve_ach(&self, scope: Option<&PartnerId>, payment_id: &PaymentId, resolution: &AchResolution, now: OffsetDateTime) -> Result<ResolveOutcome> {
                let mut tx = self.begin_write().await?;
                let row = match resolution {
                    AchResolution::Clear => sqlx::query(concat!(
                        "UPDATE payments SET status = 'completed', captured_amount = amount, completed_at = $2 \
                         WHERE id = $1 AND status = 'pending' AND method_type = 'ach' AND NOT awaiting_processor AND ($3 IS NULL OR partner_id = $3) \
                         RETURNING ", crate::sql::payment_cols!()
                    ))
                    .bind(payment_id.as_str())
                    .bind(to_micros(now))
                    .bind(scope.map(|p| p.as_str()))
                    .fetch_optional(&mut *tx)
                    .await?,
                    AchResolution::Return(code) => sqlx::query(concat!(
                        "UPDATE payments SET status = 'failed', failure_code = $2, failure_message = $3 \
                         WHERE id = $1 AND status = 'pending' AND method_type = 'ach' AND NOT awaiting_processor AND ($4 IS NULL OR partner_id = $4) \
                         RETURNING ", crate::sql::payment_cols!()
                    ))
                    .bind(payment_id.as_str())
                    .bind(code.as_str())
                    .bind(code.message())
                    .bind(scope.map(|p| p.as_str()))
                    .fetch_optional(&mut *tx)
                    .await?,
                };
                let Some(row) = row else {
                    tx.rollback().await?;
                    return Ok(ResolveOutcome::NotPending);
                };
                let payment = payment_from_row(&row)?;
                let partner = payment.partner_id.clone();
                let amount = payment.amount.minor();
                match resolution {
                    AchResolution::Clear => post_settled(&mut tx, &payment, PostingSet::ach_cleared(payment.id.as_str(), amount), now).await?,
                    AchResolution::Return(_) => {
                        post(&mut tx, &partner, payment.currency, &PostingSet::ach_returned(payment.id.as_str(), amount), now).await?
                    }
                }
                if let Some(request_id) = &payment.payment_request_id {
                    let sql = match resolution {
                        AchResolution::Clear => concat!(
                            "UPDATE payment_requests SET status = 'completed', completed_at = $3, updated_at = $3 \
                             WHERE id = $1 AND payment_id = $2 AND status = 'processing' RETURNING ", crate::sql::pr_cols!()
                        ),
                        AchResolution::Return(_) => concat!(
                            "UPDATE payment_requests SET status = 'open', payment_id = NULL, updated_at = $3 \
                             WHERE id = $1 AND payment_id = $2 AND status = 'processing' RETURNING ", crate::sql::pr_cols!()
                        ),
                    };
                    let pr = update_request_for(&mut tx, sql, request_id.as_str(), payment_id, now).await?;
                    if matches!(resolution, AchResolution::Clear) {
                        insert_event(&mut tx, &partner, "payment.completed", &payment, now).await?;
                        insert_event(&mut tx, &partner, "payment_request.completed", &pr, now).await?;
                    }
                }
                if let AchResolution::Return(_) = resolution {
                    insert_event(&mut tx, &partner, "payment.failed", &payment, now).await?;
                } else if payment.payment_request_id.is_none() {
                    insert_event(&mut tx, &partner, "payment.completed", &payment, now).await?;
                }
                tx.commit().await?;
                Ok(ResolveOutcome::Resolved(payment))
            }

            async fn abandoned_attempts(&self, started_before: OffsetDateTime) -> Result<Vec<(PartnerId, PaymentId)>> {
                let rows = sqlx::query(
                    "SELECT id, partner_id FROM payments WHERE awaiting_processor AND created_at < $1 ORDER BY created_at LIMIT 100",
                )
                .bind(to_micros(started_before))
                .fetch_all(self.reader())
                .await?;
                rows.iter()
                    .map(|row| {
                        Ok((
                            PartnerId::from_trusted(row.try_get("partner_id")?),
                            PaymentId::from_trusted(row.try_get("id")?),
                        ))
                    })
                    .collect()
            }

            async fn payment(&self, partner: &PartnerId, id: &PaymentId) -> Result<Option<Payment>> {
                let row = sqlx::query(concat!("SELECT ", crate::sql::payment_cols!(), " FROM payments WHERE partner_id = $1 AND id = $2"))
                    .bind(partner.as_str())
                    .bind(id.as_str())
                    .fetch_optional(self.reader())
                    .await?;
                row.as_ref().map(payment_from_row).transpose()
            }

            async fn list_payments(&self, partner: &PartnerId, filter: &PaymentFilter, page: &PageRequest) -> Result<Page<Payment>> {
                let Some(cursor) = cursor_of(self.reader(), "SELECT seq FROM payments WHERE partner_id = $1 AND id = $2", partner, page).await? else {
                    return Ok(Page::UnknownCursor);
                };
                let rows = sqlx::query(concat!(
                    "SELECT ", crate::sql::payment_cols!(), " FROM payments WHERE partner_id = $1 \
                     AND ($2 IS NULL OR seq < $2) AND ($4 IS NULL OR status = $4) AND ($5 IS NULL OR source = $5) \
                     AND ($6 IS NULL OR customer_id = $6) AND ($7 IS NULL OR reference_id = $7) \
                     AND ($8 IS NULL OR created_at >= $8) AND ($9 IS NULL OR created_at <= $9) \
                     AND ($10 IS NULL OR method_type = $10) \
                     AND ($11 IS NULL OR LOWER(reference_id) LIKE $11 ESCAPE '\\') \
                     ORDER BY seq DESC LIMIT $3"
                ))
                .bind(partner.as_str())
                .bind(cursor)
                .bind(page.limit + 1)
                .bind(filter.status.map(|s| s.as_str()))
                .bind(filter.source.map(|s| s.as_str()))
                .bind(filter.customer_id.as_ref().map(|c| c.as_str()))
                .bind(filter.reference_id.as_deref())
                .bind(micros(filter.created_from))
                .bind(micros(filter.created_to))
                .bind(filter.method.as_deref())
                .bind(filter.reference_contains.as_deref().map(crate::sql::like_contains))
                .fetch_all(self.reader())
                .await?;
                page_of(&rows, page, payment_from_row)
            }

            async fn create_customer(&self, customer: &Customer) -> Result<()> {
                let mut tx = self.begin_write().await?;
                insert_customer(&mut tx, customer).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn customer(&self, partner: &PartnerId, id: &CustomerId) -> Result<Option<Customer>> {
                let row = sqlx::query(concat!("SELECT ", crate::sql::customer_cols!(), " FROM customers WHERE partner_id = $1 AND id = $2"))
                    .bind(partner.as_str())
                    .bind(id.as_str())
                    .fetch_optional(self.reader())
                    .await?;
                row.as_ref().map(customer_from_row).transpose()
            }

            async fn update_customer(&self, partner: &PartnerId, id: &CustomerId, patch: &CustomerPatch, now: OffsetDateTime) -> Result<Option<Customer>> {
                let mut tx = self.begin_write().await?;
                let row = sqlx::query(concat!(
                    "UPDATE customers SET first_name = COALESCE($3, first_name), last_name = COALESCE($4, last_name), \
                     email = CASE WHEN $5 THEN $6 ELSE email END, \
                     merchant_customer_ref_id = CASE WHEN $7 THEN $8 ELSE merchant_customer_ref_id END, \
                     entity_use_code = CASE WHEN $9 THEN $10 ELSE entity_use_code END, updated_at = $11 \
                     WHERE partner_id = $1 AND id = $2 RETURNING ", crate::sql::customer_cols!()
                ))
                .bind(partner.as_str())
                .bind(id.as_str())
                .bind(patch.first_name.as_deref())
                .bind(patch.last_name.as_deref())
                .bind(patch.email.is_some())
                .bind(patch.email.clone().flatten())
                .bind(patch.merchant_customer_ref_id.is_some())
                .bind(patch.merchant_customer_ref_id.clone().flatten())
                .bind(patch.entity_use_code.is_some())
                .bind(patch.entity_use_code.clone().flatten())
                .bind(to_micros(now))
                .fetch_optional(&mut *tx)
                .await?;
                tx.commit().await?;
                row.as_ref().map(customer_from_row).transpose()
            }

            async fn list_customers(&self, partner: &PartnerId, filter: &CustomerFilter, page: &PageRequest) -> Result<Page<Customer>> {
                let Some(cursor) = cursor_of(self.reader(), "SELECT seq FROM customers WHERE partner_id = $1 AND id = $2", partner, page).await? else {
                    return Ok(Page::UnknownCursor);
                };
                let rows = sqlx::query(concat!(
                    "SELECT ", crate::sql::customer_cols!(), " FROM customers WHERE partner_id = $1 \
                     AND ($2 IS NULL OR seq < $2) AND ($4 IS NULL OR merchant_customer_ref_id = $4) ORDER BY seq DESC LIMIT $3"
                ))
                .bind(partner.as_str())
                .bind(cursor)
                .bind(page.limit + 1)
                .bind(filter.merchant_customer_ref_id.as_deref())
                .fetch_all(self.reader())
                .await?;
                page_of(&rows, page, customer_from_row)
            }

            async fn create_payment_method(&self, partner: &PartnerId, customer: Option<&CustomerRef>, method: &NewPaymentMethod, now: OffsetDateTime) -> Result<PaymentMethod> {
                let mut tx = self.begin_write().await?;
                let mut batch = Batch::new();
                if let Some(customer) = customer {
                    ensure_customer(&mut tx, &mut batch, partner, customer).await?;
                }
                push_payment_method(&mut batch, partner, method, now)?;
                batch
                    .push(concat!("SELECT ", crate::sql::pm_cols!(), " FROM payment_methods WHERE id = $1"))
                    .bind(method.id.as_str());
                let rows = batch.fetch_all(&mut tx).await?;
                let row = rows.last().ok_or_else(|| bad("payment method just made"))?;
                let method = pm_from_row(row)?;
                tx.commit().await?;
                Ok(method)
            }

            async fn payment_method(&self, partner: &PartnerId, id: &PaymentMethodId) -> Result<Option<PaymentMethod>> {
                let row = sqlx::query(concat!(
                    "SELECT ", crate::sql::pm_cols!(), " FROM payment_methods WHERE partner_id = $1 AND id = $2 AND deleted_at IS NULL"
                ))
                .bind(partner.as_str())
                .bind(id.as_str())
                .fetch_optional(self.reader())
                .await?;
                row.as_ref().map(pm_from_row).transpose()
            }

            async fn list_payment_methods(&self, partner: &PartnerId, customer: Option<&CustomerId>, page: &PageRequest) -> Result<Page<PaymentMethod>> {
                let Some(cursor) = cursor_of(self.reader(), "SELECT seq FROM payment_methods WHERE partner_id = $1 AND id = $2", partner, page).await? else {
                    return Ok(Page::UnknownCursor);
                };
                let rows = sqlx::query(concat!(
                    "SELECT ", crate::sql::pm_cols!(), " FROM payment_methods WHERE partner_id = $1 AND deleted_at IS NULL \
                     AND ($2 IS NULL OR seq < $2) AND ($4 IS NULL OR customer_id = $4) ORDER BY seq DESC LIMIT $3"
                ))
                .bind(partner.as_str())
                .bind(cursor)
                .bind(page.limit + 1)
                .bind(customer.map(|c| c.as_str()))
                .fetch_all(self.reader())
                .await?;
                page_of(&rows, page, pm_from_row)
            }

            async fn payment_method_vault(&self, partner: &PartnerId, id: &PaymentMethodId) -> Result<Option<VaultEntry>> {
                let row = sqlx::query(
                    "SELECT v.id, v.nonce, v.ciphertext FROM payment_methods m JOIN vault_entries v ON v.id = m.vault_entry_id \
                     WHERE m.partner_id = $1 AND m.id = $2 AND m.deleted_at IS NULL AND v.partner_id = $1",
                )
                .bind(partner.as_str())
                .bind(id.as_str())
                .fetch_optional(self.reader())
                .await?;
                match row {
                    None => Ok(None),
                    Some(row) => Ok(Some(VaultEntry {
                        id: VaultEntryId::from_trusted(row.try_get("id")?),
                        nonce: row.try_get("nonce")?,
                        ciphertext: row.try_get("ciphertext")?,
                    })),
                }
            }

            async fn delete_payment_method(&self, partner: &PartnerId, id: &PaymentMethodId, now: OffsetDateTime) -> Result<Option<PaymentMethod>> {
                let mut tx = self.begin_write().await?;
                let vault_id: Option<Option<String>> = sqlx::query_scalar(
                    "SELECT vault_entry_id FROM payment_methods WHERE partner_id = $1 AND id = $2 AND deleted_at IS NULL",
                )
                .bind(partner.as_str())
                .bind(id.as_str())
                .fetch_optional(&mut *tx)
                .await?;
                let Some(vault_id) = vault_id else {
                    tx.rollback().await?;
                    return Ok(None);
                };
                let row = sqlx::query(concat!(
                    "UPDATE payment_methods SET deleted_at = $3, vault_entry_id = NULL \
                     WHERE partner_id = $1 AND id = $2 AND deleted_at IS NULL RETURNING ", crate::sql::pm_cols!()
                ))
                .bind(partner.as_str())
                .bind(id.as_str())
                .bind(to_micros(now))
                .fetch_optional(&mut *tx)
                .await?;
                let Some(row) = row else {
                    tx.rollback().await?;
                    return Ok(None);
                };
                // Deleting the method destroys the number: nothing can decrypt it afterwards.
                if let Some(vault_id) = vault_id {
                    sqlx::query("DELETE FROM vault_entries WHERE id = $1 AND partner_id = $2")
                        .bind(vault_id)
                        .bind(partner.as_str())
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
                pm_from_row(&row).map(Some)
            }

            async fn set_tax_rate(&self, partner: &PartnerId, code: &str, rate: TaxRate, now: OffsetDateTime) -> Result<()> {
                let mut tx = self.begin_write().await?;
                sqlx::query(
                    "INSERT INTO tax_rates (partner_id, code, rate_e4, updated_at) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (partner_id, code) DO UPDATE SET rate_e4 = excluded.rate_e4, updated_at = excluded.updated_at",
                )
                .bind(partner.as_str())
                .bind(code)
                .bind(rate.e4())
                .bind(to_micros(now))
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(())
            }

            async fn tax_rates(&self, partner: &PartnerId) -> Result<TaxRates> {
                // Read fresh every time (not cached): a rate set from the CLI prices the very
                // next sale.
                let rows = sqlx::query("SELECT code, rate_e4 FROM tax_rates WHERE partner_id = $1")
                    .bind(partner.as_str())
                    .fetch_all(self.reader())
                    .await?;
                rows.iter()
                    .map(|row| Ok((row.try_get::<String, _>("code")?, TaxRate::from_e4(row.try_get("rate_e4")?))))
                    .collect()
            }

            async fn begin_payment(&self, partner: &PartnerId, new: &NewApiPayment, now: OffsetDateTime) -> Result<Begun<Payment>> {
                // Its savepoint opens with its first query (the idempotency-key lookup, the checks of a
                // stored customer or method, or else the inserts), in the same round trip.
                let mut tx = self.begin_write_lazy().await?;
                if let Some(existing) = payment_by_key(&mut tx, partner, new.idempotency_key.as_deref()).await? {
                    tx.rollback().await?;
                    return Ok(Begun::Existing(existing));
                }
                // The new customer, vault entry, method and the payment go in one round trip.
                let mut batch = Batch::new();
                ensure_customer(&mut tx, &mut batch, partner, &new.customer).await?;
                ensure_method(&mut tx, &mut batch, partner, &new.method, now).await?;
                let (last4, details) = new.method.parts();
                let (method_type, brand, exp_month, exp_year, _, routing, account_type) = method_columns(details);
                batch.push(concat!(
                    "INSERT INTO payments (id, partner_id, source, status, amount, currency, customer_id, payment_method_id, \
                     method_type, brand, funding, last4, exp_month, exp_year, routing_number, account_type, invoice_id, \
                     invoice, dynamic_descriptor, awaiting_processor, created_at, idempotency_key) \
                     VALUES ($1, $2, 'api', 'pending', $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, TRUE, $18, $19) \
                     RETURNING ", crate::sql::payment_cols!()
                ))
                .bind(new.payment_id.as_str())
                .bind(partner.as_str())
                .bind(new.amount.minor())
                .bind(new.amount.currency().as_str())
                .bind(new.customer.id().as_str())
                .bind(new.method.id().as_str())
                .bind(method_type)
                .bind(brand)
                .bind((method_type != "ach").then_some("unknown"))
                .bind(last4)
                .bind(exp_month)
                .bind(exp_year)
                .bind(routing)
                .bind(account_type)
                .bind(new.invoice.id.as_str())
                .bind(to_json(&new.invoice)?)
                .bind(new.dynamic_descriptor.as_ref().map(to_json).transpose()?)
                .bind(to_micros(now))
                .bind(new.idempotency_key.as_deref());
                let rows = batch.fetch_all(&mut tx).await?;
                let payment = payment_from_row(rows.last().ok_or_else(|| bad("payment just made"))?)?;
                tx.commit().await?;
                Ok(Begun::Started(payment))
            }

            async fn begin_authorization(&self, partner: &PartnerId, new: &NewAuthorization, now: OffsetDateTime) -> Result<Begun<Authorization>> {
                let mut tx = self.begin_write().await?;
                if let Some(key) = new.idempotency_key.as_deref() {
                    let row = sqlx::query(concat!("SELECT ", crate::sql::auth_cols!(), " FROM authorizations WHERE partner_id = $1 AND idempotency_key = $2"))
                        .bind(partner.as_str())
                        .bind(key)
                        .fetch_optional(&mut *tx)
                        .await?;
                    if let Some(row) = row {
                        tx.rollback().await?;
                        return Ok(Begun::Existing(auth_from_row(&row)?));
                    }
                }
                let mut batch = Batch::new();
                ensure_customer(&mut tx, &mut batch, partner, &new.customer).await?;
                ensure_method(&mut tx, &mut batch, partner, &new.method, now).await?;
                let (last4, details) = new.method.parts();
                let (method_type, brand, exp_month, exp_year, _, _, _) = method_columns(details);
                batch.push(concat!(
                    "INSERT INTO authorizations (id, partner_id, status, amount, currency, customer_id, payment_method_id, \
                     method_type, brand, funding, last4, exp_month, exp_year, invoice_id, invoice, dynamic_descriptor, \
                     created_at, updated_at, expires_at, idempotency_key) \
                     VALUES ($1, $2, 'pending', $3, $4, $5, $6, $7, $8, 'unknown', $9, $10, $11, $12, $13, $14, $15, $15, $16, $17) \
                     RETURNING ", crate::sql::auth_cols!()
                ))
                .bind(new.id.as_str())
                .bind(partner.as_str())
                .bind(new.amount.minor())
                .bind(new.amount.currency().as_str())
                .bind(new.customer.id().as_str())
                .bind(new.method.id().as_str())
                .bind(method_type)
                .bind(brand)
                .bind(last4)
                .bind(exp_month)
                .bind(exp_year)
                .bind(new.invoice.id.as_str())
                .bind(to_json(&new.invoice)?)
                .bind(new.dynamic_descriptor.as_ref().map(to_json).transpose()?)
                .bind(to_micros(now))
                .bind(to_micros(new.expires_at))
                .bind(new.idempotency_key.as_deref());
                let rows = batch.fetch_all(&mut tx).await?;
                let auth = auth_from_row(rows.last().ok_or_else(|| bad("authorization just made"))?)?;
                tx.commit().await?;
                Ok(Begun::Started(auth))
            }

            async fn finish_authorization(&self, partner: &PartnerId, id: &AuthorizationId, result: &AuthorizationResult, now: OffsetDateTime) -> Result<Authorization> {
                let mut tx = self.begin_write().await?;
                let (status, funding, code, message) = match result {
                    AuthorizationResult::Authorized { funding } => ("authorized", Some(funding.as_str()), None, None),
                    AuthorizationResult::Declined { code } => ("failed", None, Some(code.as_str()), Some(code.payer_message())),
                };
                let row = sqlx::query(concat!(
                    "UPDATE authorizations SET status = $3, funding = COALESCE($4, funding), failure_code = $5, \
                     failure_message = $6, updated_at = $7 WHERE partner_id = $1 AND id = $2 AND status = 'pending' RETURNING ",
                    crate::sql::auth_cols!()
                ))
                .bind(partner.as_str())
                .bind(id.as_str())
                .bind(status)
                .bind(funding)
                .bind(code)
                .bind(message)
                .bind(to_micros(now))
                .fetch_optional(&mut *tx)
                .await?;
                let auth = auth_from_row(&row.ok_or_else(|| bad("authorization is not pending"))?)?;
                insert_event(&mut tx, partner, "authorization.created", &auth, now).await?;
                tx.commit().await?;
                Ok(auth)
            }

            async fn authorization(&self, partner: &PartnerId, id: &AuthorizationId) -> Result<Option<Authorization>> {
                let row = sqlx::query(concat!("SELECT ", crate::sql::auth_cols!(), " FROM authorizations WHERE partner_id = $1 AND id = $2"))
                    .bind(partner.as_str())
                    .bind(id.as_str())
                    .fetch_optional(self.reader())
                    .await?;
                row.as_ref().map(auth_from_row).transpose()
            }

            async fn capture_authorization(&self, partner: &PartnerId, id: &AuthorizationId, capture: &NewCapture, now: OffsetDateTime) -> Result<CaptureOutcome> {
                let mut tx = self.begin_write().await?;
                if let Some(existing) = payment_by_key(&mut tx, partner, capture.idempotency_key.as_deref()).await? {
                    tx.rollback().await?;
                    return Ok(CaptureOutcome::Existing(existing));
                }
                // The one atomic change: only an authorized, unexpired hold of at least this amount.
                let claimed = sqlx::query(concat!(
                    "UPDATE authorizations SET status = 'captured', captured_amount = COALESCE($3, amount), \
                     capture_payment_id = $4, captured_at = $5, updated_at = $5 \
                     WHERE partner_id = $1 AND id = $2 AND status = 'authorized' AND expires_at > $5 \
                     AND amount >= COALESCE($3, amount) RETURNING ", crate::sql::auth_cols!()
                ))
                .bind(partner.as_str())
                .bind(id.as_str())
                .bind(capture.amount.map(|m| m.minor()))
                .bind(capture.payment_id.as_str())
                .bind(to_micros(now))
                .fetch_optional(&mut *tx)
                .await?;
                let Some(row) = claimed else {
                    let outcome = match auth_in_tx(&mut tx, partner, id).await?.map(|a| a.seen_at(now)) {
                        None => CaptureOutcome::NotFound,
                        Some(a) => match a.status {
                            AuthorizationStatus::Captured => CaptureOutcome::AlreadyCaptured(a),
                            AuthorizationStatus::Authorized => CaptureOutcome::ExceedsAuthorized(a),
                            _ => CaptureOutcome::NotCapturable(a),
                        },
                    };
                    tx.rollback().await?;
                    return Ok(outcome);
                };
                let authorization = auth_from_row(&row)?;
                let invoice = match &capture.invoice {
                    Some(invoice) => Some(invoice),
                    None => authorization.invoice.as_ref(),
                };
                let descriptor = match &capture.dynamic_descriptor {
                    Some(d) => Some(d),
                    None => authorization.dynamic_descriptor.as_ref(),
                };
                let amount = authorization.captured_amount.minor();
                // Pending until the processor confirms the capture (`finish_attempt`).
                let row = sqlx::query(concat!(
                    "INSERT INTO payments (id, partner_id, source, status, amount, currency, customer_id, \
                     payment_method_id, authorization_id, method_type, brand, funding, last4, exp_month, exp_year, \
                     invoice_id, invoice, dynamic_descriptor, awaiting_processor, idempotency_key, created_at) \
                     SELECT $1, partner_id, 'api', 'pending', $3, currency, customer_id, payment_method_id, id, \
                     method_type, brand, funding, last4, exp_month, exp_year, $4, $5, $6, TRUE, $8, $7 \
                     FROM authorizations WHERE id = $2 RETURNING ", crate::sql::payment_cols!()
                ))
                .bind(capture.payment_id.as_str())
                .bind(id.as_str())
                .bind(amount)
                .bind(invoice.map(|i| i.id.as_str()))
                .bind(invoice.map(to_json).transpose()?)
                .bind(descriptor.map(to_json).transpose()?)
                .bind(to_micros(now))
                .bind(capture.idempotency_key.as_deref())
                .fetch_one(&mut *tx)
                .await?;
                let payment = payment_from_row(&row)?;
                tx.commit().await?;
                Ok(CaptureOutcome::Captured { authorization, payment })
            }

            async fn reverse_authorization(&self, partner: &PartnerId, id: &AuthorizationId, now: OffsetDateTime) -> Result<ReverseOutcome> {
                let mut tx = self.begin_write().await?;
                let row = sqlx::query(concat!(
                    "UPDATE authorizations SET status = 'reversed', reversed_at = $3, updated_at = $3 \
                     WHERE partner_id = $1 AND id = $2 AND status = 'authorized' AND expires_at > $3 RETURNING ",
                    crate::sql::auth_cols!()
                ))
                .bind(partner.as_str())
                .bind(id.as_str())
                .bind(to_micros(now))
                .fetch_optional(&mut *tx)
                .await?;
                let Some(row) = row else {
                    let outcome = match auth_in_tx(&mut tx, partner, id).await?.map(|a| a.seen_at(now)) {
                        None => ReverseOutcome::NotFound,
                        Some(a) if a.status == AuthorizationStatus::Captured => ReverseOutcome::AlreadyCaptured(a),
                        Some(a) => ReverseOutcome::NotReversible(a),
                    };
                    tx.rollback().await?;
                    return Ok(outcome);
                };
                let auth = auth_from_row(&row)?;
                insert_event(&mut tx, partner, "authorization.reversed", &auth, now).await?;
                let job = NewJob {
                    kind: "processor_release".into(),
                    payload: serde_json::json!({ "authorizationId": id.as_str() }),
                    run_at: now,
                };
                insert_job(&mut tx, &job, now).await?;
                tx.commit().await?;
                Ok(ReverseOutcome::Reversed(auth))
            }

            async fn abandoned_authorizations(&self, started_before: OffsetDateTime) -> Result<Vec<(PartnerId, AuthorizationId)>> {
                let rows = sqlx::query(
                    "SELECT id, partner_id FROM authorizations WHERE status = 'pending' AND created_at < $1 ORDER BY created_at LIMIT 100",
                )
                .bind(to_micros(started_before))
                .fetch_all(self.reader())
                .await?;
                rows.iter()
                    .map(|row| {
                        Ok((
                            PartnerId::from_trusted(row.try_get("partner_id")?),
                            AuthorizationId::from_trusted(row.try_get("id")?),
                        ))
                    })
                    .collect()
            }

            async fn begin_refund(&self, partner: &PartnerId, payment_id: &PaymentId, new: &NewRefund, now: OffsetDateTime) -> Result<RefundBegin> {
                let mut tx = self.begin_write().await?;
                if let Some(key) = new.idempotency_key.as_deref() {
                    let row = sqlx::query(concat!("SELECT ", crate::sql::refund_cols!(), " FROM refunds WHERE partner_id = $1 AND idempotency_key = $2"))
                        .bind(partner.as_str())
                        .bind(key)
                        .fetch_optional(&mut *tx)
                        .await?;
                    if let Some(row) = row {
                        tx.rollback().await?;
                        return Ok(RefundBegin::Existing(refund_from_row(&row)?));
                    }
                }
                // The one atomic change: reserve the amount while at most what is left is asked.
                let reserved = sqlx::query(concat!(
                    "UPDATE payments SET refunded_amount = refunded_amount + COALESCE($3, captured_amount - refunded_amount), \
                     status = CASE WHEN refunded_amount + COALESCE($3, captured_amount - refunded_amount) = captured_amount \
                                   THEN 'refunded' ELSE 'partially_refunded' END \
                     WHERE partner_id = $1 AND id = $2 AND status IN ('completed', 'partially_refunded') \
                     AND captured_amount - refunded_amount >= COALESCE($3, captured_amount - refunded_amount) \
                     AND COALESCE($3, captured_amount - refunded_amount) > 0 RETURNING ", crate::sql::payment_cols!()
                ))
                .bind(partner.as_str())
                .bind(payment_id.as_str())
                .bind(new.amount.map(|m| m.minor()))
                .fetch_optional(&mut *tx)
                .await?;
                let Some(row) = reserved else {
                    let row = sqlx::query(concat!("SELECT ", crate::sql::payment_cols!(), " FROM payments WHERE partner_id = $1 AND id = $2"))
                        .bind(partner.as_str())
                        .bind(payment_id.as_str())
                        .fetch_optional(&mut *tx)
                        .await?;
                    tx.rollback().await?;
                    return Ok(match row.as_ref().map(payment_from_row).transpose()? {
                        None => RefundBegin::NotFound,
                        Some(p) if matches!(p.status, PaymentStatus::Pending | PaymentStatus::Failed) => RefundBegin::NotSettled(p),
                        Some(p) => {
                            let available = p.captured_amount.minor() - p.refunded_amount.minor();
                            RefundBegin::ExceedsAvailable { available: Money::new(available, p.currency), payment: p }
                        }
                    });
                };
                let payment = payment_from_row(&row)?;
                // What this refund reserved: the difference the update made.
                let amount = match new.amount {
                    Some(m) => m.minor(),
                    None => {
                        let before: i64 = sqlx::query_scalar(
                            "SELECT CAST(COALESCE(SUM(amount), 0) AS BIGINT) FROM refunds WHERE payment_id = $1 AND status <> 'failed'",
                        )
                        .bind(payment_id.as_str())
                        .fetch_one(&mut *tx)
                        .await?;
                        payment.refunded_amount.minor() - before
                    }
                };
                let row = sqlx::query(concat!(
                    "INSERT INTO refunds (id, partner_id, payment_id, amount, currency, status, reason, awaiting_processor, \
                     idempotency_key, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, 'pending', $6, TRUE, $7, $8, $8) \
                     RETURNING ", crate::sql::refund_cols!()
                ))
                .bind(new.id.as_str())
                .bind(partner.as_str())
                .bind(payment_id.as_str())
                .bind(amount)
                .bind(payment.currency.as_str())
                .bind(new.reason.as_deref())
                .bind(new.idempotency_key.as_deref())
                .bind(to_micros(now))
                .fetch_one(&mut *tx)
                .await?;
                let refund = refund_from_row(&row)?;
                tx.commit().await?;
                Ok(RefundBegin::Started { refund, payment })
            }

            async fn finish_refund(&self, partner: &PartnerId, refund_id: &RefundId, result: &RefundResult, now: OffsetDateTime) -> Result<Refund> {
                let mut tx = self.begin_write().await?;
                let (status, code, message) = match result {
                    RefundResult::Succeeded => ("succeeded", None, None),
                    RefundResult::Failed { code } => ("failed", Some(code.as_str()), Some(code.payer_message())),
                };
                let row = sqlx::query(concat!(
                    "UPDATE refunds SET status = $3, failure_code = $4, failure_message = $5, awaiting_processor = FALSE, updated_at = $6 \
                     WHERE partner_id = $1 AND id = $2 AND awaiting_processor RETURNING ", crate::sql::refund_cols!()
                ))
                .bind(partner.as_str())
                .bind(refund_id.as_str())
                .bind(status)
                .bind(code)
                .bind(message)
                .bind(to_micros(now))
                .fetch_optional(&mut *tx)
                .await?;
                let refund = refund_from_row(&row.ok_or_else(|| bad("refund is not awaiting the processor"))?)?;
                match result {
                    RefundResult::Succeeded => {
                        let set = PostingSet::refund(refund.id.as_str(), refund.amount.minor());
                        post(&mut tx, partner, refund.currency, &set, now).await?;
                        insert_event(&mut tx, partner, "refund.created", &refund, now).await?;
                    }
                    RefundResult::Failed { .. } => {
                        // Give the reserved amount back.
                        sqlx::query(
                            "UPDATE payments SET refunded_amount = refunded_amount - $3, \
                             status = CASE WHEN refunded_amount - $3 = 0 THEN 'completed' ELSE 'partially_refunded' END \
                             WHERE partner_id = $1 AND id = $2",
                        )
                        .bind(partner.as_str())
                        .bind(refund.payment_id.as_str())
                        .bind(refund.amount.minor())
                        .execute(&mut *tx)
                        .await?;
                    }
                }
                tx.commit().await?;
                Ok(refund)
            }

            async fn refund(&self, partner: &PartnerId, id: &RefundId) -> Result<Option<Refund>> {
                let row = sqlx::query(concat!("SELECT ", crate::sql::refund_cols!(), " FROM refunds WHERE partner_id = $1 AND id = $2"))
                    .bind(partner.as_str())
                    .bind(id.as_str())
                    .fetch_optional(self.reader())
                    .await?;
                row.as_ref().map(refund_from_row).transpose()
            }

            async fn list_refunds(&self, partner: &PartnerId, filter: &RefundFilter, page: &PageRequest) -> Result<Page<Refund>> {
                let Some(cursor) = cursor_of(self.reader(), "SELECT seq FROM refunds WHERE partner_id = $1 AND id = $2", partner, page).await? else {
                    return Ok(Page::UnknownCursor);
                };
                let rows = sqlx::query(concat!(
                    "SELECT ", crate::sql::refund_cols!(), " FROM refunds WHERE partner_id = $1 \
                     AND ($2 IS NULL OR seq < $2) AND ($4 IS NULL OR payment_id = $4) ORDER BY seq DESC LIMIT $3"
                ))
                .bind(partner.as_str())
                .bind(cursor)
                .bind(page.limit + 1)
                .bind(filter.payment_id.as_ref().map(|p| p.as_str()))
                .fetch_all(self.reader())
                .await?;
                page_of(&rows, page, refund_from_row)
            }

            async fn abandoned_refunds(&self, started_before: OffsetDateTime) -> Result<Vec<Refund>> {
                let rows = sqlx::query(concat!(
                    "SELECT ", crate::sql::refund_cols!(), " FROM refunds WHERE awaiting_processor AND created_at < $1 \
                     ORDER BY created_at LIMIT 100"
                ))
                .bind(to_micros(started_before))
                .fetch_all(self.reader())
                .await?;
                rows.iter().map(refund_from_row).collect()
            }

            async fn set_fees(&self, partner: &PartnerId, fees: &FeeSchedule) -> Result<()> {
                let mut tx = self.begin_write().await?;
                sqlx::query(
                    "UPDATE partners SET fee_card_percent_e4 = $2, fee_card_fixed = $3, fee_ach_percent_e4 = $4, fee_ach_cap = $5 WHERE id = $1",
                )
                .bind(partner.as_str())
                .bind(fees.card_percent.e4())
                .bind(fees.card_fixed)
                .bind(fees.ach_percent.e4())
                .bind(fees.ach_cap)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(())
            }

            async fn fees(&self, partner: &PartnerId) -> Result<FeeSchedule> {
                fee_schedule(self.reader(), partner).await
            }

            async fn balances(&self, partner: &PartnerId) -> Result<Balances> {
                let rows = sqlx::query(
                    "SELECT account, CAST(COALESCE(SUM(amount), 0) AS BIGINT) AS total FROM ledger_entries WHERE partner_id = $1 GROUP BY account",
                )
                .bind(partner.as_str())
                .fetch_all(self.reader())
                .await?;
                let mut b = Balances::default();
                for row in &rows {
                    let account: String = row.try_get("account")?;
                    let total: i64 = row.try_get("total")?;
                    match Account::parse_str(&account) {
                        Some(Account::PartnerAvailable) => b.available = total,
                        Some(Account::PartnerPending) => b.pending = total,
                        Some(Account::PartnerPaidOut) => b.paid_out = total,
                        Some(Account::Fees) => b.fees = total,
                        Some(Account::ProcessorClearing) => {}
                        None => return Err(bad("ledger account")),
                    }
                }
                Ok(b)
            }

            async fn unbalanced_ledger_sets(&self) -> Result<i64> {
                Ok(sqlx::query_scalar(
                    "SELECT COUNT(*) FROM (SELECT set_id FROM ledger_entries GROUP BY set_id HAVING SUM(amount) <> 0) AS unbalanced",
                )
                .fetch_one(self.reader())
                .await?)
            }

            async fn run_payout(&self, partner: &PartnerId, cutoff: OffsetDateTime, now: OffsetDateTime) -> Result<Option<Payout>> {
                let mut tx = self.begin_write().await?;
                let id = PayoutId::generate();
                // Provisional; status and amount are set once the items are known.
                sqlx::query(
                    "INSERT INTO payouts (id, partner_id, status, amount, currency, cutoff_at, created_at) \
                     VALUES ($1, $2, 'carried_forward', 0, 'USD', $3, $4)",
                )
                .bind(id.as_str())
                .bind(partner.as_str())
                .bind(to_micros(cutoff))
                .bind(to_micros(now))
                .execute(&mut *tx)
                .await?;
                // Each entry can join one payout only (unique ledger_entry_id), also under concurrency.
                sqlx::query(
                    "INSERT INTO payout_items (payout_id, item_type, source_id, amount, ledger_entry_id) \
                     SELECT $1, kind, source_id, amount, id FROM ledger_entries e \
                     WHERE e.partner_id = $2 AND e.account = 'partner_available' AND e.kind IN ('payment', 'refund', 'fee') \
                     AND e.created_at <= $3 AND NOT EXISTS (SELECT 1 FROM payout_items i WHERE i.ledger_entry_id = e.id) \
                     ORDER BY e.seq ON CONFLICT DO NOTHING",
                )
                .bind(id.as_str())
                .bind(partner.as_str())
                .bind(to_micros(cutoff))
                .execute(&mut *tx)
                .await?;
                let entries: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM payout_items WHERE payout_id = $1")
                    .bind(id.as_str())
                    .fetch_one(&mut *tx)
                    .await?;
                if entries == 0 {
                    // Nothing new since the last batch: a carried balance waits for new items.
                    tx.rollback().await?;
                    return Ok(None);
                }
                let carried = sqlx::query(
                    "UPDATE payouts SET carried_into = $1 WHERE partner_id = $2 AND status = 'carried_forward' \
                     AND carried_into IS NULL AND id <> $1 RETURNING id, amount",
                )
                .bind(id.as_str())
                .bind(partner.as_str())
                .fetch_all(&mut *tx)
                .await?;
                for row in &carried {
                    let from: String = row.try_get("id")?;
                    let amount: i64 = row.try_get("amount")?;
                    sqlx::query(
                        "INSERT INTO payout_items (payout_id, item_type, source_id, amount, carried_payout_id) \
                         VALUES ($1, 'carried_balance', $2, $3, $2)",
                    )
                    .bind(id.as_str())
                    .bind(&from)
                    .bind(amount)
                    .execute(&mut *tx)
                    .await?;
                }
                let total: i64 = sqlx::query_scalar("SELECT CAST(COALESCE(SUM(amount), 0) AS BIGINT) FROM payout_items WHERE payout_id = $1")
                    .bind(id.as_str())
                    .fetch_one(&mut *tx)
                    .await?;
                let status = if total > 0 { PayoutStatus::Paid } else { PayoutStatus::CarriedForward };
                sqlx::query("UPDATE payouts SET status = $2, amount = $3 WHERE id = $1")
                    .bind(id.as_str())
                    .bind(status.as_str())
                    .bind(total)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query(
                    "UPDATE refunds SET payout_id = $1 WHERE partner_id = $2 AND id IN \
                     (SELECT source_id FROM payout_items WHERE payout_id = $1 AND item_type = 'refund')",
                )
                .bind(id.as_str())
                .bind(partner.as_str())
                .execute(&mut *tx)
                .await?;
                if status == PayoutStatus::Paid {
                    post(&mut tx, partner, Currency::Usd, &PostingSet::payout(id.as_str(), total), now).await?;
                }
                let payout = payout_in(&mut *tx, partner, id.as_str()).await?.ok_or_else(|| bad("payout just made"))?;
                if status == PayoutStatus::Paid {
                    insert_event(&mut tx, partner, "payout.paid", &payout, now).await?;
                }
                tx.commit().await?;
                Ok(Some(payout))
            }

            async fn payout(&self, partner: &PartnerId, id: &PayoutId) -> Result<Option<Payout>> {
                let mut tx = self.reader().begin().await?;
                let payout = payout_in(&mut *tx, partner, id.as_str()).await?;
                tx.rollback().await?;
                Ok(payout)
            }

            async fn list_payouts(&self, partner: &PartnerId, page: &PageRequest) -> Result<Page<Payout>> {
                let Some(cursor) = cursor_of(self.reader(), "SELECT seq FROM payouts WHERE partner_id = $1 AND id = $2", partner, page).await? else {
                    return Ok(Page::UnknownCursor);
                };
                let ids: Vec<String> = sqlx::query_scalar(
                    "SELECT id FROM payouts WHERE partner_id = $1 AND ($2 IS NULL OR seq < $2) ORDER BY seq DESC LIMIT $3",
                )
                .bind(partner.as_str())
                .bind(cursor)
                .bind(page.limit + 1)
                .fetch_all(self.reader())
                .await?;
                let has_more = ids.len() as i64 > page.limit;
                let mut tx = self.reader().begin().await?;
                let mut data = Vec::new();
                for id in ids.iter().take(page.limit as usize) {
                    data.push(payout_in(&mut *tx, partner, id).await?.ok_or_else(|| bad("listed payout"))?);
                }
                tx.rollback().await?;
                Ok(Page::Items { data, has_more })
            }

            async fn payout_containing(&self, partner: &PartnerId, source_id: &str) -> Result<Option<PayoutId>> {
                let id: Option<String> = sqlx::query_scalar(
                    "SELECT p.id FROM payout_items i JOIN payouts p ON p.id = i.payout_id \
                     WHERE p.partner_id = $1 AND i.source_id = $2 ORDER BY i.seq LIMIT 1",
                )
                .bind(partner.as_str())
                .bind(source_id)
                .fetch_optional(self.reader())
                .await?;
                id.map(|id| PayoutId::parse(&id).map_err(|_| bad("payout id"))).transpose()
            }

            async fn partners_due_payout(&self, cutoff: OffsetDateTime) -> Result<Vec<PartnerId>> {
                let ids: Vec<String> = sqlx::query_scalar(
                    "SELECT DISTINCT e.partner_id FROM ledger_entries e WHERE e.account = 'partner_available' \
                     AND e.kind IN ('payment', 'refund', 'fee') AND e.created_at <= $1 \
                     AND NOT EXISTS (SELECT 1 FROM payout_items i WHERE i.ledger_entry_id = e.id)",
                )
                .bind(to_micros(cutoff))
                .fetch_all(self.reader())
                .await?;
                Ok(ids.into_iter().map(PartnerId::from_trusted).collect())
            }

            async fn create_user(&self, new: &NewUser) -> Result<()> {
                let u = &new.user;
                let mut tx = self.begin_write().await?;
                let res = sqlx::query(
                    "INSERT INTO users (id, partner_id, email, password_hash, created_at) VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(u.id.as_str())
                .bind(u.partner_id.as_str())
                .bind(&u.email)
                .bind(new.password_hash.expose())
                .bind(to_micros(u.created_at))
                .execute(&mut *tx)
                .await;
                match res {
                    Ok(_) => Ok(tx.commit().await?),
                    Err(sqlx::Error::Database(db)) if db.is_unique_violation() => Err(crate::StoreError::Taken("email")),
                    Err(e) => Err(e.into()),
                }
            }

            async fn user_by_email(&self, email: &str) -> Result<Option<(User, Secret<String>)>> {
                let row = sqlx::query(
                    "SELECT id, partner_id, email, password_hash, created_at, disabled_at FROM users WHERE email = $1",
                )
                .bind(email)
                .fetch_optional(self.reader())
                .await?;
                match row {
                    None => Ok(None),
                    Some(row) => Ok(Some((user_from_row(&row)?, Secret::new(row.try_get("password_hash")?)))),
                }
            }

            async fn set_password(&self, user: &UserId, password_hash: &Secret<String>) -> Result<bool> {
                let mut tx = self.begin_write().await?;
                let changed = sqlx::query("UPDATE users SET password_hash = $2 WHERE id = $1")
                    .bind(user.as_str())
                    .bind(password_hash.expose())
                    .execute(&mut *tx)
                    .await?
                    .rows_affected() == 1;
                // A new password signs every session out.
                sqlx::query("DELETE FROM sessions WHERE user_id = $1")
                    .bind(user.as_str())
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(changed)
            }

            async fn list_users(&self, partner: &PartnerId) -> Result<Vec<User>> {
                let rows = sqlx::query(
                    "SELECT id, partner_id, email, created_at, disabled_at FROM users WHERE partner_id = $1 ORDER BY seq",
                )
                .bind(partner.as_str())
                .fetch_all(self.reader())
                .await?;
                rows.iter().map(user_from_row).collect()
            }

            async fn delete_user(&self, partner: &PartnerId, user: &UserId) -> Result<DeleteUserOutcome> {
                let mut tx = self.begin_write().await?;
                // A no-op update locks the partner's row (PostgreSQL; SQLite has one writer), so
                // two removals at once are decided one after the other and cannot both see the
                // other's user still there.
                let locked = sqlx::query("UPDATE partners SET name = name WHERE id = $1")
                    .bind(partner.as_str())
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                if locked == 0 {
                    return Ok(DeleteUserOutcome::NotFound);
                }
                let row = sqlx::query(
                    "SELECT id, partner_id, email, created_at, disabled_at FROM users WHERE partner_id = $1 AND id = $2",
                )
                .bind(partner.as_str())
                .bind(user.as_str())
                .fetch_optional(&mut *tx)
                .await?;
                let Some(row) = row else { return Ok(DeleteUserOutcome::NotFound) };
                let found = user_from_row(&row)?;
                let others: i64 = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM users WHERE partner_id = $1 AND id <> $2 AND disabled_at IS NULL",
                )
                .bind(partner.as_str())
                .bind(user.as_str())
                .fetch_one(&mut *tx)
                .await?;
                if others == 0 {
                    return Ok(DeleteUserOutcome::LastUser);
                }
                // Sessions first: they refer to the user.
                sqlx::query("DELETE FROM sessions WHERE user_id = $1")
                    .bind(user.as_str())
                    .execute(&mut *tx)
                    .await?;
                sqlx::query("DELETE FROM users WHERE partner_id = $1 AND id = $2")
                    .bind(partner.as_str())
                    .bind(user.as_str())
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(DeleteUserOutcome::Deleted(found))
            }

            async fn create_session(&self, token_hash: &str, user: &User, expires_at: OffsetDateTime, now: OffsetDateTime) -> Result<()> {
                let mut tx = self.begin_write().await?;
                sqlx::query(
                    "INSERT INTO sessions (token_hash, user_id, partner_id, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(token_hash)
                .bind(user.id.as_str())
                .bind(user.partner_id.as_str())
                .bind(to_micros(now))
                .bind(to_micros(expires_at))
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(())
            }

            async fn session(&self, token_hash: &str, now: OffsetDateTime) -> Result<Option<SessionRecord>> {
                let row = sqlx::query(concat!(
                    "SELECT u.id AS user_id, u.partner_id AS user_partner_id, u.email, u.created_at AS user_created_at, \
                     u.disabled_at, s.expires_at AS session_expires_at, ", crate::sql::partner_cols!("p."), " \
                     FROM sessions s JOIN users u ON u.id = s.user_id JOIN partners p ON p.id = s.partner_id \
                     WHERE s.token_hash = $1 AND s.expires_at > $2 AND u.disabled_at IS NULL AND u.partner_id = s.partner_id"
                ))
                .bind(token_hash)
                .bind(to_micros(now))
                .fetch_optional(self.reader())
                .await?;
                let Some(row) = row else { return Ok(None) };
                Ok(Some(SessionRecord {
                    user: User {
                        id: UserId::from_trusted(row.try_get("user_id")?),
                        partner_id: PartnerId::from_trusted(row.try_get("user_partner_id")?),
                        email: row.try_get("email")?,
                        created_at: from_micros(row.try_get("user_created_at")?),
                        disabled_at: time_opt(row.try_get("disabled_at")?),
                    },
                    partner: partner_from_row(&row)?,
                    expires_at: from_micros(row.try_get("session_expires_at")?),
                }))
            }

            async fn delete_session(&self, token_hash: &str) -> Result<()> {
                let mut tx = self.begin_write().await?;
                sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
                    .bind(token_hash)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(())
            }

            async fn record_login_failure(&self, email: &str, now: OffsetDateTime) -> Result<()> {
                let mut tx = self.begin_write().await?;
                sqlx::query("INSERT INTO login_failures (email, created_at) VALUES ($1, $2)")
                    .bind(email)
                    .bind(to_micros(now))
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(())
            }

            async fn login_failures_since(&self, email: &str, since: OffsetDateTime) -> Result<i64> {
                Ok(sqlx::query_scalar("SELECT COUNT(*) FROM login_failures WHERE email = $1 AND created_at > $2")
                    .bind(email)
                    .bind(to_micros(since))
                    .fetch_one(self.reader())
                    .await?)
            }

            async fn purge_sessions(&self, now: OffsetDateTime, failures_before: OffsetDateTime) -> Result<u64> {
                let mut tx = self.begin_write().await?;
                let a = sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
                    .bind(to_micros(now))
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                let b = sqlx::query("DELETE FROM login_failures WHERE created_at < $1")
                    .bind(to_micros(failures_before))
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                tx.commit().await?;
                Ok(a + b)
            }

            async fn list_events(&self, partner: &PartnerId, event_type: Option<&str>, page: &PageRequest) -> Result<Page<EventRecord>> {
                let Some(cursor) = cursor_of(self.reader(), "SELECT seq FROM events WHERE partner_id = $1 AND id = $2", partner, page).await? else {
                    return Ok(Page::UnknownCursor);
                };
                let rows = sqlx::query(
                    "SELECT id, type, data, created_at FROM events WHERE partner_id = $1 \
                     AND ($2 IS NULL OR seq < $2) AND ($4 IS NULL OR type = $4) ORDER BY seq DESC LIMIT $3",
                )
                .bind(partner.as_str())
                .bind(cursor)
                .bind(page.limit + 1)
                .bind(event_type)
                .fetch_all(self.reader())
                .await?;
                page_of(&rows, page, event_from_row)
            }

            async fn event(&self, partner: &PartnerId, id: &EventId) -> Result<Option<EventRecord>> {
                let row = sqlx::query("SELECT id, type, data, created_at FROM events WHERE partner_id = $1 AND id = $2")
                    .bind(partner.as_str())
                    .bind(id.as_str())
                    .fetch_optional(self.reader())
                    .await?;
                row.as_ref().map(event_from_row).transpose()
            }

            async fn enqueue_job(&self, job: &NewJob, now: OffsetDateTime) -> Result<()> {
                let mut tx = self.begin_write().await?;
                insert_job(&mut tx, job, now).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn enqueue_job_once(&self, job: &NewJob, key: &str, now: OffsetDateTime) -> Result<bool> {
                let mut tx = self.begin_write().await?;
                let res = sqlx::query(
                    "INSERT INTO jobs (id, kind, payload, run_at, created_at, dedupe_key) VALUES ($1, $2, $3, $4, $5, $6) \
                     ON CONFLICT (dedupe_key) DO NOTHING",
                )
                .bind(JobId::generate().as_str())
                .bind(&job.kind)
                .bind(job.payload.to_string())
                .bind(to_micros(job.run_at))
                .bind(to_micros(now))
                .bind(key)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(res.rows_affected() == 1)
            }

            async fn claim_jobs(&self, worker: &str, now: OffsetDateTime, lease_until: OffsetDateTime, limit: i64) -> Result<Vec<Job>> {
                let mut tx = self.begin_write().await?;
                let rows = sqlx::query(concat!(
                    "UPDATE jobs SET locked_by = $1, locked_until = $2, attempts = attempts + 1 \
                     WHERE id IN (SELECT id FROM jobs WHERE done_at IS NULL AND run_at <= $3 \
                     AND (locked_until IS NULL OR locked_until < $3) ORDER BY run_at, seq LIMIT $4", $skip_locked, ") \
                     RETURNING id, kind, payload, attempts"
                ))
                .bind(worker)
                .bind(to_micros(lease_until))
                .bind(to_micros(now))
                .bind(limit)
                .fetch_all(&mut *tx)
                .await?;
                tx.commit().await?;
                rows.iter()
                    .map(|row| {
                        let payload: String = row.try_get("payload")?;
                        Ok(Job {
                            id: JobId::from_trusted(row.try_get("id")?),
                            kind: row.try_get("kind")?,
                            payload: serde_json::from_str(&payload).map_err(|_| bad("job payload"))?,
                            attempts: row.try_get("attempts")?,
                        })
                    })
                    .collect()
            }

            async fn complete_job(&self, id: &JobId, now: OffsetDateTime) -> Result<()> {
                let mut tx = self.begin_write().await?;
                sqlx::query("UPDATE jobs SET done_at = $2, locked_by = NULL, locked_until = NULL WHERE id = $1")
                    .bind(id.as_str())
                    .bind(to_micros(now))
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(())
            }

            async fn retry_job(&self, id: &JobId, run_at: OffsetDateTime, error: &str) -> Result<()> {
                let mut tx = self.begin_write().await?;
                sqlx::query("UPDATE jobs SET run_at = $2, last_error = $3, locked_by = NULL, locked_until = NULL WHERE id = $1")
                    .bind(id.as_str())
                    .bind(to_micros(run_at))
                    .bind(error)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(())
            }

            async fn idempotency_begin(
                &self,
                partner: &PartnerId,
                key: &str,
                request_hash: &str,
                now: OffsetDateTime,
                policy: &IdempotencyPolicy,
            ) -> Result<IdempotencyBegin> {
                let mut tx = self.begin_write().await?;
                let inserted = sqlx::query(
                    "INSERT INTO idempotency_keys (partner_id, idem_key, request_hash, state, created_at) \
                     VALUES ($1, $2, $3, 'in_progress', $4) ON CONFLICT (partner_id, idem_key) DO NOTHING",
                )
                .bind(partner.as_str())
                .bind(key)
                .bind(request_hash)
                .bind(to_micros(now))
                .execute(&mut *tx)
                .await?
                .rows_affected()
                    == 1;
                if inserted {
                    tx.commit().await?;
                    return Ok(IdempotencyBegin::Started);
                }
                let row = sqlx::query(
                    "SELECT request_hash, state, response_status, response_body, created_at FROM idempotency_keys \
                     WHERE partner_id = $1 AND idem_key = $2",
                )
                .bind(partner.as_str())
                .bind(key)
                .fetch_one(&mut *tx)
                .await?;
                let stored_hash: String = row.try_get("request_hash")?;
                let state: String = row.try_get("state")?;
                let created_at: i64 = row.try_get("created_at")?;
                let expired = from_micros(created_at) < now - policy.retention;
                let abandoned = state == "in_progress" && from_micros(created_at) < now - policy.abandon_after;
                let outcome = if expired || (abandoned && stored_hash == request_hash) {
                    // Take the key over; the condition on created_at makes only one taker win.
                    let taken = sqlx::query(
                        "UPDATE idempotency_keys SET request_hash = $3, state = 'in_progress', response_status = NULL, \
                         response_body = NULL, created_at = $4 WHERE partner_id = $1 AND idem_key = $2 AND created_at = $5",
                    )
                    .bind(partner.as_str())
                    .bind(key)
                    .bind(request_hash)
                    .bind(to_micros(now))
                    .bind(created_at)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected()
                        == 1;
                    if taken { IdempotencyBegin::Started } else { IdempotencyBegin::InProgress }
                } else if stored_hash != request_hash {
                    IdempotencyBegin::Mismatch
                } else if state == "in_progress" {
                    IdempotencyBegin::InProgress
                } else {
                    let status: Option<i32> = row.try_get("response_status")?;
                    let body: Option<String> = row.try_get("response_body")?;
                    IdempotencyBegin::Replay {
                        status: status.and_then(|s| u16::try_from(s).ok()).ok_or_else(|| bad("idempotent status"))?,
                        body: body.unwrap_or_default(),
                    }
                };
                tx.commit().await?;
                Ok(outcome)
            }

            async fn idempotency_finish(&self, partner: &PartnerId, key: &str, status: u16, body: &str) -> Result<()> {
                let mut tx = self.begin_write().await?;
                sqlx::query(
                    "UPDATE idempotency_keys SET state = 'done', response_status = $3, response_body = $4 \
                     WHERE partner_id = $1 AND idem_key = $2",
                )
                .bind(partner.as_str())
                .bind(key)
                .bind(i32::from(status))
                .bind(body)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(())
            }

            async fn idempotency_release(&self, partner: &PartnerId, key: &str) -> Result<()> {
                let mut tx = self.begin_write().await?;
                sqlx::query("DELETE FROM idempotency_keys WHERE partner_id = $1 AND idem_key = $2 AND state = 'in_progress'")
                    .bind(partner.as_str())
                    .bind(key)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(())
            }

            async fn purge_idempotency_keys(&self, created_before: OffsetDateTime) -> Result<u64> {
                let mut tx = self.begin_write().await?;
                let res = sqlx::query("DELETE FROM idempotency_keys WHERE created_at < $1")
                    .bind(to_micros(created_before))
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(res.rows_affected())
            }
        }
    };
}

pub(crate) use {
    auth_cols, customer_cols, partner_cols, payment_cols, pm_cols, pr_cols, refund_cols, store_impl,
};

#[cfg(test)]
mod tests {
    use super::renumber_params;

    #[test]
    fn renumbering_shifts_every_parameter_and_nothing_else() {
        assert_eq!(
            renumber_params("UPDATE t SET a = $2, b = $10 WHERE id = $1 AND c = $2", 7),
            "UPDATE t SET a = $9, b = $17 WHERE id = $8 AND c = $9"
        );
        assert_eq!(
            renumber_params("SELECT 1 WHERE x = 'a'", 3),
            "SELECT 1 WHERE x = 'a'"
        );
        assert_eq!(renumber_params("VALUES ($1)", 0), "VALUES ($1)");
        // A `$` that is not a parameter stays as it is.
        assert_eq!(renumber_params("a $ b $x", 4), "a $ b $x");
    }

    #[test]
    fn a_parameter_inside_a_literal_is_caught() {
        assert!(super::param_in_literal("SELECT '$1' WHERE a = $2"));
        assert!(!super::param_in_literal(
            "SELECT 'a$' WHERE a = $2 AND b = 'x'"
        ));
        assert!(!super::param_in_literal(
            "UPDATE t SET s = 'done' WHERE id = $1"
        ));
    }
}
