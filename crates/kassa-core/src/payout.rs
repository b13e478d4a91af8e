//! Payouts and the balance (docs/api.md §4). A payout batch takes the partner's available balance at
//! cut-off: payments made payable minus refunds and fees since the last batch, plus whatever the
//! last batch carried forward. A batch whose net is ≤ 0 moves no money and is carried forward.
//! Batches are cut daily at one UTC time of day, the cut-off ([`last_cutoff`]).

use serde::Serialize;
use time::OffsetDateTime;
use utoipa::ToSchema;

use crate::id::{PartnerId, PayoutId};
use crate::ledger::EntryKind;
use crate::money::{Currency, Money};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PayoutStatus {
    /// The net was positive and was paid to the partner.
    Paid,
    /// The net was zero or negative: no money moved, and it counts towards the next batch.
    CarriedForward,
}

impl PayoutStatus {
    pub const ALL: [PayoutStatus; 2] = [Self::Paid, Self::CarriedForward];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Paid => "paid",
            Self::CarriedForward => "carried_forward",
        }
    }

    pub fn parse_str(s: &str) -> Option<PayoutStatus> {
        Self::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// The status of a batch whose items sum to `net_minor`: only a positive net is paid.
    pub fn for_net(net_minor: i64) -> PayoutStatus {
        if net_minor > 0 {
            Self::Paid
        } else {
            Self::CarriedForward
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PayoutItemType {
    Payment,
    Refund,
    Fee,
    /// A negative net carried forward from the previous batch.
    CarriedBalance,
}

impl PayoutItemType {
    pub const ALL: [PayoutItemType; 4] =
        [Self::Payment, Self::Refund, Self::Fee, Self::CarriedBalance];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Payment => "payment",
            Self::Refund => "refund",
            Self::Fee => "fee",
            Self::CarriedBalance => "carried_balance",
        }
    }

    pub fn parse_str(s: &str) -> Option<PayoutItemType> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }

    /// The item a ledger entry on PartnerAvailable becomes in a batch; None for kinds that are
    /// not batch items (a payout itself, and the ACH kinds that never touch PartnerAvailable).
    pub fn for_entry_kind(kind: EntryKind) -> Option<PayoutItemType> {
        match kind {
            EntryKind::Payment => Some(Self::Payment),
            EntryKind::Refund => Some(Self::Refund),
            EntryKind::Fee => Some(Self::Fee),
            EntryKind::AchPending | EntryKind::AchReturn | EntryKind::Payout => None,
        }
    }
}

/// One line of a payout: what the partner was credited or charged. Refunds and fees are negative.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PayoutItem {
    #[serde(rename = "type")]
    pub item_type: PayoutItemType,
    /// The payment, refund or payout (for a carried balance) the item comes from.
    pub source_id: String,
    pub amount: Money,
}

/// One payout batch.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Payout {
    pub id: PayoutId,
    #[serde(skip)]
    pub partner_id: PartnerId,
    #[schema(inline)]
    pub object: PayoutObject,
    pub status: PayoutStatus,
    /// The sum of the items: paid when positive, carried forward otherwise.
    pub amount: Money,
    pub currency: Currency,
    #[serde(with = "crate::clock::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Entries up to this instant are in the batch.
    #[serde(with = "crate::clock::rfc3339")]
    pub cutoff_at: OffsetDateTime,
    pub items: Vec<PayoutItem>,
}

/// The `object` field: always `"payout"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, ToSchema)]
pub enum PayoutObject {
    #[default]
    #[serde(rename = "payout")]
    Payout,
}

/// GET /v1/balance. `available` may be negative (refunds beyond unpaid funds).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Balance {
    /// Payable in the next batch; negative when refunds exceeded the unpaid funds.
    pub available: Money,
    /// Submitted ACH debits that have not cleared yet.
    pub pending: Money,
    pub currency: Currency,
}

/// The daily cut-off written as `HH:MM` (UTC), as the configuration and the database keep it.
pub fn format_cutoff(cutoff: time::Time) -> String {
    format!("{:02}:{:02}", cutoff.hour(), cutoff.minute())
}

