//! Finding and reading transactions through Authorize.net's transaction reporting API, which
//! answers every lookup (there is no "get by our id"). A transaction is found by its invoice
//! number — the short form of Kassa's id — first among the unsettled transactions, then in the
//! batches settled in the last two days, and read with `getTransactionDetails`, whose order
//! description must name the full Kassa id. The merchant must enable the Transaction Details API
//! in Authorize.net's settings, or every lookup fails.

use time::OffsetDateTime;

use super::request::{
    BatchListBody, BatchTransactionsBody, DetailsBody, Paging, Sorting, UnsettledBody,
};
use super::response::{
    BatchListResponse, Messages, TransactionDetails, TransactionDetailsResponse,
    TransactionListResponse,
};
use super::{short_id, AuthorizeNetProcessor};
use crate::ProcessorError;

/// Transactions per page of a list.
const PAGE: usize = 1000;
/// Pages of unsettled transactions read before giving up (20 000 transactions).
const MAX_PAGES: usize = 20;
/// How far back settled batches are searched: a transaction Kassa lost track of is minutes or
/// hours old, and batches settle daily.
const SETTLED_DAYS: i64 = 2;

/// "The record cannot be found."
const NOT_FOUND: &str = "E00040";
/// "Access denied": the Transaction Details API is not enabled for the account.
const ACCESS_DENIED: &str = "E00011";

fn reporting_error(messages: &Messages) -> ProcessorError {
    if messages.first_code() == ACCESS_DENIED {
        ProcessorError::NotSent(format!(
            "Authorize.net refused the reporting call ({}); enable the Transaction Details API \
             in the merchant interface",
            messages.describe()
        ))
    } else {
        ProcessorError::Unknown(format!(
            "Authorize.net's reporting API answered an error: {}",
            messages.describe()
        ))
    }
}

/// How strongly a transaction says what became of its attempt: a success outranks something
/// still undecided, which outranks a failure (a declined first try does not hide a later one).
fn rank(details: &TransactionDetails) -> u8 {
    match details.status() {
        "authorizedPendingCapture"
        | "capturedPendingSettlement"
        | "settledSuccessfully"
        | "pendingSettlement"
        | "pendingFinalSettlement"
        | "updatingSettlement"
        | "refundPendingSettlement"
        | "refundSettledSuccessfully"
        | "returnedItem"
        | "chargeback"
        | "chargebackReversal" => 0,
        "declined" | "voided" | "expired" | "failedReview" | "generalError"
        | "communicationError" | "settlementError" => 2,
        _ => 1,
    }
}

/// "2026-12-06T11:00:00Z", the form the batch list takes.
fn utc(at: OffsetDateTime) -> String {
    let at = at.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second()
    )
}

impl AuthorizeNetProcessor {
    /// A transaction by Authorize.net's id; `None` when Authorize.net has no such transaction.
    pub(crate) async fn details(
        &self,
        trans_id: &str,
    ) -> Result<Option<TransactionDetails>, ProcessorError> {
        let body = DetailsBody {
            trans_id: trans_id.to_string(),
        };
        let response: TransactionDetailsResponse = self
            .client
            .call(&self.envelope("getTransactionDetailsRequest", None, body))
            .await?;
        if !response.messages.is_ok() {
            if response.messages.first_code() == NOT_FOUND {
                return Ok(None);
            }
            return Err(reporting_error(&response.messages));
        }
        Ok(response.transaction)
    }

    /// Like [`Self::details`], but a transaction that must exist (its id was recorded).
    pub(crate) async fn known_details(
        &self,
        trans_id: &str,
    ) -> Result<TransactionDetails, ProcessorError> {
        self.details(trans_id).await?.ok_or_else(|| {
            ProcessorError::Unknown(format!(
                "Authorize.net does not know transaction {trans_id}"
            ))
        })
    }

