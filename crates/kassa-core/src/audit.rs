//! The audit log's rules (docs/api.md §9): who acted ([`Actor`], [`Caller`]), what they did
//! ([`Action`]), how it ended ([`Outcome`]), and the hash chain that makes a changed, removed or
//! inserted row visible ([`chain_hash`], [`verify_chain`]). The store writes an event in the
//! transaction of the change it records; this file decides what the event holds and how the
//! chain is checked.

use std::fmt;

use serde::Serialize;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::clock::to_micros;
use crate::id::AuditEventId;

/// What kind of actor did something.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ActorKind {
    /// A call of the API with an API key (`id` is the key's id, `name` its label).
    ApiKey,
    /// A dashboard user (`id` is the user's id, `name` their email).
    User,
    /// The `kassa` command line, run by the operator (`name` is the account that ran it).
    Cli,
    /// Kassa itself (`id` and `name` are `kassa`).
    System,
}

impl ActorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ActorKind::ApiKey => "api_key",
            ActorKind::User => "user",
            ActorKind::Cli => "cli",
            ActorKind::System => "system",
        }
    }

    pub fn parse(s: &str) -> Option<ActorKind> {
        [
            ActorKind::ApiKey,
            ActorKind::User,
            ActorKind::Cli,
            ActorKind::System,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

/// Who did something.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Actor {
    #[serde(rename = "type")]
    pub kind: ActorKind,
    /// The key's or user's id; `cli` or `kassa` for the command line and Kassa itself.
    pub id: String,
    /// The key's label, the user's email, the operating-system account at the command line.
    pub name: String,
}

impl Actor {
    pub fn api_key(id: &str, label: &str) -> Actor {
        Actor {
            kind: ActorKind::ApiKey,
            id: id.to_string(),
            name: label.to_string(),
        }
    }

    pub fn user(id: &str, email: &str) -> Actor {
        Actor {
            kind: ActorKind::User,
            id: id.to_string(),
            name: email.to_string(),
        }
    }

    /// The operator at the command line; `account` is the operating-system account.
    pub fn cli(account: &str) -> Actor {
        Actor {
            kind: ActorKind::Cli,
            id: "cli".to_string(),
            name: account.to_string(),
        }
    }

    /// A creation link typed by a payer (docs/api.md §2): Kassa made the request on the
    /// partner's behalf.
    pub fn creation_link() -> Actor {
        Actor {
            kind: ActorKind::System,
            id: "creation_link".to_string(),
            name: "creation link".to_string(),
        }
    }

    pub fn system() -> Actor {
        Actor {
            kind: ActorKind::System,
            id: "kassa".to_string(),
            name: "kassa".to_string(),
        }
    }
}

/// Who is calling, from where, and when: what every audited change is given by its caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub actor: Actor,
    /// When the call was made: the time of its audit event.
    pub at: OffsetDateTime,
    /// The client's address, as the limits see it (behind trusted proxies, the forwarded one).
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

/// The longest user agent kept; a longer one is cut (at a character boundary).
pub const MAX_USER_AGENT: usize = 256;

impl Caller {
    pub fn new(
        actor: Actor,
        at: OffsetDateTime,
        ip: Option<String>,
        user_agent: Option<&str>,
    ) -> Caller {
        let user_agent = user_agent.map(|ua| crate::text::truncate_chars(ua, MAX_USER_AGENT));
        Caller {
            actor,
            at,
            ip,
            user_agent,
        }
    }

    /// Kassa itself, with no client.
    pub fn system(at: OffsetDateTime) -> Caller {
        Caller::new(Actor::system(), at, None, None)
    }

    /// The operator at the command line.
    pub fn cli(account: &str, at: OffsetDateTime) -> Caller {
        Caller::new(Actor::cli(account), at, None, None)
    }
}

/// How an audited action ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Succeeded,
    /// A scope or role check refused it; nothing changed.
    Denied,
    /// It was tried and did not happen (a wrong password, a code that did not match).
    Failed,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Succeeded => "succeeded",
            Outcome::Denied => "denied",
            Outcome::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Outcome> {
        [Outcome::Succeeded, Outcome::Denied, Outcome::Failed]
            .into_iter()
            .find(|o| o.as_str() == s)
    }
}

macro_rules! actions {
    ($($variant:ident => $name:literal,)*) => {
        /// Everything the audit log records. The names are part of the API (`action` on an
        /// audit event, and its filter).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Action {
            $($variant,)*
        }

        impl Action {
            pub const ALL: &'static [Action] = &[$(Action::$variant,)*];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(Action::$variant => $name,)*
                }
            }
        }
    };
}

