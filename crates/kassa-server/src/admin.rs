//! Operator actions shared by the CLI and `serve --demo`: partners (and the override that
//! verifies a billing host without DNS), API keys and tax rates.

use kassa_core::audit::{Caller, ChainBreak, ChainCheck};
use kassa_core::billing_host::{BillingHostStatus, HostVerification, VerificationToken};
use kassa_core::error::{FieldError, FieldErrors};
use kassa_core::fee::FeeSchedule;
use kassa_core::id::{random_base62, ApiKeyId, PartnerId, UserId};
use kassa_core::invoice::TaxRate;
use kassa_core::money::{format_minor, parse_amount};
use kassa_core::partner::{BillingHost, BrandColor, LogoUrl, Slug};
use kassa_core::payout::Payout;
use kassa_core::percent::Percent;
use kassa_core::role::Role;
use kassa_core::scope::Scopes;
use kassa_core::secret::Secret;
use kassa_store::{ApiKeyRecord, NewUser, Partner, Store, StoreError, User};
use time::OffsetDateTime;

use crate::vault::{hash_api_key, new_api_key, new_link_secret, Vault};

#[derive(Debug, Clone, Default)]
pub struct NewPartnerInput {
    pub name: String,
    pub slug: String,
    pub billing_host: Option<String>,
    pub brand_color: Option<String>,
    pub logo_url: Option<String>,
    pub require_signed_links: bool,
    /// The first API key's scopes; None: every scope but `admin`.
    pub key_scopes: Option<Scopes>,
}

/// A partner just made, with the secrets shown this once (the link secret is stored sealed).
#[derive(Debug)]
pub struct CreatedPartner {
    pub partner: Partner,
    pub api_key: Secret<String>,
    pub link_secret: Secret<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("{}", .0.iter().map(|e| format!("{}: {}", e.field, e.message)).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<FieldError>),
    #[error("the {0} is already taken by another partner")]
    Taken(&'static str),
    #[error("no partner with slug {0:?}")]
    UnknownPartner(String),
    #[error("partner {0:?} has no billing host to verify")]
    NoBillingHost(String),
    #[error("the billing host of partner {0:?} changed meanwhile; try again")]
    BillingHostChanged(String),
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for AdminError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Taken(what) => AdminError::Taken(what),
            e => AdminError::Store(e),
        }
    }
}

/// Makes a partner; its link secret is sealed with `vault`.
pub async fn create_partner(
    store: &dyn Store,
    vault: &Vault,
    input: NewPartnerInput,
    by: &Caller,
) -> Result<CreatedPartner, AdminError> {
    create_partner_with_key(store, vault, input, "default", by).await
}

/// The partner and its first API key (labelled `key_label`) are written in one transaction.
async fn create_partner_with_key(
    store: &dyn Store,
    vault: &Vault,
    input: NewPartnerInput,
    key_label: &str,
    by: &Caller,
) -> Result<CreatedPartner, AdminError> {
    let now = by.at;
    let mut errors = FieldErrors::new();
    let name = partner_name(&mut errors, &input.name);
    let slug = errors.take("slug", Slug::parse(&input.slug));
    let billing_host = input
        .billing_host
        .as_deref()
        .and_then(|h| errors.take("billingHost", BillingHost::parse(h)));
    let brand_color = match input.brand_color.as_deref() {
        Some(c) => errors.take("brandColor", BrandColor::parse(c)),
        None => Some(BrandColor::default()),
    };
    let logo_url = input
        .logo_url
        .as_deref()
        .and_then(|u| errors.take("logoUrl", LogoUrl::parse(u)));
    errors.finish().map_err(AdminError::Invalid)?;
    let id = PartnerId::generate();
    let link_secret = new_link_secret();
    let partner = Partner {
        link_secret: vault.seal_link_secret(&id, link_secret.expose()),
        id,
        slug: slug.expect("validated"),
        name: name.expect("validated"),
        billing_host_verification: billing_host.as_ref().map(|_| HostVerification {
            status: BillingHostStatus::PendingVerification,
            token: VerificationToken::generate(),
        }),
        billing_host,
        brand_color: brand_color.expect("validated"),
        logo_url,
        default_redirect_url: None,
        require_signed_links: input.require_signed_links,
        allowed_redirect_hosts: Default::default(),
        require_two_factor: false,
        created_at: now,
        challenge_mode_until: None,
        processor: kassa_core::processor::Connector::Sandbox,
        contact: Default::default(),
        notification_email: None,
        timezone: Default::default(),
    };
    let scopes = input.key_scopes.unwrap_or_else(Scopes::default_for_new_key);
    let (record, api_key) = new_key_record(&partner.id, key_label, scopes, now);
    store.create_partner(&partner, Some(&record), by).await?;
    Ok(CreatedPartner {
        partner,
        api_key,
        link_secret,
    })
}

