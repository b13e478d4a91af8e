//! Partners and their API keys: settings, billing hosts and their verification, the key lookup
//! every API request makes (through the read cache), and challenge mode (docs/api.md §8).

use async_trait::async_trait;
use kassa_core::audit::{changes, Action, Caller, Entry};
use kassa_core::billing_host::{BillingHostStatus, HostVerification, VerificationToken};
use kassa_core::challenge::{ChallengeRule, PayPageCounts, DECLINE_CODES};
use kassa_core::clock::{from_micros, to_micros};
use kassa_core::contact::{Contact, PolicyUrl, SupportPhone};
use kassa_core::email::Email;
use kassa_core::id::{ApiKeyId, PartnerId};
use kassa_core::partner::{BillingHost, BrandColor, LogoUrl, RedirectHosts, Slug};
use kassa_core::scope::Scopes;
use kassa_core::timezone::Timezone;
use kassa_core::url::RedirectUrl;
use time::OffsetDateTime;

use crate::audit::append;
use crate::columns::*;
use crate::db::{query, query_scalar, Backend, Conn, Row, WriteTx as _};
use crate::model::*;
use crate::Result;

#[async_trait]
pub trait PartnerStore {
    /// Creates the partner, and its first API key when given, in one transaction.
    async fn create_partner(
        &self,
        partner: &Partner,
        first_key: Option<&ApiKeyRecord>,
        by: &Caller,
    ) -> Result<()>;
    async fn partner_by_id(&self, id: &PartnerId) -> Result<Option<Partner>>;
    async fn partner_by_slug(&self, slug: &str) -> Result<Option<Partner>>;
    /// Every partner, oldest first (the operator's `kassa partner list`).
    async fn list_partners(&self) -> Result<Vec<Partner>>;
    /// The partner whose billing host is `host` and verified (a pending host finds no one).
    async fn partner_by_host(&self, host: &str) -> Result<Option<Partner>>;
    /// Replaces the partner's settings; None if there is no such partner, Taken("billing host")
    /// when another partner has the billing host. A billing host that changes starts over as
    /// `pending_verification` with a new token; one that stays keeps its status and token. The
    /// audit event holds what changed, before and after, as read under the row's lock.
    async fn update_partner_settings(
        &self,
        partner: &PartnerId,
        settings: &PartnerSettings,
        by: &Caller,
    ) -> Result<Option<Partner>>;
    /// Marks the partner's billing host verified, if it is still `host` and (when given) its
    /// token is still `token`: the partner as it is now, or None when it has no such host or
    /// token any more (changed meanwhile) or no such partner. Verifying a verified host changes
    /// nothing and answers the partner (and records nothing).
    async fn verify_billing_host(
        &self,
        partner: &PartnerId,
        host: &BillingHost,
        token: Option<&VerificationToken>,
        by: &Caller,
    ) -> Result<Option<Partner>>;
    async fn create_api_key(&self, key: &ApiKeyRecord, by: &Caller) -> Result<()>;
    /// The partner owning an active (not revoked) key with this hash, and the key.
    async fn partner_by_api_key_hash(&self, key_hash: &str)
        -> Result<Option<(Partner, KeyHolder)>>;
    /// The partner's keys, revoked ones too, newest first.
    async fn list_api_keys(&self, partner: &PartnerId) -> Result<Vec<ApiKeyRecord>>;
    /// One of the partner's keys, revoked or not.
    async fn api_key(&self, partner: &PartnerId, id: &ApiKeyId) -> Result<Option<ApiKeyRecord>>;
    /// Revokes one key; false if no such active key of this partner.
    async fn revoke_api_key(
        &self,
        partner: &PartnerId,
        id: &ApiKeyId,
        now: OffsetDateTime,
        by: &Caller,
    ) -> Result<bool>;
    /// Revokes every active key of the partner with this label (an audit event each); how many.
    async fn revoke_api_keys_labeled(
        &self,
        partner: &PartnerId,
        label: &str,
        now: OffsetDateTime,
        by: &Caller,
    ) -> Result<u64>;
    /// Until when the partner's pay pages are (or were last) in challenge mode; None if never.
    async fn challenge_mode_until(&self, partner: &PartnerId) -> Result<Option<OffsetDateTime>>;
    /// After a decline on one of the partner's pay pages: counts its pay-page attempts and
    /// declines within the rule's window and, when the rule says so, puts its pay pages in
    /// challenge mode until `rule.until(now)` (extending it if it is on already). The new end
    /// when it did, None otherwise. One transaction, so instances sharing the database agree.
    async fn switch_on_challenge_mode(
        &self,
        partner: &PartnerId,
        rule: &ChallengeRule,
        now: OffsetDateTime,
    ) -> Result<Option<OffsetDateTime>>;
}