actions! {
    PaymentRequestCreated => "payment_request.created",
    PaymentRequestCanceled => "payment_request.canceled",
    PaymentCreated => "payment.created",
    AuthorizationCreated => "authorization.created",
    AuthorizationCaptured => "authorization.captured",
    AuthorizationReversed => "authorization.reversed",
    RefundCreated => "refund.created",
    CustomerCreated => "customer.created",
    CustomerUpdated => "customer.updated",
    PaymentMethodCreated => "payment_method.created",
    PaymentMethodDeleted => "payment_method.deleted",
    WebhookEndpointCreated => "webhook_endpoint.created",
    WebhookEndpointDeleted => "webhook_endpoint.deleted",
    WebhookEndpointEnabled => "webhook_endpoint.enabled",
    WebhookEndpointSecretRotated => "webhook_endpoint.secret_rotated",
    WebhookDeliveryRetried => "webhook_delivery.retried",
    ApiKeyCreated => "api_key.created",
    ApiKeyRevoked => "api_key.revoked",
    UserCreated => "user.created",
    UserDeleted => "user.deleted",
    UserPasswordChanged => "user.password_changed",
    UserRoleChanged => "user.role_changed",
    UserTwoFactorEnabled => "user.two_factor_enabled",
    UserTwoFactorDisabled => "user.two_factor_disabled",
    UserSignedIn => "user.signed_in",
    UserSignedOut => "user.signed_out",
    PartnerCreated => "partner.created",
    PartnerUpdated => "partner.updated",
    BillingHostVerified => "billing_host.verified",
    FeesUpdated => "fees.updated",
    TaxRateSet => "tax_rate.set",
    AccessDenied => "access.denied",
    VaultKeyRotated => "vault.key_rotated",
    ProcessorSet => "processor.set",
    EmailRequested => "email.requested",
}

impl Action {
    pub fn parse(s: &str) -> Option<Action> {
        Action::ALL.iter().copied().find(|a| a.as_str() == s)
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Action {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// What happened: an audit event before the store gives it its place in the chain.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub action: Action,
    pub outcome: Outcome,
    /// The id of what was acted on (`re_…`, `key_…`), when there is one.
    pub object_id: Option<String>,
    /// A JSON object: settings' `before` and `after`, a denied check's scope, …
    pub details: serde_json::Value,
}

impl Entry {
    pub fn succeeded(action: Action, object_id: impl Into<String>) -> Entry {
        Entry {
            action,
            outcome: Outcome::Succeeded,
            object_id: Some(object_id.into()),
            details: serde_json::Value::Object(Default::default()),
        }
    }

    pub fn with_details(mut self, details: serde_json::Value) -> Entry {
        self.details = details;
        self
    }
}

/// The details of a settings change: `{"before": {…}, "after": {…}}` with only the fields whose
/// value changed (by their API names).
pub fn changes(
    before: &serde_json::Map<String, serde_json::Value>,
    after: &serde_json::Map<String, serde_json::Value>,
) -> serde_json::Value {
    let mut old = serde_json::Map::new();
    let mut new = serde_json::Map::new();
    for (field, value) in after {
        let was = before.get(field).unwrap_or(&serde_json::Value::Null);
        if was != value {
            old.insert(field.clone(), was.clone());
            new.insert(field.clone(), value.clone());
        }
    }
    for (field, was) in before {
        if !after.contains_key(field) {
            old.insert(field.clone(), was.clone());
            new.insert(field.clone(), serde_json::Value::Null);
        }
    }
    serde_json::json!({"before": old, "after": new})
}

/// One stored audit event, with its place in its chain. Each partner has a chain of its own;
/// events of no partner (a vault key rotation) are on the installation's chain.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub id: AuditEventId,
    /// `None`: the installation's chain.
    pub partner_id: Option<String>,
    /// 1, 2, 3, … within the chain, without gaps.
    pub seq: i64,
    pub action: Action,
    pub outcome: Outcome,
    pub actor: Actor,
    pub object_id: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    /// The details' JSON text exactly as stored (the hash covers these bytes).
    pub details: String,
    pub created_at: OffsetDateTime,
    /// The previous event's `hash`; empty for the first event of a chain.
    pub prev_hash: String,
    pub hash: String,
}

impl Record {
    /// The hash this record should carry, from its own fields and `prev_hash`.
    pub fn expected_hash(&self) -> String {
        chain_hash(self)
    }
}

/// SHA-256 (hex) over every field of the record but `hash`, each length-prefixed so no two
/// different records hash the same bytes, and `prev_hash` last: the link to the row before.
pub fn chain_hash(r: &Record) -> String {
    fn field(h: &mut Sha256, bytes: &[u8]) {
        h.update((bytes.len() as u64).to_be_bytes());
        h.update(bytes);
    }
    fn optional(h: &mut Sha256, value: Option<&str>) {
        match value {
            None => h.update([0u8]),
            Some(v) => {
                h.update([1u8]);
                field(h, v.as_bytes());
            }
        }
    }
    let mut h = Sha256::new();
    field(&mut h, b"kassa-audit-v1");
    field(&mut h, r.id.as_str().as_bytes());
    optional(&mut h, r.partner_id.as_deref());
    field(&mut h, &r.seq.to_be_bytes());
    field(&mut h, r.action.as_str().as_bytes());
    field(&mut h, r.outcome.as_str().as_bytes());
    field(&mut h, r.actor.kind.as_str().as_bytes());
    field(&mut h, r.actor.id.as_bytes());
    field(&mut h, r.actor.name.as_bytes());
    optional(&mut h, r.object_id.as_deref());
    optional(&mut h, r.ip.as_deref());
    optional(&mut h, r.user_agent.as_deref());
    field(&mut h, r.details.as_bytes());
    field(&mut h, &to_micros(r.created_at).to_be_bytes());
    field(&mut h, r.prev_hash.as_bytes());
    hex::encode(h.finalize())
}

/// Where a chain stops being what was written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainBreak {
    #[error("audit event {id} (#{seq}) was changed after it was written: its hash does not match its contents")]
    Altered { id: String, seq: i64 },
    #[error("audit event {id} (#{seq}) does not follow #{previous}: {missing} event(s) before it are missing")]
    Missing {
        id: String,
        seq: i64,
        previous: i64,
        missing: i64,
    },
    #[error("audit event {id} (#{seq}) does not point at the event before it: a row was replaced or inserted")]
    Relinked { id: String, seq: i64 },
    #[error(
        "the chain ends at #{last}, but {expected} event(s) were written: the newest were removed"
    )]
    Truncated { last: i64, expected: i64 },
}