/// Longest partner name, and longest API key label.
pub const NAME_MAX: usize = 100;

/// A partner's name as payers see it: trimmed, 1 to [`NAME_MAX`] characters, no control
/// characters; otherwise recorded in `errors` under `name`.
pub(crate) fn partner_name(errors: &mut FieldErrors, raw: &str) -> Option<String> {
    let name = raw.trim();
    if name.is_empty() || name.chars().count() > NAME_MAX || name.chars().any(char::is_control) {
        errors.add(
            "name",
            "invalid_value",
            format!("must be 1 to {NAME_MAX} characters"),
        );
        return None;
    }
    Some(name.to_string())
}

fn new_key_record(
    partner: &PartnerId,
    label: &str,
    scopes: Scopes,
    now: OffsetDateTime,
) -> (ApiKeyRecord, Secret<String>) {
    let key = new_api_key();
    let record = ApiKeyRecord {
        id: ApiKeyId::generate(),
        partner_id: partner.clone(),
        label: label.to_string(),
        prefix: key.expose()[..7].to_string(),
        key_hash: hash_api_key(key.expose()),
        scopes,
        created_at: now,
        revoked_at: None,
    };
    (record, key)
}

/// Makes a key for the partner with `scopes`; the secret is returned once and only its hash is
/// kept. The label (trimmed) is required: 1 to [`NAME_MAX`] characters without control
/// characters; a key needs at least one scope. (Whether the caller may grant the scopes is the
/// caller's check: an API key may only grant its own, `kassa_core::scope::may_grant`.)
pub async fn create_api_key(
    store: &dyn Store,
    partner: &PartnerId,
    label: &str,
    scopes: Scopes,
    by: &Caller,
) -> Result<(ApiKeyRecord, Secret<String>), AdminError> {
    let mut errors = FieldErrors::new();
    let label = kassa_core::text::required(&mut errors, "label", Some(label.to_string()), NAME_MAX);
    if scopes.is_empty() {
        errors.add("scopes", "invalid_value", "must name at least one scope");
    }
    errors.finish().map_err(AdminError::Invalid)?;
    let (record, key) = new_key_record(partner, &label.expect("validated"), scopes, by.at);
    store.create_api_key(&record, by).await?;
    Ok((record, key))
}

/// Shortest password accepted for a dashboard user.
pub const MIN_PASSWORD_CHARS: usize = 12;

/// Hashes a password with Argon2id (the crate's default parameters) and a random salt.
pub fn hash_password(password: &str) -> String {
    use argon2::password_hash::{PasswordHasher, SaltString};
    let mut salt = [0u8; 16];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut salt);
    let salt = SaltString::encode_b64(&salt).expect("16 bytes make a valid salt");
    argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .expect("Argon2 hashes any password with valid parameters")
        .to_string()
}

/// Whether `password` matches a stored PHC hash; false for a malformed hash.
pub fn verify_password(password: &str, stored: &str) -> bool {
    use argon2::password_hash::{PasswordHash, PasswordVerifier};
    PasswordHash::new(stored)
        .map(|hash| {
            argon2::Argon2::default()
                .verify_password(password.as_bytes(), &hash)
                .is_ok()
        })
        .unwrap_or(false)
}

/// Adds a dashboard user with `role` to a partner (`kassa user create`); an email is unique per
/// partner.
pub async fn create_user(
    store: &dyn Store,
    partner: &PartnerId,
    email: &str,
    password: &str,
    role: Role,
    by: &Caller,
) -> Result<User, AdminError> {
    let now = by.at;
    let mut errors = FieldErrors::new();
    let email = if email.trim().is_empty() {
        errors.add("email", "required", "is required");
        None
    } else {
        errors
            .take("email", kassa_core::email::Email::parse(email.trim()))
            .map(|e| e.as_str().to_lowercase())
    };
    if password.is_empty() {
        errors.add("password", "required", "is required");
    } else if password.chars().count() < MIN_PASSWORD_CHARS {
        errors.add(
            "password",
            "too_short",
            format!("must be at least {MIN_PASSWORD_CHARS} characters"),
        );
    }
    errors.finish().map_err(AdminError::Invalid)?;
    // Argon2 is slow on purpose; keep it off the async workers.
    let password = password.to_string();
    let password_hash = tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .expect("hashing a password does not panic");
    let user = User {
        id: UserId::generate(),
        partner_id: partner.clone(),
        email: email.expect("validated"),
        created_at: now,
        disabled_at: None,
        role,
        two_factor: false,
    };
    let password_hash = Secret::new(password_hash);
    store
        .create_user(
            &NewUser {
                user: user.clone(),
                password_hash,
            },
            by,
        )
        .await?;
    Ok(user)
}

