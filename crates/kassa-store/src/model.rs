//! The records the store reads and writes, and the outcomes of its operations.

use kassa_core::ach::AccountType;
use kassa_core::address::BillingAddress;
use kassa_core::authorization::Authorization;
use kassa_core::billing_host::HostVerification;
use kassa_core::card::CardBrand;
use kassa_core::customer::Customer;
use kassa_core::descriptor::DynamicDescriptor;
use kassa_core::id::{
    ApiKeyId, AuthorizationId, CustomerId, EventId, JobId, PartnerId, PaymentId, PaymentMethodId,
    RefundId, UserId, VaultEntryId,
};
use kassa_core::invoice::Invoice;
use kassa_core::money::Money;
use kassa_core::partner::{BillingHost, BrandColor, LogoUrl, RedirectHosts, Slug};
use kassa_core::payment::{Payment, PaymentSource, PaymentStatus};
use kassa_core::payment_request::{FailedAttemptLimit, PaymentRequest, PaymentRequestStatus};
use kassa_core::refund::Refund;
use kassa_core::role::Role;
use kassa_core::scope::Scopes;
use kassa_core::secret::Secret;
use kassa_core::url::RedirectUrl;
use time::OffsetDateTime;

#[derive(Debug, Clone, PartialEq)]
pub struct Partner {
    pub id: PartnerId,
    pub slug: Slug,
    pub name: String,
    pub billing_host: Option<BillingHost>,
    /// Whether the billing host is proven, and the token its TXT record must carry; `Some`
    /// exactly when `billing_host` is.
    pub billing_host_verification: Option<HostVerification>,
    pub brand_color: BrandColor,
    pub logo_url: Option<LogoUrl>,
    pub default_redirect_url: Option<RedirectUrl>,
    pub require_signed_links: bool,
    /// Where unsigned creation links may send payers back to, besides the default redirect's host.
    pub allowed_redirect_hosts: RedirectHosts,
    /// Whether its owners must sign in with a second factor (docs/api.md §9).
    pub require_two_factor: bool,
    /// HMAC key for signed creation links, sealed with the vault key (the server opens it where
    /// a link is signed or checked). Empty (opens to nothing) while a secret stored in clear
    /// before it was sealed waits for Kassa's next start (migration 0014).
    pub link_secret: crate::SealedSecret,
    pub created_at: OffsetDateTime,
    /// Until when its pay pages were last put in challenge mode (read with the partner, so a
    /// pay page knows at no extra cost; `kassa_core::challenge::active_until` says if it is on).
    pub challenge_mode_until: Option<OffsetDateTime>,
    /// Which processor its new payments go through (docs/api.md §10); its account there is a
    /// [`crate::ProcessorAccount`].
    pub processor: kassa_core::processor::Connector,
    /// How payers reach it and read its policies (docs/api.md §11).
    pub contact: kassa_core::contact::Contact,
    /// Where Kassa emails it what happened (a payment, a returned debit, a disabled endpoint).
    pub notification_email: Option<kassa_core::email::Email>,
    /// The zone every time its people and its payers read is shown in.
    pub timezone: kassa_core::timezone::Timezone,
}

impl Partner {
    /// The billing host when it is verified: the only one that serves pages and links.
    pub fn verified_billing_host(&self) -> Option<&BillingHost> {
        match &self.billing_host_verification {
            Some(v) if v.is_verified() => self.billing_host.as_ref(),
            _ => None,
        }
    }
}

/// What a partner may change about itself (the dashboard's Settings, `PATCH /v1/partner`); the
/// slug, link secret and creation time stay as they were.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartnerSettings {
    pub name: String,
    pub billing_host: Option<BillingHost>,
    pub brand_color: BrandColor,
    pub logo_url: Option<LogoUrl>,
    pub default_redirect_url: Option<RedirectUrl>,
    pub require_signed_links: bool,
    pub allowed_redirect_hosts: RedirectHosts,
    pub require_two_factor: bool,
    pub contact: kassa_core::contact::Contact,
    pub notification_email: Option<kassa_core::email::Email>,
    pub timezone: kassa_core::timezone::Timezone,
}