/// The chain's head as the store keeps it beside the events: how many were written and the
/// newest one's hash. It catches the removal of the newest rows, which no later row would.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    pub seq: i64,
    pub hash: String,
}

/// Checks one chain, read oldest first, one record at a time (a chain may be long): every
/// record's hash matches its contents, each points at the one before, `seq` runs 1, 2, 3, …
/// and, at [`ChainCheck::finish`], ends at the head.
#[derive(Debug)]
pub struct ChainCheck {
    previous: Head,
    checked: u64,
}

impl Default for ChainCheck {
    fn default() -> Self {
        ChainCheck {
            previous: Head {
                seq: 0,
                hash: String::new(),
            },
            checked: 0,
        }
    }
}

impl ChainCheck {
    pub fn push(&mut self, r: &Record) -> Result<(), ChainBreak> {
        let previous = &self.previous;
        if r.seq != previous.seq + 1 {
            return Err(ChainBreak::Missing {
                id: r.id.to_string(),
                seq: r.seq,
                previous: previous.seq,
                missing: r.seq - previous.seq - 1,
            });
        }
        if r.expected_hash() != r.hash {
            return Err(ChainBreak::Altered {
                id: r.id.to_string(),
                seq: r.seq,
            });
        }
        if r.prev_hash != previous.hash {
            return Err(ChainBreak::Relinked {
                id: r.id.to_string(),
                seq: r.seq,
            });
        }
        self.previous = Head {
            seq: r.seq,
            hash: r.hash.clone(),
        };
        self.checked += 1;
        Ok(())
    }

    /// The last `seq` checked: where to read on from.
    pub fn last_seq(&self) -> i64 {
        self.previous.seq
    }

    /// The number of records checked, once the chain is seen to end where its head says.
    pub fn finish(self, head: Option<&Head>) -> Result<u64, ChainBreak> {
        let expected = head.map_or((0, ""), |h| (h.seq, h.hash.as_str()));
        if (self.previous.seq, self.previous.hash.as_str()) != expected {
            return Err(ChainBreak::Truncated {
                last: self.previous.seq,
                expected: expected.0,
            });
        }
        Ok(self.checked)
    }
}