pub const DEMO_EMAIL: &str = "demo@acme.example";

/// The demo partner's dashboard user, with a fresh password each start (shown once; only its
/// hash is kept), which signs out the previous start's sessions.
pub async fn ensure_demo_user(
    store: &dyn Store,
    partner: &PartnerId,
    by: &Caller,
) -> Result<(String, Secret<String>), AdminError> {
    let password = random_base62(16);
    match store.user_by_email(partner, DEMO_EMAIL).await? {
        Some(user) => {
            store
                .set_password(&user.id, &Secret::new(hash_password(&password)), by)
                .await?;
        }
        None => {
            create_user(store, partner, DEMO_EMAIL, &password, Role::Owner, by).await?;
        }
    }
    Ok((DEMO_EMAIL.to_string(), Secret::new(password)))
}

/// Longest tax code accepted (Avalara codes are short, e.g. `P0000000`).
pub const TAX_CODE_MAX: usize = 25;

/// Sets the partner's rate for one tax code (`kassa tax set`); the rate is a percent like 8.25.
pub async fn set_tax_rate(
    store: &dyn Store,
    partner: &PartnerId,
    code: &str,
    rate: &str,
    by: &Caller,
) -> Result<TaxRate, AdminError> {
    let mut errors = FieldErrors::new();
    if code.is_empty()
        || code.chars().count() > TAX_CODE_MAX
        || code.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        errors.add(
            "code",
            "invalid_value",
            format!("must be 1 to {TAX_CODE_MAX} characters without spaces"),
        );
    }
    let rate = errors.take("rate", TaxRate::parse(rate));
    errors.finish().map_err(AdminError::Invalid)?;
    let rate = rate.expect("validated");
    store.set_tax_rate(partner, code, rate, by).await?;
    Ok(rate)
}

/// A change to a partner's fees (`kassa fees set`); None leaves a setting as it is.
#[derive(Debug, Default)]
pub struct FeeChange {
    pub card_percent: Option<String>,
    pub card_fixed: Option<String>,
    pub ach_percent: Option<String>,
    /// An amount, or `none` for no cap.
    pub ach_cap: Option<String>,
}

pub async fn set_fees(
    store: &dyn Store,
    partner: &PartnerId,
    change: FeeChange,
    by: &Caller,
) -> Result<FeeSchedule, AdminError> {
    let mut fees = store.fees(partner).await?;
    let mut errors = FieldErrors::new();
    if let Some(p) = change.card_percent {
        fees.card_percent = errors
            .take("cardPercent", Percent::parse(&p))
            .unwrap_or_default();
    }
    if let Some(a) = change.card_fixed {
        fees.card_fixed = errors
            .take("cardFixed", parse_amount(&a))
            .unwrap_or_default();
    }
    if let Some(p) = change.ach_percent {
        fees.ach_percent = errors
            .take("achPercent", Percent::parse(&p))
            .unwrap_or_default();
    }
    if let Some(a) = change.ach_cap {
        fees.ach_cap = if a == "none" {
            None
        } else {
            errors.take("achCap", parse_amount(&a))
        };
    }
    errors.finish().map_err(AdminError::Invalid)?;
    store.set_fees(partner, &fees, by).await?;
    Ok(fees)
}

/// "card 2.9% + 0.30, ACH 0.8% capped at 5.00"
pub fn describe_fees(fees: &FeeSchedule) -> String {
    let cap = match fees.ach_cap {
        Some(cap) => format!(" capped at {}", format_minor(cap)),
        None => String::new(),
    };
    format!(
        "card {}% + {}, ACH {}%{cap}",
        fees.card_percent.percent_text(),
        format_minor(fees.card_fixed),
        fees.ach_percent.percent_text()
    )
}

/// Cuts the payout batch at `cutoff`: one partner's, or every partner's that has something to
/// pay out (`kassa payouts run`, and the daily batch job).
pub async fn run_payouts(
    store: &dyn Store,
    partner: Option<&PartnerId>,
    cutoff: OffsetDateTime,
    now: OffsetDateTime,
) -> Result<Vec<Payout>, AdminError> {
    let partners = match partner {
        Some(p) => vec![p.clone()],
        None => store.partners_due_payout(cutoff).await?,
    };
    let mut made = Vec::new();
    for partner in partners {
        if let Some(payout) = store.run_payout(&partner, cutoff, now).await? {
            made.push(payout);
        }
    }
    Ok(made)
}

