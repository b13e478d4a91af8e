//! Partner logos (docs/api.md §11): the checked bytes of the one logo each partner uploaded,
//! with its type, hash and size. Replacing or removing it is audited as a settings change
//! (`partner.updated`, `logo` before and after). What may be stored is decided by
//! `kassa_core::logo`.

use async_trait::async_trait;
use kassa_core::audit::{Action, Caller, Entry};
use kassa_core::clock::{from_micros, to_micros};
use kassa_core::id::PartnerId;
use kassa_core::logo::Logo;
use time::OffsetDateTime;

use crate::audit::append;
use crate::db::{query, Backend, Row, WriteTx as _};
use crate::Result;

/// What a page needs to show a partner's logo: no bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogoRef {
    pub content_type: String,
    /// Hex SHA-256 of the bytes; names the logo in its URL.
    pub sha256: String,
    pub width: u32,
    pub height: u32,
    pub updated_at: OffsetDateTime,
}

/// A stored logo, as it is served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredLogo {
    pub logo: LogoRef,
    pub bytes: Vec<u8>,
}

#[async_trait]
pub trait LogoStore {
    /// Stores `logo` as the partner's, replacing the one it had. False when the partner is not
    /// there (nothing is written then).
    async fn set_logo(&self, partner: &PartnerId, logo: &Logo, by: &Caller) -> Result<bool>;
    /// Removes the partner's logo; false when it had none (nothing is audited then).
    async fn delete_logo(&self, partner: &PartnerId, by: &Caller) -> Result<bool>;
    /// The partner's logo without its bytes.
    async fn logo_ref(&self, partner: &PartnerId) -> Result<Option<LogoRef>>;
    /// The logo of the partner with this slug, with its bytes.
    async fn logo_by_slug(&self, slug: &str) -> Result<Option<StoredLogo>>;
}

const REF_COLS: &str = "l.content_type, l.sha256, l.width, l.height, l.updated_at";

fn ref_from_row(row: &Row) -> Result<LogoRef> {
    let side = |name: &str| -> Result<u32> {
        let v: i64 = row.try_get(name)?;
        u32::try_from(v).map_err(|_| crate::StoreError::Corrupt(format!("logo {name} {v}")))
    };
    Ok(LogoRef {
        content_type: row.try_get("content_type")?,
        sha256: row.try_get("sha256")?,
        width: side("width")?,
        height: side("height")?,
        updated_at: from_micros(row.try_get("updated_at")?),
    })
}

/// The audit details of a logo change: its hash before and after (null: none).
fn logo_change(before: Option<String>, after: Option<&str>) -> serde_json::Value {
    serde_json::json!({"before": {"logo": before}, "after": {"logo": after}})
}

#[async_trait]
impl<B: Backend> LogoStore for B {
    async fn set_logo(&self, partner: &PartnerId, logo: &Logo, by: &Caller) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let exists = query("SELECT id FROM partners WHERE id = $1")
            .bind(partner.as_str())
            .fetch_optional(&mut tx)
            .await?
            .is_some();
        if !exists {
            tx.rollback().await?;
            return Ok(false);
        }
        let before: Option<String> =
            query("SELECT sha256 FROM partner_logos WHERE partner_id = $1")
                .bind(partner.as_str())
                .fetch_optional(&mut tx)
                .await?
                .map(|row| row.try_get("sha256"))
                .transpose()?;
        query(
            "INSERT INTO partner_logos (partner_id, content_type, bytes, sha256, width, height, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (partner_id) DO UPDATE SET content_type = excluded.content_type, \
             bytes = excluded.bytes, sha256 = excluded.sha256, width = excluded.width, \
             height = excluded.height, updated_at = excluded.updated_at",
        )
        .bind(partner.as_str())
        .bind(logo.kind.content_type())
        .bind(&logo.bytes)
        .bind(logo.sha256.as_str())
        .bind(i64::from(logo.width))
        .bind(i64::from(logo.height))
        .bind(to_micros(by.at))
        .execute(&mut tx)
        .await?;
        let entry = Entry::succeeded(Action::PartnerUpdated, partner.as_str())
            .with_details(logo_change(before, Some(&logo.sha256)));
        append(&mut tx, Some(partner), by, &entry).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn delete_logo(&self, partner: &PartnerId, by: &Caller) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let removed = query("DELETE FROM partner_logos WHERE partner_id = $1 RETURNING sha256")
            .bind(partner.as_str())
            .fetch_optional(&mut tx)
            .await?;
        let Some(row) = removed else {
            tx.rollback().await?;
            return Ok(false);
        };
        let entry = Entry::succeeded(Action::PartnerUpdated, partner.as_str())
            .with_details(logo_change(Some(row.try_get("sha256")?), None));
        append(&mut tx, Some(partner), by, &entry).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn logo_ref(&self, partner: &PartnerId) -> Result<Option<LogoRef>> {
        query(format!(
            "SELECT {REF_COLS} FROM partner_logos l WHERE l.partner_id = $1"
        ))
        .bind(partner.as_str())
        .fetch_optional(&mut self.reader())
        .await?
        .as_ref()
        .map(ref_from_row)
        .transpose()
    }

    async fn logo_by_slug(&self, slug: &str) -> Result<Option<StoredLogo>> {
        let row = query(format!(
            "SELECT {REF_COLS}, l.bytes FROM partner_logos l \
             JOIN partners p ON p.id = l.partner_id WHERE p.slug = $1"
        ))
        .bind(slug)
        .fetch_optional(&mut self.reader())
        .await?;
        let Some(row) = row else { return Ok(None) };
        Ok(Some(StoredLogo {
            logo: ref_from_row(&row)?,
            bytes: row.try_get("bytes")?,
        }))
    }
}