/// An API key as stored: only a hash of the secret and a short prefix to recognise it by.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiKeyRecord {
    pub id: ApiKeyId,
    pub partner_id: PartnerId,
    pub label: String,
    /// The first characters of the key, e.g. `sk_AbC1`, shown in listings.
    pub prefix: String,
    pub key_hash: String,
    /// What the key may do (docs/api.md §9).
    pub scopes: Scopes,
    pub created_at: OffsetDateTime,
    pub revoked_at: Option<OffsetDateTime>,
}

/// The active key a request authenticated with: enough to check its scopes and name it in the
/// audit log.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyHolder {
    pub id: ApiKeyId,
    pub label: String,
    pub scopes: Scopes,
}

/// A new payment request, validated.
pub type PaymentRequestRecord = PaymentRequest;

#[derive(Debug, Clone, PartialEq)]
pub enum CreateOutcome {
    Created(PaymentRequest),
    /// Same reference, same amount and currency: the existing request.
    Existing(PaymentRequest),
    /// Same reference, another amount or currency: nothing changed.
    Conflict(PaymentRequest),
}

#[derive(Debug, Clone, Default)]
pub struct PaymentRequestFilter {
    /// Matches the status as seen at `as_of`: an open request past its deadline is expired.
    pub status: Option<PaymentRequestStatus>,
    pub reference_id: Option<String>,
    pub as_of: Option<OffsetDateTime>,
    /// Reference ids containing this text (case-insensitive).
    pub reference_contains: Option<String>,
}

#[derive(Debug, Clone)]
pub struct PageRequest {
    /// 1–100.
    pub limit: i64,
    /// Items after this id (newest first).
    pub starting_after: Option<String>,
}