/// [`ChainCheck`] over records already in hand.
pub fn verify_chain(
    records: impl IntoIterator<Item = Record>,
    head: Option<&Head>,
) -> Result<u64, ChainBreak> {
    let mut check = ChainCheck::default();
    for r in records {
        check.push(&r)?;
    }
    check.finish(head)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(n: i64) -> Vec<Record> {
        let mut out: Vec<Record> = Vec::new();
        for seq in 1..=n {
            let mut r = Record {
                id: AuditEventId::generate(),
                partner_id: Some("par_x".into()),
                seq,
                action: Action::RefundCreated,
                outcome: Outcome::Succeeded,
                actor: Actor::api_key("key_1", "Bookkeeping"),
                object_id: Some(format!("re_{seq}")),
                ip: Some("203.0.113.7".into()),
                user_agent: Some("curl/8.5".into()),
                details: "{}".into(),
                created_at: OffsetDateTime::UNIX_EPOCH,
                prev_hash: out.last().map(|p| p.hash.clone()).unwrap_or_default(),
                hash: String::new(),
            };
            r.hash = chain_hash(&r);
            out.push(r);
        }
        out
    }

    fn head_of(records: &[Record]) -> Head {
        let last = records.last().unwrap();
        Head {
            seq: last.seq,
            hash: last.hash.clone(),
        }
    }

    #[test]
    fn an_untouched_chain_verifies() {
        let c = chain(5);
        let head = head_of(&c);
        assert_eq!(verify_chain(c, Some(&head)), Ok(5));
        assert_eq!(verify_chain(Vec::new(), None), Ok(0));
    }

    #[test]
    fn an_altered_field_names_its_row() {
        for alter in [
            (|r: &mut Record| r.object_id = Some("re_other".into())) as fn(&mut Record),
            |r| r.outcome = Outcome::Denied,
            |r| r.actor.name = "Someone else".into(),
            |r| r.details = r#"{"amount":"1.00"}"#.into(),
            |r| r.ip = None,
            |r| r.created_at += time::Duration::seconds(1),
        ] {
            let mut c = chain(4);
            let head = head_of(&c);
            alter(&mut c[2]);
            let id = c[2].id.to_string();
            assert_eq!(
                verify_chain(c, Some(&head)),
                Err(ChainBreak::Altered { id, seq: 3 })
            );
        }
    }

    #[test]
    fn a_removed_row_is_found_in_the_middle_and_at_the_end() {
        let mut c = chain(4);
        let head = head_of(&c);
        let removed = c.remove(1);
        assert!(matches!(
            verify_chain(c.clone(), Some(&head)),
            Err(ChainBreak::Missing {
                seq: 3,
                previous: 1,
                missing: 1,
                ..
            })
        ));
        drop(removed);

        let mut c = chain(4);
        let head = head_of(&c);
        c.pop();
        assert_eq!(
            verify_chain(c, Some(&head)),
            Err(ChainBreak::Truncated {
                last: 3,
                expected: 4
            })
        );
    }

    #[test]
    fn a_row_rewritten_with_a_fresh_hash_breaks_the_next_link() {
        let mut c = chain(3);
        let head = head_of(&c);
        c[1].object_id = Some("re_forged".into());
        c[1].hash = chain_hash(&c[1]);
        let next = c[2].id.to_string();
        assert_eq!(
            verify_chain(c, Some(&head)),
            Err(ChainBreak::Relinked { id: next, seq: 3 })
        );
    }

    #[test]
    fn changes_keep_only_what_changed() {
        let before = serde_json::json!({"name": "Acme", "brandColor": "#000000", "logoUrl": null});
        let after =
            serde_json::json!({"name": "Acme", "brandColor": "#112233", "logoUrl": "https://x"});
        assert_eq!(
            changes(before.as_object().unwrap(), after.as_object().unwrap()),
            serde_json::json!({
                "before": {"brandColor": "#000000", "logoUrl": null},
                "after": {"brandColor": "#112233", "logoUrl": "https://x"},
            })
        );
        let same = before.as_object().unwrap();
        assert_eq!(
            changes(same, same),
            serde_json::json!({"before": {}, "after": {}})
        );
    }

    #[test]
    fn names_read_back() {
        for a in Action::ALL {
            assert_eq!(Action::parse(a.as_str()), Some(*a));
        }
        assert_eq!(Action::parse("refund.deleted"), None);
        assert_eq!(Outcome::parse("denied"), Some(Outcome::Denied));
        assert_eq!(ActorKind::parse("api_key"), Some(ActorKind::ApiKey));
    }

    #[test]
    fn a_long_user_agent_is_cut() {
        let c = Caller::new(
            Actor::system(),
            OffsetDateTime::UNIX_EPOCH,
            None,
            Some(&"é".repeat(1000)),
        );
        assert_eq!(c.user_agent.unwrap().chars().count(), MAX_USER_AGENT);
    }
}