    /// The transaction Kassa made for `kassa_id`, if Authorize.net has one. When an id has more
    /// than one (a duplicate refused, a review), the most final one wins.
    pub(crate) async fn find(
        &self,
        kassa_id: &str,
    ) -> Result<Option<TransactionDetails>, ProcessorError> {
        let invoice = short_id(kassa_id);
        let mut candidates = self.unsettled_with(&invoice).await?;
        if candidates.is_empty() {
            candidates = self.settled_with(&invoice).await?;
        }
        let mut best: Option<TransactionDetails> = None;
        for trans_id in candidates {
            let Some(details) = self.details(&trans_id).await? else {
                continue;
            };
            if details.kassa_id().as_deref() != Some(kassa_id) {
                continue;
            }
            if best.as_ref().is_none_or(|b| rank(&details) < rank(b)) {
                best = Some(details);
            }
        }
        Ok(best)
    }

    /// Ids of unsettled transactions with this invoice number, newest first.
    async fn unsettled_with(&self, invoice: &str) -> Result<Vec<String>, ProcessorError> {
        let mut found = Vec::new();
        for page in 1..=MAX_PAGES {
            let body = UnsettledBody {
                sorting: Sorting::newest_first(),
                paging: paging(page),
            };
            let response: TransactionListResponse = self
                .client
                .call(&self.envelope("getUnsettledTransactionListRequest", None, body))
                .await?;
            if !response.messages.is_ok() {
                return Err(reporting_error(&response.messages));
            }
            let count = response.transactions.len();
            found.extend(matching(response, invoice));
            if count < PAGE {
                return Ok(found);
            }
        }
        // Never "not found" without having looked at everything: Kassa might charge again.
        Err(ProcessorError::Unknown(format!(
            "more than {} unsettled transactions at Authorize.net; cannot tell whether {invoice} is among them",
            PAGE * MAX_PAGES
        )))
    }

    /// Ids of transactions with this invoice number in the batches settled lately.
    async fn settled_with(&self, invoice: &str) -> Result<Vec<String>, ProcessorError> {
        let now = OffsetDateTime::now_utc();
        let body = BatchListBody {
            include_statistics: "false",
            first_settlement_date: utc(now - time::Duration::days(SETTLED_DAYS)),
            last_settlement_date: utc(now),
        };
        let batches: BatchListResponse = self
            .client
            .call(&self.envelope("getSettledBatchListRequest", None, body))
            .await?;
        if !batches.messages.is_ok() {
            return Err(reporting_error(&batches.messages));
        }
        let mut found = Vec::new();
        // Newest batch first: the transaction sought is recent.
        for batch_id in batches
            .batch_list
            .into_iter()
            .rev()
            .filter_map(|b| b.batch_id)
        {
            for page in 1..=MAX_PAGES {
                let body = BatchTransactionsBody {
                    batch_id: batch_id.clone(),
                    sorting: Sorting::newest_first(),
                    paging: paging(page),
                };
                let response: TransactionListResponse = self
                    .client
                    .call(&self.envelope("getTransactionListRequest", None, body))
                    .await?;
                if !response.messages.is_ok() {
                    return Err(reporting_error(&response.messages));
                }
                let count = response.transactions.len();
                found.extend(matching(response, invoice));
                if count < PAGE {
                    break;
                }
                if page == MAX_PAGES {
                    return Err(ProcessorError::Unknown(format!(
                        "batch {batch_id} is too large to search for {invoice}"
                    )));
                }
            }
        }
        Ok(found)
    }
}

fn paging(page: usize) -> Paging {
    Paging {
        limit: PAGE.to_string(),
        offset: page.to_string(),
    }
}

fn matching(response: TransactionListResponse, invoice: &str) -> impl Iterator<Item = String> + '_ {
    response
        .transactions
        .into_iter()
        .filter(move |t| t.invoice_number.as_deref() == Some(invoice))
        .map(|t| t.trans_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settlement_dates_are_utc_seconds() {
        let at = time::macros::datetime!(2026-12-06 11:05:09 +01:00);
        assert_eq!(utc(at), "2026-12-06T10:05:09Z");
    }
}