impl Default for PageRequest {
    fn default() -> Self {
        Self {
            limit: 20,
            starting_after: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Page<T> {
    Items {
        data: Vec<T>,
        has_more: bool,
    },
    /// `starting_after` names no item of this partner.
    UnknownCursor,
}

impl<T> Page<T> {
    /// The same page with every item turned into `U`.
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        match self {
            Page::Items { data, has_more } => Page::Items {
                data: data.into_iter().map(f).collect(),
                has_more,
            },
            Page::UnknownCursor => Page::UnknownCursor,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum CancelOutcome {
    Canceled(PaymentRequest),
    NotFound,
    /// An attempt is being decided right now.
    InProgress(PaymentRequest),
    NotOpen(PaymentRequest),
}

/// A sealed secret for the vault table (AES-256-GCM, sealed by the caller).
#[derive(Debug, Clone, PartialEq)]
pub struct NewVaultEntry {
    pub id: VaultEntryId,
    pub nonce: Vec<u8>,
    pub ciphertext: Vec<u8>,
}

/// What is kept of a payment method outside the vault.
#[derive(Debug, Clone, PartialEq)]
pub enum MethodDetails {
    Card {
        brand: CardBrand,
        exp_month: i32,
        exp_year: i32,
        postal_code: Option<String>,
    },
    Ach {
        routing_number: String,
        account_type: AccountType,
    },
    GooglePay {
        brand: Option<CardBrand>,
    },
}

/// Who a stored payment method belongs to and what the payer gave with it (API payments).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MethodOwner {
    pub customer_id: Option<CustomerId>,
    pub billing_first_name: Option<String>,
    pub billing_last_name: Option<String>,
    pub billing_address: Option<BillingAddress>,
    pub merchant_payment_method_ref_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct NewPaymentMethod {
    pub id: PaymentMethodId,
    pub holder_name: Option<String>,
    pub owner: MethodOwner,
    /// Empty when unknown (a Google Pay token that does not say).
    pub last4: String,
    /// Keyed hash of the number: recognises the same card without storing it.
    pub fingerprint: String,
    pub details: MethodDetails,
    pub vault: NewVaultEntry,
}

#[derive(Debug, Clone, PartialEq)]
pub struct NewAttempt {
    pub payment_id: PaymentId,
    pub method: NewPaymentMethod,
    /// The failed attempts that lock the link (`limits.failedAttemptsPerLink`).
    pub failed_limit: FailedAttemptLimit,
    /// For a bank debit: the payer's authorization, as the pay page took it.
    pub ach_authorization: Option<kassa_core::ach::AchAuthorization>,
    /// The email the payer gave for the receipt; None takes the request's `payerEmail`.
    pub payer_email: Option<kassa_core::email::Email>,
}

// Returned once per call and matched right away; boxing would only add an allocation.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum BeginOutcome {
    Started {
        request: PaymentRequest,
        payment: Payment,
    },
    NotFound,
    AlreadyCompleted(PaymentRequest),
    /// Another attempt is in flight, or an ACH debit is processing.
    InProgress(PaymentRequest),
    /// Canceled or expired.
    NotOpen(PaymentRequest),
    /// Open, but it has had `MAX_ATTEMPTS` attempts already.
    TooManyAttempts(PaymentRequest),
}

#[derive(Debug, Clone, PartialEq)]
pub struct FinishedAttempt {
    /// The request it paid; None for an API sale.
    pub request: Option<PaymentRequest>,
    pub payment: Payment,
}

// Returned once per call and matched right away; boxing would only add an allocation.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum ResolveOutcome {
    Resolved(Payment),
    /// Not a pending ACH payment (already resolved, or a card): nothing changed.
    NotPending,
}

#[derive(Debug, Clone, PartialEq)]
pub struct EventRecord {
    pub id: EventId,
    pub event_type: String,
    pub data: serde_json::Value,
    pub created_at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq)]
pub struct NewJob {
    pub kind: String,
    pub payload: serde_json::Value,
    pub run_at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    pub id: JobId,
    pub kind: String,
    pub payload: serde_json::Value,
    pub attempts: i32,
}

#[derive(Debug, Clone)]
pub struct IdempotencyPolicy {
    /// Keys older than this are forgotten (≥ 24 h).
    pub retention: time::Duration,
    /// A request still "in progress" after this long died with its process; the key may be reused.
    pub abandon_after: time::Duration,
}

impl Default for IdempotencyPolicy {
    fn default() -> Self {
        Self {
            retention: time::Duration::hours(24),
            abandon_after: time::Duration::minutes(5),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum IdempotencyBegin {
    /// First use: run the request, then finish or release the key.
    Started,
    Replay {
        status: u16,
        body: String,
    },
    /// Same key, different request.
    Mismatch,
    InProgress,
}

/// What a `begin_*` call did: started a new record, or found the one an earlier request under
/// the same `Idempotency-Key` made (nothing new was written).
#[derive(Debug, Clone, PartialEq)]
pub enum Begun<T> {
    Started(T),
    Existing(T),
}

/// The customer of an API payment: an existing one, or one made in the same transaction.
#[derive(Debug, Clone, PartialEq)]
pub enum CustomerRef {
    Existing(CustomerId),
    New(Customer),
}

impl CustomerRef {
    pub fn id(&self) -> &CustomerId {
        match self {
            Self::Existing(id) => id,
            Self::New(c) => &c.id,
        }
    }
}

/// The payment method of an API payment: a stored one, or one vaulted in the same transaction.
// Built once per payment and moved into the store call; boxing would only add an allocation.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum MethodUse {
    Existing {
        id: PaymentMethodId,
        last4: String,
        details: MethodDetails,
    },
    New(NewPaymentMethod),
}

impl MethodUse {
    pub fn id(&self) -> &PaymentMethodId {
        match self {
            Self::Existing { id, .. } => id,
            Self::New(m) => &m.id,
        }
    }

    pub fn parts(&self) -> (&str, &MethodDetails) {
        match self {
            Self::Existing { last4, details, .. } => (last4, details),
            Self::New(m) => (&m.last4, &m.details),
        }
    }
}

/// A sale through the API, recorded before the processor is asked.
#[derive(Debug, Clone, PartialEq)]
pub struct NewApiPayment {
    pub payment_id: PaymentId,
    /// The request's `Idempotency-Key`: a retry finds this payment instead of making another.
    pub idempotency_key: Option<String>,
    pub amount: Money,
    pub customer: CustomerRef,
    pub method: MethodUse,
    pub invoice: Invoice,
    pub dynamic_descriptor: Option<DynamicDescriptor>,
}

/// An authorization, recorded (pending) before the processor is asked.
#[derive(Debug, Clone, PartialEq)]
pub struct NewAuthorization {
    pub id: AuthorizationId,
    pub idempotency_key: Option<String>,
    pub amount: Money,
    pub customer: CustomerRef,
    pub method: MethodUse,
    pub invoice: Invoice,
    pub dynamic_descriptor: Option<DynamicDescriptor>,
    pub expires_at: OffsetDateTime,
}

/// Capturing an authorization: by the capture endpoint (`invoice` None: the authorization's own),
/// or by a sale naming it (its own invoice, whose total is the amount).
#[derive(Debug, Clone, PartialEq)]
pub struct NewCapture {
    pub payment_id: PaymentId,
    pub idempotency_key: Option<String>,
    /// None captures the whole authorized amount.
    pub amount: Option<Money>,
    pub invoice: Option<Invoice>,
    pub dynamic_descriptor: Option<DynamicDescriptor>,
}

// Returned once per call and matched right away; boxing would only add an allocation.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum CaptureOutcome {
    /// Claimed: the authorization is `captured` and the capture's payment pending until the
    /// processor confirms ([`crate::Store::finish_attempt`]; a refusal frees the authorization).
    Captured {
        authorization: Authorization,
        payment: Payment,
    },
    /// The payment an earlier request under the same `Idempotency-Key` made.
    Existing(Payment),
    NotFound,
    ExceedsAuthorized(Authorization),
    AlreadyCaptured(Authorization),
    /// Pending, failed, reversed or expired.
    NotCapturable(Authorization),
}

#[derive(Debug, Clone, PartialEq)]
pub enum ReverseOutcome {
    Reversed(Authorization),
    NotFound,
    AlreadyCaptured(Authorization),
    /// Pending, failed, already reversed or expired.
    NotReversible(Authorization),
}

#[derive(Debug, Clone, Default)]
pub struct PaymentFilter {
    pub status: Option<PaymentStatus>,
    pub source: Option<PaymentSource>,
    pub customer_id: Option<CustomerId>,
    pub reference_id: Option<String>,
    /// Created at or after.
    pub created_from: Option<OffsetDateTime>,
    /// Created at or before.
    pub created_to: Option<OffsetDateTime>,
    /// `card`, `ach` or `google_pay`.
    pub method: Option<String>,
    /// Reference ids containing this text (case-insensitive).
    pub reference_contains: Option<String>,
    /// The dashboard's search box: a payment matching any reading of the term.
    pub search: Option<kassa_core::payment_search::PaymentSearch>,
}

/// What a filtered set of payments adds up to (the dashboard's totals above its list).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PaymentTotals {
    /// Every payment in the set, whatever its status.
    pub count: i64,
    /// Those that collected money (completed, partially refunded or refunded).
    pub succeeded: i64,
    /// What they collected, in minor units.
    pub gross: i64,
    /// What was refunded of them.
    pub refunded: i64,
}

/// Payments completed in one slice of time: its start, how many, and what they collected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VolumeSlice {
    pub start: OffsetDateTime,
    pub count: i64,
    pub amount: i64,
}

/// One item of a payout with what it came from, for the statement's CSV.
#[derive(Debug, Clone, PartialEq)]
pub struct StatementLine {
    pub item_type: kassa_core::payout::PayoutItemType,
    /// The payment, refund or earlier payout the item comes from.
    pub source_id: String,
    /// In minor units: negative for refunds, fees and a negative carried balance.
    pub amount: i64,
    /// The payment the item is about (the refunded one, for a refund).
    pub payment_id: Option<String>,
    pub reference_id: Option<String>,
    pub payer_name: Option<String>,
    pub payer_email: Option<String>,
    /// When it happened: the payment completed, the refund or the earlier payout was made.
    pub at: Option<OffsetDateTime>,
}

#[derive(Debug, Clone, Default)]
pub struct CustomerFilter {
    pub merchant_customer_ref_id: Option<String>,
}

/// A sealed vault row, as read back for a charge.
#[derive(Debug, Clone, PartialEq)]
pub struct VaultEntry {
    pub id: VaultEntryId,
    pub nonce: Vec<u8>,
    pub ciphertext: Vec<u8>,
}

/// An authorization the processor was asked about but whose answer was never recorded.
pub type AbandonedAuthorization = (PartnerId, AuthorizationId);

/// A refund asked for through the API, before the processor is asked.
#[derive(Debug, Clone, PartialEq)]
pub struct NewRefund {
    pub id: RefundId,
    /// None refunds all that is left.
    pub amount: Option<Money>,
    pub reason: Option<String>,
    pub idempotency_key: Option<String>,
}

// Returned once per call and matched right away; boxing would only add an allocation.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum RefundBegin {
    /// Reserved against the payment (pending); record the processor's answer with `finish_refund`.
    Started {
        refund: Refund,
        payment: Payment,
    },
    /// What an earlier request under the same `Idempotency-Key` made.
    Existing(Refund),
    NotFound,
    /// Nothing collected to refund: an ACH debit not cleared yet, a payment still being decided,
    /// or one that failed.
    NotSettled(Payment),
    /// More than is left to refund (`available`, counting refunds still pending).
    ExceedsAvailable {
        payment: Payment,
        available: Money,
    },
}