#[async_trait]
impl<B: Backend> PartnerStore for B {
    async fn create_partner(
        &self,
        p: &Partner,
        first_key: Option<&ApiKeyRecord>,
        by: &Caller,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let res = query(
            "INSERT INTO partners (id, slug, name, billing_host, brand_color, logo_url, \
             default_redirect_url, require_signed_links, link_secret, link_secret_nonce, \
             link_secret_ciphertext, created_at, allowed_redirect_hosts, require_two_factor, \
             billing_host_status, billing_host_token) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
        )
        .bind(p.id.as_str())
        .bind(p.slug.as_str())
        .bind(&p.name)
        .bind(p.billing_host.as_ref().map(|h| h.as_str()))
        .bind(p.brand_color.as_str())
        .bind(p.logo_url.as_ref().map(|u| u.as_str()))
        .bind(p.default_redirect_url.as_ref().map(|u| u.as_str()))
        .bind(p.require_signed_links)
        // The clear column of before migration 0014 stays empty.
        .bind("")
        .bind(p.link_secret.nonce.as_slice())
        .bind(p.link_secret.ciphertext.as_slice())
        .bind(to_micros(p.created_at))
        .bind(redirect_hosts_text(&p.allowed_redirect_hosts))
        .bind(p.require_two_factor)
        .bind(
            p.billing_host_verification
                .as_ref()
                .map(|v| v.status.as_str()),
        )
        .bind(
            p.billing_host_verification
                .as_ref()
                .map(|v| v.token.as_str()),
        )
        .execute(&mut tx)
        .await;
        if let Err(e) = res {
            return Err(unique_violation_field(&e)
                .map(crate::StoreError::Taken)
                .unwrap_or(e));
        }
        if let Some(host) = &p.billing_host {
            claim_billing_host(&mut tx, &p.id, host.as_str()).await?;
        }
        let mut details = serde_json::json!({"slug": p.slug.as_str()});
        if let Some(k) = first_key {
            insert_api_key(&mut tx, k).await?;
            details["firstApiKey"] = k.id.as_str().into();
        }
        let entry = Entry::succeeded(Action::PartnerCreated, p.id.as_str()).with_details(details);
        append(&mut tx, Some(&p.id), by, &entry).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn partner_by_id(&self, id: &PartnerId) -> Result<Option<Partner>> {
        let row = query(concat!(
            "SELECT ",
            crate::columns::partner_cols!(""),
            " FROM partners WHERE id = $1"
        ))
        .bind(id.as_str())
        .fetch_optional(&mut self.reader())
        .await?;
        row.as_ref().map(partner_from_row).transpose()
    }

    async fn partner_by_slug(&self, slug: &str) -> Result<Option<Partner>> {
        let row = query(concat!(
            "SELECT ",
            crate::columns::partner_cols!(""),
            " FROM partners WHERE slug = $1"
        ))
        .bind(slug)
        .fetch_optional(&mut self.reader())
        .await?;
        row.as_ref().map(partner_from_row).transpose()
    }

    async fn list_partners(&self) -> Result<Vec<Partner>> {
        let rows = query(concat!(
            "SELECT ",
            crate::columns::partner_cols!(""),
            " FROM partners ORDER BY created_at, slug"
        ))
        .fetch_all(&mut self.reader())
        .await?;
        rows.iter().map(partner_from_row).collect()
    }

    async fn partner_by_host(&self, host: &str) -> Result<Option<Partner>> {
        let row = query(concat!(
            "SELECT ",
            crate::columns::partner_cols!(""),
            " FROM partners WHERE billing_host = $1 AND billing_host_status = 'verified'"
        ))
        .bind(host)
        .fetch_optional(&mut self.reader())
        .await?;
        row.as_ref().map(partner_from_row).transpose()
    }

    async fn update_partner_settings(
        &self,
        partner: &PartnerId,
        s: &PartnerSettings,
        by: &Caller,
    ) -> Result<Option<Partner>> {
        // Used only if the host changes (the SET clauses read the row as it was).
        let token = VerificationToken::generate();
        let mut tx = self.begin_write().await?;
        // A no-op update: takes the row's lock and reads it, so `before` is what this change
        // replaces even with another change racing it.
        let before = query(concat!(
            "UPDATE partners SET name = name WHERE id = $1 RETURNING ",
            crate::columns::partner_cols!("")
        ))
        .bind(partner.as_str())
        .fetch_optional(&mut tx)
        .await?;
        let Some(before) = before.as_ref().map(partner_from_row).transpose()? else {
            tx.rollback().await?;
            return Ok(None);
        };
        let res = query(concat!(
            "UPDATE partners SET name = $2, billing_host = $3, brand_color = $4, logo_url = $5, \
             default_redirect_url = $6, require_signed_links = $7, allowed_redirect_hosts = $8, \
             require_two_factor = $9, support_email = $11, support_phone = $12, support_url = $13, \
             terms_url = $14, privacy_url = $15, notification_email = $16, timezone = $17, \
             billing_host_status = CASE WHEN $3 IS NULL THEN NULL \
               WHEN billing_host = $3 THEN billing_host_status ELSE 'pending_verification' END, \
             billing_host_token = CASE WHEN $3 IS NULL THEN NULL \
               WHEN billing_host = $3 THEN billing_host_token ELSE $10 END \
             WHERE id = $1 RETURNING ",
            crate::columns::partner_cols!("")
        ))
        .bind(partner.as_str())
        .bind(&s.name)
        .bind(s.billing_host.as_ref().map(|h| h.as_str()))
        .bind(s.brand_color.as_str())
        .bind(s.logo_url.as_ref().map(|u| u.as_str()))
        .bind(s.default_redirect_url.as_ref().map(|u| u.as_str()))
        .bind(s.require_signed_links)
        .bind(redirect_hosts_text(&s.allowed_redirect_hosts))
        .bind(s.require_two_factor)
        .bind(token.as_str())
        .bind(s.contact.support_email.as_ref().map(|e| e.as_str()))
        .bind(s.contact.support_phone.as_ref().map(|p| p.as_str()))
        .bind(s.contact.support_url.as_ref().map(|u| u.as_str()))
        .bind(s.contact.terms_url.as_ref().map(|u| u.as_str()))
        .bind(s.contact.privacy_url.as_ref().map(|u| u.as_str()))
        .bind(s.notification_email.as_ref().map(|e| e.as_str()))
        .bind(s.timezone.name())
        .fetch_optional(&mut tx)
        .await;
        let updated = match res {
            Ok(row) => row.as_ref().map(partner_from_row).transpose()?,
            Err(e) => {
                return Err(unique_violation_field(&e)
                    .map(crate::StoreError::Taken)
                    .unwrap_or(e))
            }
        };
        // Checked after the update so an unknown partner is None; a refused claim rolls
        // the update back with the transaction.
        if let (Some(_), Some(host)) = (&updated, &s.billing_host) {
            claim_billing_host(&mut tx, partner, host.as_str()).await?;
        }
        if let Some(after) = &updated {
            let details = changes(&settings_json(&before), &settings_json(after));
            let entry =
                Entry::succeeded(Action::PartnerUpdated, partner.as_str()).with_details(details);
            append(&mut tx, Some(partner), by, &entry).await?;
        }
        let _forget = self.read_cache().forget_on_drop();
        tx.commit().await?;
        Ok(updated)
    }

    async fn verify_billing_host(
        &self,
        partner: &PartnerId,
        host: &BillingHost,
        token: Option<&VerificationToken>,
        by: &Caller,
    ) -> Result<Option<Partner>> {
        let mut tx = self.begin_write().await?;
        // Only a change from pending is recorded; verifying again answers the partner as it is.
        let changed = query(
            "UPDATE partners SET billing_host_status = 'verified' \
             WHERE id = $1 AND billing_host = $2 AND billing_host_token = COALESCE($3, billing_host_token) \
             AND billing_host_status <> 'verified' RETURNING id",
        )
        .bind(partner.as_str())
        .bind(host.as_str())
        .bind(token.map(VerificationToken::as_str))
        .fetch_optional(&mut tx)
        .await?
        .is_some();
        if changed {
            let entry = Entry::succeeded(Action::BillingHostVerified, partner.as_str())
                .with_details(
                    serde_json::json!({"billingHost": host.as_str(), "dns": token.is_some()}),
                );
            append(&mut tx, Some(partner), by, &entry).await?;
        }
        let row = query(concat!(
            "SELECT ",
            crate::columns::partner_cols!(""),
            " FROM partners WHERE id = $1 AND billing_host = $2 \
             AND billing_host_token = COALESCE($3, billing_host_token) AND billing_host_status = 'verified'"
        ))
        .bind(partner.as_str())
        .bind(host.as_str())
        .bind(token.map(VerificationToken::as_str))
        .fetch_optional(&mut tx)
        .await?;
        let verified = row.as_ref().map(partner_from_row).transpose()?;
        let _forget = self.read_cache().forget_on_drop();
        tx.commit().await?;
        Ok(verified)
    }

    async fn create_api_key(&self, k: &ApiKeyRecord, by: &Caller) -> Result<()> {
        let mut tx = self.begin_write().await?;
        insert_api_key(&mut tx, k).await?;
        let entry = Entry::succeeded(Action::ApiKeyCreated, k.id.as_str()).with_details(
            serde_json::json!({"label": k.label, "scopes": k.scopes.iter().map(|s| s.as_str()).collect::<Vec<_>>()}),
        );
        append(&mut tx, Some(&k.partner_id), by, &entry).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn partner_by_api_key_hash(
        &self,
        key_hash: &str,
    ) -> Result<Option<(Partner, KeyHolder)>> {
        if let Some(found) = self.read_cache().api_key(key_hash) {
            return Ok(Some(found));
        }
        let generation = self.read_cache().generation();
        let row = query(concat!(
            "SELECT ",
            crate::columns::partner_cols!("p."),
            ", k.id AS key_id, k.label AS key_label, k.scopes AS key_scopes FROM api_keys k \
             JOIN partners p ON p.id = k.partner_id \
             WHERE k.key_hash = $1 AND k.revoked_at IS NULL"
        ))
        .bind(key_hash)
        .fetch_optional(&mut self.reader())
        .await?;
        let Some(row) = row else { return Ok(None) };
        let scopes: String = row.try_get("key_scopes")?;
        let found = (
            partner_from_row(&row)?,
            KeyHolder {
                id: ApiKeyId::from_trusted(row.try_get("key_id")?),
                label: row.try_get("key_label")?,
                scopes: Scopes::parse_list(&scopes).map_err(|_| bad("API key scopes"))?,
            },
        );
        self.read_cache().put_api_key(generation, key_hash, &found);
        Ok(Some(found))
    }

    async fn list_api_keys(&self, partner: &PartnerId) -> Result<Vec<ApiKeyRecord>> {
        let rows = query(
            "SELECT id, partner_id, label, prefix, key_hash, scopes, created_at, revoked_at \
             FROM api_keys WHERE partner_id = $1 ORDER BY created_at DESC, id",
        )
        .bind(partner.as_str())
        .fetch_all(&mut self.reader())
        .await?;
        rows.iter().map(api_key_from_row).collect()
    }

    async fn api_key(&self, partner: &PartnerId, id: &ApiKeyId) -> Result<Option<ApiKeyRecord>> {
        let row = query(
            "SELECT id, partner_id, label, prefix, key_hash, scopes, created_at, revoked_at \
             FROM api_keys WHERE partner_id = $1 AND id = $2",
        )
        .bind(partner.as_str())
        .bind(id.as_str())
        .fetch_optional(&mut self.reader())
        .await?;
        row.as_ref().map(api_key_from_row).transpose()
    }

    async fn revoke_api_key(
        &self,
        partner: &PartnerId,
        id: &ApiKeyId,
        now: OffsetDateTime,
        by: &Caller,
    ) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let res = query(
            "UPDATE api_keys SET revoked_at = $3 WHERE partner_id = $1 AND id = $2 AND revoked_at IS NULL",
        )
        .bind(partner.as_str())
        .bind(id.as_str())
        .bind(to_micros(now))
        .execute(&mut tx)
        .await?;
        let revoked = res.rows_affected() == 1;
        if revoked {
            let entry = Entry::succeeded(Action::ApiKeyRevoked, id.as_str());
            append(&mut tx, Some(partner), by, &entry).await?;
        }
        let _forget = self.read_cache().forget_on_drop();
        tx.commit().await?;
        Ok(revoked)
    }

    async fn revoke_api_keys_labeled(
        &self,
        partner: &PartnerId,
        label: &str,
        now: OffsetDateTime,
        by: &Caller,
    ) -> Result<u64> {
        let mut tx = self.begin_write().await?;
        let revoked: Vec<String> = query_scalar(
            "UPDATE api_keys SET revoked_at = $3 WHERE partner_id = $1 AND label = $2 AND revoked_at IS NULL \
             RETURNING id",
        )
        .bind(partner.as_str())
        .bind(label)
        .bind(to_micros(now))
        .fetch_all(&mut tx)
        .await?;
        for id in &revoked {
            let entry = Entry::succeeded(Action::ApiKeyRevoked, id.as_str());
            append(&mut tx, Some(partner), by, &entry).await?;
        }
        let _forget = self.read_cache().forget_on_drop();
        tx.commit().await?;
        Ok(revoked.len() as u64)
    }

    async fn challenge_mode_until(&self, partner: &PartnerId) -> Result<Option<OffsetDateTime>> {
        let until: Option<Option<i64>> =
            query_scalar("SELECT challenge_mode_until FROM partners WHERE id = $1")
                .bind(partner.as_str())
                .fetch_optional(&mut self.reader())
                .await?;
        Ok(time_opt(until.flatten()))
    }

    async fn switch_on_challenge_mode(
        &self,
        partner: &PartnerId,
        rule: &ChallengeRule,
        now: OffsetDateTime,
    ) -> Result<Option<OffsetDateTime>> {
        let mut tx = self.begin_write().await?;
        let row = query(COUNT_PAY_PAGE_ATTEMPTS.as_str())
            .bind(partner.as_str())
            .bind(to_micros(rule.window_start(now)));
        let row = DECLINE_CODES
            .iter()
            .fold(row, |q, code| q.bind(code.as_str()))
            .fetch_one(&mut tx)
            .await?;
        let counts = PayPageCounts {
            attempts: row.try_get("attempts")?,
            declines: row.try_get::<Option<i64>, _>("declines")?.unwrap_or(0),
        };
        if !rule.switches_on(counts) {
            tx.rollback().await?;
            return Ok(None);
        }
        // Never moves an end set by a concurrent decline back.
        let until = rule.until(now);
        let res = query(
            "UPDATE partners SET challenge_mode_until = $2 WHERE id = $1 \
             AND (challenge_mode_until IS NULL OR challenge_mode_until < $2)",
        )
        .bind(partner.as_str())
        .bind(to_micros(until))
        .execute(&mut tx)
        .await?;
        tx.commit().await?;
        Ok((res.rows_affected() == 1).then_some(until))
    }
}

/// A partner's pay-page card attempts created after `$2`, and how many of them were declined
/// (their failure code one of [`DECLINE_CODES`], bound from `$3` on). Bank debits are left out of
/// both: they are never declined at once, so counting them would let a card tester dilute its
/// declines with a bank debit each.
static COUNT_PAY_PAGE_ATTEMPTS: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    let codes: Vec<String> = (0..DECLINE_CODES.len())
        .map(|i| format!("${}", i + 3))
        .collect();
    format!(
        "SELECT COUNT(*) AS attempts, \
         SUM(CASE WHEN status = 'failed' AND failure_code IN ({}) THEN 1 ELSE 0 END) AS declines \
         FROM payments WHERE partner_id = $1 AND source = 'payment_request' AND method_type = 'card' \
         AND created_at > $2",
        codes.join(", ")
    )
});

