//! Recovery at Stripe: reading back what became of a Kassa id whose answer was lost — by the
//! recorded PaymentIntent id, by search on `metadata['kassa_id']`, and when search shows nothing,
//! by fencing the id (the module doc of `stripe` says why that proves it never arrived).

use kassa_core::money::Money;

use super::client::Reply;
use super::form;
use super::objects::{List, PaymentIntent, Refund};
use super::{outcome, path_segment, StripeProcessor};
use crate::{Answer, Held, ProcessorError};

/// Where a Kassa id stands at Stripe, when its PaymentIntent id was not recorded.
enum Located {
    Found(Box<PaymentIntent>),
    /// Fenced: Stripe never received it and now never will.
    Never,
}

impl StripeProcessor {
    pub(super) async fn retrieve(&self, intent_id: &str) -> Result<PaymentIntent, ProcessorError> {
        let path = format!(
            "/v1/payment_intents/{}?expand%5B%5D=payment_method",
            path_segment(intent_id)
        );
        match self.client.get(&path).await? {
            Reply::Ok(intent) => Ok(intent),
            Reply::Refused(r) => Err(r.error_for("reading the PaymentIntent")),
        }
    }

    /// Searches for the PaymentIntent whose `metadata[field]` is `kassa_id`.
    async fn search(
        &self,
        field: &str,
        kassa_id: &str,
    ) -> Result<Option<PaymentIntent>, ProcessorError> {
        let query: String = form_urlencoded::Serializer::new(String::new())
            .append_pair("query", &form::search_query(field, kassa_id))
            .append_pair("expand[]", "data.payment_method")
            .finish();
        let path = format!("/v1/payment_intents/search?{query}");
        match self.client.get::<List<PaymentIntent>>(&path).await? {
            Reply::Ok(list) => Ok(list.data.into_iter().next()),
            Reply::Refused(r) => Err(r.error_for("the search")),
        }
    }

    /// The PaymentIntent of a Kassa id, found by search or proven never received (module doc).
    async fn locate(&self, kassa_id: &str, amount: Money) -> Result<Located, ProcessorError> {
        if let Some(intent) = self.search("kassa_id", kassa_id).await? {
            // An earlier lookup's fence: the original never arrived, as that lookup said.
            if intent.is_fence() {
                return Ok(Located::Never);
            }
            return Ok(Located::Found(Box::new(intent)));
        }
        let fence = form::fence(kassa_id, amount);
        match self
            .client
            .post::<PaymentIntent>("/v1/payment_intents", &fence, kassa_id)
            .await?
        {
            Reply::Ok(intent) if intent.is_fence() => {
                tracing::info!(kassa_id, payment_intent = %intent.id, "fenced: Stripe never received it");
                if intent.status != "canceled" {
                    if let Err(e) = self
                        .cancel(&intent.id, &format!("{kassa_id}-fence-cancel"))
                        .await
                    {
                        // It has no payment method, so it can never charge even if left open.
                        tracing::warn!(payment_intent = %intent.id, "could not cancel the fence: {e}");
                    }
                }
                Ok(Located::Never)
            }
            // The key's first use was the original after all (a stand-in that does not compare
            // parameters); it is the answer.
            Reply::Ok(intent) => Ok(Located::Found(Box::new(intent))),
            Reply::Refused(r) if r.is_idempotency_error() => Err(ProcessorError::Unknown(format!(
                "Stripe received {kassa_id} but its search does not show it yet"
            ))),
            Reply::Refused(r) => Err(r.error_for("the fence")),
        }
    }

    /// Reads a PaymentIntent found in recovery, as a charge would have.
    async fn answer_for(&self, intent: PaymentIntent) -> Result<Answer, ProcessorError> {
        let funding = outcome::funding(intent.expanded_method());
        self.settle(intent, funding).await
    }

    pub(super) async fn lookup_kassa_id(
        &self,
        kassa_id: &str,
        reference: Option<&str>,
        amount: Money,
    ) -> Result<Option<Answer>, ProcessorError> {
        let intent = match reference {
            Some(id) => self.retrieve(id).await?,
            None => match self.locate(kassa_id, amount).await? {
                Located::Found(intent) => *intent,
                Located::Never => return Ok(None),
            },
        };
        self.answer_for(intent).await.map(Some)
    }

    /// The hold's PaymentIntent id, recorded or found; `None` when Stripe never had the hold.
    pub(super) async fn hold_intent(
        &self,
        hold: &Held<'_>,
    ) -> Result<Option<String>, ProcessorError> {
        if let Some(id) = hold.reference {
            return Ok(Some(id.to_string()));
        }
        Ok(
            match self
                .locate(hold.authorization_id.as_str(), hold.amount)
                .await?
            {
                Located::Found(intent) => Some(intent.id),
                Located::Never => None,
            },
        )
    }

    /// The PaymentIntent a captured payment was paid by.
    pub(super) async fn payment_intent_of(
        &self,
        payment: &crate::Captured<'_>,
    ) -> Result<String, ProcessorError> {
        if let Some(id) = payment.reference {
            return Ok(id.to_string());
        }
        let id = payment.payment_id.as_str();
        for field in ["kassa_id", "kassa_capture_id"] {
            if let Some(intent) = self.search(field, id).await? {
                return Ok(intent.id);
            }
        }
        Err(ProcessorError::Unknown(format!(
            "Stripe's search does not show payment {id} yet"
        )))
    }

    /// The refund made for `refund_id` on `intent_id`, if any.
    pub(super) async fn find_refund(
        &self,
        intent_id: &str,
        refund_id: &str,
    ) -> Result<Option<Refund>, ProcessorError> {
        let mut after: Option<String> = None;
        loop {
            // The serializer is not Send, so it must be gone before the await.
            let path = {
                let mut query = form_urlencoded::Serializer::new(String::new());
                query
                    .append_pair("payment_intent", intent_id)
                    .append_pair("limit", "100");
                if let Some(after) = &after {
                    query.append_pair("starting_after", after);
                }
                format!("/v1/refunds?{}", query.finish())
            };
            let page: List<Refund> = match self.client.get(&path).await? {
                Reply::Ok(page) => page,
                Reply::Refused(r) => return Err(r.error_for("listing refunds")),
            };
            let last = page.data.last().map(|r| r.id.clone());
            if let Some(found) = page
                .data
                .into_iter()
                .find(|r| r.kassa_id() == Some(refund_id))
            {
                return Ok(Some(found));
            }
            match (page.has_more, last) {
                (true, Some(last)) => after = Some(last),
                _ => return Ok(None),
            }
        }
    }
}