/// The operator's override (`kassa partner verify-host`): marks the partner's billing host
/// verified without looking at DNS. A verified host stays as it is.
pub async fn verify_billing_host(
    store: &dyn Store,
    slug: &str,
    by: &Caller,
) -> Result<Partner, AdminError> {
    let partner = partner_by_slug(store, slug).await?;
    let host = partner
        .billing_host
        .as_ref()
        .ok_or_else(|| AdminError::NoBillingHost(slug.to_string()))?;
    store
        .verify_billing_host(&partner.id, host, None, by)
        .await?
        .ok_or_else(|| AdminError::BillingHostChanged(slug.to_string()))
}

pub async fn partner_by_slug(store: &dyn Store, slug: &str) -> Result<Partner, AdminError> {
    store
        .partner_by_slug(slug)
        .await?
        .ok_or_else(|| AdminError::UnknownPartner(slug.to_string()))
}

/// What `serve --demo` prints.
#[derive(Debug)]
pub struct Demo {
    pub partner: Partner,
    pub created: bool,
    pub api_key: Secret<String>,
}

pub const DEMO_SLUG: &str = "acme";

/// Adds the demo partner once; every start gets a fresh demo API key (only hashes are kept,
/// so an old one cannot be shown again) and the previous demo keys are revoked.
pub async fn ensure_demo(
    store: &dyn Store,
    vault: &Vault,
    by: &Caller,
) -> Result<Demo, AdminError> {
    if let Some(partner) = store.partner_by_slug(DEMO_SLUG).await? {
        store
            .revoke_api_keys_labeled(&partner.id, "demo", by.at, by)
            .await?;
        let scopes = Scopes::default_for_new_key();
        let (_, api_key) = create_api_key(store, &partner.id, "demo", scopes, by).await?;
        return Ok(Demo {
            partner,
            created: false,
            api_key,
        });
    }
    let created = create_partner_with_key(
        store,
        vault,
        NewPartnerInput {
            name: "Acme Services".into(),
            slug: DEMO_SLUG.into(),
            brand_color: Some("#0f766e".into()),
            ..Default::default()
        },
        "demo",
        by,
    )
    .await?;
    Ok(Demo {
        partner: created.partner,
        created: true,
        api_key: created.api_key,
    })
}

/// What `kassa audit verify` found on one chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainReport {
    /// The partner's slug, or None for the installation's own chain.
    pub partner: Option<String>,
    /// Events checked, or where the chain breaks.
    pub result: Result<u64, ChainBreak>,
}

/// Checks the audit log's hash chains: one partner's, or every chain (`kassa audit verify`).
/// Reads each chain oldest first, a page at a time.
pub async fn verify_audit(
    store: &dyn Store,
    partner: Option<&Partner>,
) -> Result<Vec<ChainReport>, AdminError> {
    let chains = match partner {
        Some(p) => vec![Some(p.id.clone())],
        None => store.audit_chains().await?,
    };
    let mut reports = Vec::new();
    for chain in chains {
        let slug = match (&chain, partner) {
            (None, _) => None,
            (Some(_), Some(p)) => Some(p.slug.to_string()),
            (Some(id), None) => store
                .partner_by_id(id)
                .await?
                .map(|p| p.slug.to_string())
                .or_else(|| Some(id.to_string())),
        };
        let result = verify_chain(store, chain.as_ref()).await?;
        reports.push(ChainReport {
            partner: slug,
            result,
        });
    }
    Ok(reports)
}

async fn verify_chain(
    store: &dyn Store,
    chain: Option<&PartnerId>,
) -> Result<Result<u64, ChainBreak>, AdminError> {
    // The head first: events appended while the chain is read are past it, and not checked.
    let head = store.audit_head(chain).await?;
    let mut check = ChainCheck::default();
    loop {
        let page = store.audit_chain_page(chain, check.last_seq()).await?;
        let full = page.len() as i64 == kassa_store::CHAIN_BATCH;
        for record in page {
            if head.as_ref().is_some_and(|h| record.seq > h.seq) {
                return Ok(check.finish(head.as_ref()));
            }
            if let Err(broken) = check.push(&record) {
                return Ok(Err(broken));
            }
        }
        if !full {
            return Ok(check.finish(head.as_ref()));
        }
    }
}