pub(crate) fn partner_from_row(row: &Row) -> Result<Partner> {
    Ok(Partner {
        id: PartnerId::from_trusted(row.try_get("id")?),
        slug: Slug::from_trusted(row.try_get("slug")?),
        name: row.try_get("name")?,
        billing_host: row
            .try_get::<Option<String>, _>("billing_host")?
            .map(BillingHost::from_trusted),
        billing_host_verification: host_verification_from_row(row)?,
        brand_color: BrandColor::from_trusted(row.try_get("brand_color")?),
        logo_url: row
            .try_get::<Option<String>, _>("logo_url")?
            .map(LogoUrl::from_trusted),
        default_redirect_url: row
            .try_get::<Option<String>, _>("default_redirect_url")?
            .map(RedirectUrl::from_trusted),
        require_signed_links: row.try_get("require_signed_links")?,
        allowed_redirect_hosts: redirect_hosts_from_text(row.try_get("allowed_redirect_hosts")?),
        require_two_factor: row.try_get("require_two_factor")?,
        link_secret: crate::webhooks::sealed(row, "link_secret_nonce", "link_secret_ciphertext")?
            .unwrap_or(crate::SealedSecret {
                nonce: Vec::new(),
                ciphertext: Vec::new(),
            }),
        created_at: from_micros(row.try_get("created_at")?),
        challenge_mode_until: time_opt(row.try_get("challenge_mode_until")?),
        processor: {
            let connector: String = row.try_get("processor")?;
            kassa_core::processor::Connector::parse(&connector).ok_or_else(|| {
                crate::StoreError::Corrupt(format!("unknown processor {connector:?}"))
            })?
        },
        contact: contact_from_row(row)?,
        notification_email: row
            .try_get::<Option<String>, _>("notification_email")?
            .map(Email::from_trusted),
        timezone: Timezone::from_trusted(&row.try_get::<String, _>("timezone")?),
    })
}