/// A cut-off written as `HH:MM` (UTC, two digits each), e.g. `00:00` or `17:30`.
pub fn parse_cutoff(value: &str) -> Option<time::Time> {
    let (h, m) = value.split_once(':')?;
    let (h, m) = (h.parse::<u8>().ok()?, m.parse::<u8>().ok()?);
    (h < 24 && m < 60 && value.len() == 5).then(|| time::Time::from_hms(h, m, 0).ok())?
}

/// The last daily cut-off at `cutoff` (UTC) at or before `now`.
pub fn last_cutoff(cutoff: time::Time, now: OffsetDateTime) -> OffsetDateTime {
    let now = now.to_offset(time::UtcOffset::UTC);
    let today = now.replace_time(cutoff);
    if today <= now {
        today
    } else {
        today - time::Duration::days(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use time::macros::datetime;

    fn usd(minor: i64) -> Money {
        Money::new(minor, Currency::Usd)
    }

    #[test]
    fn status_and_item_type_strings_round_trip() {
        for st in PayoutStatus::ALL {
            assert_eq!(PayoutStatus::parse_str(st.as_str()), Some(st));
            assert_eq!(serde_json::to_value(st).unwrap(), json!(st.as_str()));
        }
        assert_eq!(PayoutStatus::CarriedForward.as_str(), "carried_forward");
        for t in PayoutItemType::ALL {
            assert_eq!(PayoutItemType::parse_str(t.as_str()), Some(t));
            assert_eq!(serde_json::to_value(t).unwrap(), json!(t.as_str()));
        }
        assert_eq!(PayoutItemType::CarriedBalance.as_str(), "carried_balance");
        assert_eq!(PayoutItemType::parse_str("Refund"), None);
        assert_eq!(PayoutStatus::parse_str(""), None);
    }

    #[test]
    fn only_a_positive_net_is_paid() {
        assert_eq!(PayoutStatus::for_net(1), PayoutStatus::Paid);
        assert_eq!(PayoutStatus::for_net(0), PayoutStatus::CarriedForward);
        assert_eq!(PayoutStatus::for_net(-1_000), PayoutStatus::CarriedForward);
    }

    #[test]
    fn entry_kinds_map_to_item_types() {
        assert_eq!(
            PayoutItemType::for_entry_kind(EntryKind::Payment),
            Some(PayoutItemType::Payment)
        );
        assert_eq!(
            PayoutItemType::for_entry_kind(EntryKind::Refund),
            Some(PayoutItemType::Refund)
        );
        assert_eq!(
            PayoutItemType::for_entry_kind(EntryKind::Fee),
            Some(PayoutItemType::Fee)
        );
        for kind in [
            EntryKind::AchPending,
            EntryKind::AchReturn,
            EntryKind::Payout,
        ] {
            assert_eq!(PayoutItemType::for_entry_kind(kind), None, "{kind:?}");
        }
        // Item types and entry kinds share their names where they meet.
        for kind in EntryKind::ALL {
            if let Some(t) = PayoutItemType::for_entry_kind(kind) {
                assert_eq!(t.as_str(), kind.as_str());
            }
        }
    }

    fn payout() -> Payout {
        Payout {
            id: PayoutId::parse("po_0123456789ABCDEFGHIJabcd").unwrap(),
            partner_id: PartnerId::parse("par_0123456789ABCDEFGHIJabcd").unwrap(),
            object: PayoutObject::Payout,
            status: PayoutStatus::Paid,
            amount: usd(8_680),
            currency: Currency::Usd,
            created_at: datetime!(2026-11-22 00:05 UTC),
            cutoff_at: datetime!(2026-11-22 00:00 UTC),
            items: vec![
                PayoutItem {
                    item_type: PayoutItemType::Payment,
                    source_id: "pay_0123456789ABCDEFGHIJabcd".into(),
                    amount: usd(10_000),
                },
                PayoutItem {
                    item_type: PayoutItemType::Fee,
                    source_id: "pay_0123456789ABCDEFGHIJabcd".into(),
                    amount: usd(-320),
                },
                PayoutItem {
                    item_type: PayoutItemType::Refund,
                    source_id: "re_0123456789ABCDEFGHIJabcd".into(),
                    amount: usd(-1_000),
                },
            ],
        }
    }

    #[test]
    fn payout_json_shape_with_negative_items() {
        assert_eq!(
            serde_json::to_value(payout()).unwrap(),
            json!({
                "id": "po_0123456789ABCDEFGHIJabcd",
                "object": "payout",
                "status": "paid",
                "amount": "86.80",
                "currency": "USD",
                "createdAt": "2026-11-22T00:05:00Z",
                "cutoffAt": "2026-11-22T00:00:00Z",
                "items": [
                    {"type": "payment", "sourceId": "pay_0123456789ABCDEFGHIJabcd", "amount": "100.00"},
                    {"type": "fee", "sourceId": "pay_0123456789ABCDEFGHIJabcd", "amount": "-3.20"},
                    {"type": "refund", "sourceId": "re_0123456789ABCDEFGHIJabcd", "amount": "-10.00"}
                ]
            })
        );
    }

    #[test]
    fn carried_forward_payout_json() {
        let carried = Payout {
            status: PayoutStatus::CarriedForward,
            amount: usd(-1_050),
            items: vec![
                PayoutItem {
                    item_type: PayoutItemType::CarriedBalance,
                    source_id: "po_ZYXWVUTSRQPONMLKJIHGFEDC".into(),
                    amount: usd(-50),
                },
                PayoutItem {
                    item_type: PayoutItemType::Refund,
                    source_id: "re_0123456789ABCDEFGHIJabcd".into(),
                    amount: usd(-1_000),
                },
            ],
            ..payout()
        };
        let v = serde_json::to_value(carried).unwrap();
        assert_eq!(v["status"], "carried_forward");
        assert_eq!(v["amount"], "-10.50");
        assert_eq!(v["items"][0]["type"], "carried_balance");
        assert_eq!(v["items"][0]["amount"], "-0.50");
        assert!(v.get("partnerId").is_none());
    }

    #[test]
    fn balance_json_shape() {
        let balance = Balance {
            available: usd(-1_000),
            pending: usd(50_000),
            currency: Currency::Usd,
        };
        assert_eq!(
            serde_json::to_value(balance).unwrap(),
            json!({"available": "-10.00", "pending": "500.00", "currency": "USD"})
        );
        let zero = Balance {
            available: Money::zero(Currency::Usd),
            pending: Money::zero(Currency::Usd),
            currency: Currency::Usd,
        };
        assert_eq!(
            serde_json::to_value(zero).unwrap(),
            json!({"available": "0.00", "pending": "0.00", "currency": "USD"})
        );
    }

    /// The documented pattern of Money must admit the negative amounts a payout or balance shows.
    #[test]
    fn money_schema_admits_negative_amounts() {
        let schema = serde_json::to_value(<Money as utoipa::PartialSchema>::schema()).unwrap();
        assert_eq!(schema["pattern"], r"^-?(0|[1-9][0-9]*)\.[0-9]{2}$");
        let item = serde_json::to_value(<PayoutItem as utoipa::PartialSchema>::schema()).unwrap();
        assert!(item["properties"].get("type").is_some(), "{item}");
        assert!(item["properties"].get("sourceId").is_some(), "{item}");
    }

    #[test]
    fn cutoffs_read_and_write_as_utc_times_of_day() {
        let t = parse_cutoff("17:30").unwrap();
        assert_eq!(format_cutoff(t), "17:30");
        assert_eq!(format_cutoff(parse_cutoff("00:00").unwrap()), "00:00");
        for bad in ["24:00", "7:30", "17:60", "17-30", "", "17:3", "aa:bb"] {
            assert_eq!(parse_cutoff(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_last_cutoff_is_today_once_passed_else_yesterday() {
        let cutoff = parse_cutoff("17:30").unwrap();
        assert_eq!(
            last_cutoff(cutoff, time::macros::datetime!(2026-11-21 18:00 UTC)),
            time::macros::datetime!(2026-11-21 17:30 UTC)
        );
        assert_eq!(
            last_cutoff(cutoff, time::macros::datetime!(2026-11-21 17:30 UTC)),
            time::macros::datetime!(2026-11-21 17:30 UTC)
        );
        assert_eq!(
            last_cutoff(cutoff, time::macros::datetime!(2026-11-21 09:00 UTC)),
            time::macros::datetime!(2026-11-20 17:30 UTC)
        );
    }
}