#[derive(Debug, Clone, Default)]
pub struct RefundFilter {
    pub payment_id: Option<PaymentId>,
}

/// A partner's ledger balances, in minor units of `currency`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Balances {
    pub available: i64,
    pub pending: i64,
    pub paid_out: i64,
    pub fees: i64,
}

/// A dashboard user of a partner.
#[derive(Debug, Clone, PartialEq)]
pub struct User {
    pub id: UserId,
    pub partner_id: PartnerId,
    /// Lowercased.
    pub email: String,
    pub created_at: OffsetDateTime,
    pub disabled_at: Option<OffsetDateTime>,
    pub role: Role,
    /// Whether they sign in with a second factor (a TOTP secret is stored).
    pub two_factor: bool,
}

/// A new user with its password already hashed (Argon2id, PHC format).
#[derive(Debug, Clone, PartialEq)]
pub struct NewUser {
    pub user: User,
    pub password_hash: Secret<String>,
}

/// A signed-in session: the user and their partner.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionRecord {
    pub user: User,
    pub partner: Partner,
    pub expires_at: OffsetDateTime,
    /// When it was last used (touched at most once a minute).
    pub last_seen_at: OffsetDateTime,
}

/// A user's TOTP secret as stored: sealed with the vault key, and the last step accepted.
#[derive(Debug, Clone, PartialEq)]
pub struct SealedTotp {
    pub nonce: Vec<u8>,
    pub secret: Vec<u8>,
    pub last_step: Option<i64>,
}