fn contact_from_row(row: &Row) -> Result<Contact> {
    let url = |column: &str| -> Result<Option<PolicyUrl>> {
        Ok(row
            .try_get::<Option<String>, _>(column)?
            .map(PolicyUrl::from_trusted))
    };
    Ok(Contact {
        support_email: row
            .try_get::<Option<String>, _>("support_email")?
            .map(Email::from_trusted),
        support_phone: row
            .try_get::<Option<String>, _>("support_phone")?
            .map(SupportPhone::from_trusted),
        support_url: url("support_url")?,
        terms_url: url("terms_url")?,
        privacy_url: url("privacy_url")?,
    })
}

/// The settings of a partner by their API names, as the audit log records a change of them.
fn settings_json(p: &Partner) -> serde_json::Map<String, serde_json::Value> {
    let json = serde_json::json!({
        "name": p.name,
        "billingHost": p.billing_host.as_ref().map(|h| h.as_str()),
        "brandColor": p.brand_color.as_str(),
        "logoUrl": p.logo_url.as_ref().map(|u| u.as_str()),
        "defaultRedirectUrl": p.default_redirect_url.as_ref().map(|u| u.as_str()),
        "requireSignedLinks": p.require_signed_links,
        "allowedRedirectHosts": p.allowed_redirect_hosts.iter().collect::<Vec<_>>(),
        "requireTwoFactor": p.require_two_factor,
        "supportEmail": p.contact.support_email.as_ref().map(|e| e.as_str()),
        "supportPhone": p.contact.support_phone.as_ref().map(|e| e.as_str()),
        "supportUrl": p.contact.support_url.as_ref().map(|e| e.as_str()),
        "termsUrl": p.contact.terms_url.as_ref().map(|e| e.as_str()),
        "privacyUrl": p.contact.privacy_url.as_ref().map(|e| e.as_str()),
        "notificationEmail": p.notification_email.as_ref().map(|e| e.as_str()),
        "timezone": p.timezone.name(),
        "billingHostStatus": p.billing_host_verification.as_ref().map(|v| v.status.as_str()),
    });
    match json {
        serde_json::Value::Object(map) => map,
        _ => unreachable!("a JSON object literal"),
    }
}

fn host_verification_from_row(row: &Row) -> Result<Option<HostVerification>> {
    let status: Option<String> = row.try_get("billing_host_status")?;
    let token: Option<String> = row.try_get("billing_host_token")?;
    match (status, token) {
        (None, _) => Ok(None),
        (Some(status), Some(token)) => {
            let status = BillingHostStatus::parse(&status).ok_or_else(|| {
                crate::StoreError::Corrupt(format!("billing host status {status:?}"))
            })?;
            Ok(Some(HostVerification {
                status,
                token: VerificationToken::from_trusted(token),
            }))
        }
        (Some(_), None) => Err(crate::StoreError::Corrupt(
            "a billing host status without a token".into(),
        )),
    }
}

/// Allowed redirect hosts are kept one a line (a host name holds no newline).
fn redirect_hosts_text(hosts: &RedirectHosts) -> String {
    hosts.iter().collect::<Vec<_>>().join("\n")
}

fn redirect_hosts_from_text(text: String) -> RedirectHosts {
    RedirectHosts::from_trusted(
        text.lines()
            .filter(|h| !h.is_empty())
            .map(str::to_string)
            .collect(),
    )
}

pub(crate) fn api_key_from_row(row: &Row) -> Result<ApiKeyRecord> {
    Ok(ApiKeyRecord {
        id: ApiKeyId::from_trusted(row.try_get("id")?),
        partner_id: PartnerId::from_trusted(row.try_get("partner_id")?),
        label: row.try_get("label")?,
        prefix: row.try_get("prefix")?,
        key_hash: row.try_get("key_hash")?,
        scopes: Scopes::parse_list(&row.try_get::<String, _>("scopes")?)
            .map_err(|_| bad("API key scopes"))?,
        created_at: from_micros(row.try_get("created_at")?),
        revoked_at: time_opt(row.try_get("revoked_at")?),
    })
}