/// A second factor a person proved, to be spent once by the store.
#[derive(Debug, Clone, PartialEq)]
pub enum SecondFactor {
    /// A TOTP code of this step; accepted only if later than the last step used.
    Totp { step: i64 },
    /// A recovery code with this hash; accepted only if stored and not yet used.
    RecoveryCode { hash: String },
}

/// A sign-in waiting for its second step, and the user it may become (with their partner).
#[derive(Debug, Clone, PartialEq)]
pub struct PendingSignIn {
    pub user: User,
    pub partner: Partner,
}

/// What [`crate::Store::finish_sign_in`] did.
#[derive(Debug, Clone, PartialEq)]
pub enum FinishSignIn {
    /// The session is made and the pending sign-in gone.
    SignedIn(User),
    /// No live pending sign-in for this user (expired, finished, or never there).
    NoPending,
    /// The second factor was refused (a code already used, or none given when one is needed).
    FactorRefused,
}

/// What [`crate::Store::set_user_role`] did.
#[derive(Debug, Clone, PartialEq)]
pub enum SetRoleOutcome {
    Changed(User),
    NotFound,
    /// It is the partner's last enabled owner; nothing changed.
    LastOwner,
}

/// What [`crate::Store::delete_user`] did.
#[derive(Debug, Clone, PartialEq)]
pub enum DeleteUserOutcome {
    /// The user and their sessions are gone.
    Deleted(User),
    /// The partner has no such user.
    NotFound,
    /// It is the partner's last enabled owner; nothing was deleted.
    LastOwner,
}

/// The processor's answers; what each one causes is decided in `kassa_core::effects`.
pub use kassa_core::effects::{AttemptResult, AuthorizationResult, RefundResult};

impl From<&kassa_core::job::NewJobSpec> for NewJob {
    fn from(spec: &kassa_core::job::NewJobSpec) -> NewJob {
        NewJob {
            kind: spec.kind().as_str().to_string(),
            payload: spec.payload.to_payload(),
            run_at: spec.run_at,
        }
    }
}