pub(crate) async fn insert_api_key(tx: &mut dyn Conn, k: &ApiKeyRecord) -> Result<()> {
    query(
        "INSERT INTO api_keys (id, partner_id, label, prefix, key_hash, created_at, scopes) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(k.id.as_str())
    .bind(k.partner_id.as_str())
    .bind(&k.label)
    .bind(&k.prefix)
    .bind(&k.key_hash)
    .bind(to_micros(k.created_at))
    .bind(k.scopes.to_list())
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Claims `host` for the partner, or finds it claimed (now or before) by another:
/// Taken("billing host").
pub(crate) async fn claim_billing_host(
    tx: &mut dyn Conn,
    partner: &PartnerId,
    host: &str,
) -> Result<()> {
    query("INSERT INTO billing_host_claims (host, partner_id) VALUES ($1, $2) ON CONFLICT (host) DO NOTHING")
        .bind(host)
        .bind(partner.as_str())
        .execute(&mut *tx)
        .await?;
    let owner: String = query_scalar("SELECT partner_id FROM billing_host_claims WHERE host = $1")
        .bind(host)
        .fetch_one(&mut *tx)
        .await?;
    if owner == partner.as_str() {
        Ok(())
    } else {
        Err(crate::StoreError::Taken("billing host"))
    }
}
