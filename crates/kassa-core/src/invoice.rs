//! Invoices: line items parsed from a request into an [`InvoiceDraft`], then priced into an
//! [`Invoice`] (subtotal, per-line tax, total) with the math of docs/api.md §3.
//!
//! All math is on integer cents, widened to i128 so no sum or product of request values can
//! overflow, and every percentage is rounded once, half-up, to the cent: the same invoice always
//! costs the same cent, whichever service computes it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use utoipa::ToSchema;

use crate::error::{FieldErrors, ValidationError};
use crate::id::InvoiceId;
use crate::money::{amount_text, format_minor, parse_amount, AmountError, Currency};
use crate::percent::{div_round_half_up, Percent, PercentError};

/// Line items one invoice may carry; bounds the work per request and the stored row.
pub const MAX_LINE_ITEMS: usize = 250;

/// 100% in the hundredths of a percent a `DiscountPercentage` value is parsed into.
const HUNDRED_PERCENT_E2: i64 = 10_000;

/// How a line's `value` counts towards the subtotal (docs/api.md §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[schema(
    description = "How a line's `value` counts: `Standard` is a price (the only kind taxed); \
    `Discount` an amount off the Standard lines; `DiscountPercentage` a percentage off after that; \
    `FinalDiscount` an amount off after the percentage; `PriceOverride` replaces the subtotal. \
    Accepted in any letter case."
)]
pub enum ValueType {
    /// A price; the only kind that is taxed.
    Standard,
    /// An amount off the Standard lines, before the percentage discount.
    Discount,
    /// A percentage off (hundredths of a percent), applied after the Discount lines.
    DiscountPercentage,
    /// An amount off after the percentage discount.
    FinalDiscount,
    /// Replaces the computed subtotal; the other lines are kept but do not count.
    PriceOverride,
}

impl ValueType {
    pub const ALL: [ValueType; 5] = [
        Self::Standard,
        Self::Discount,
        Self::DiscountPercentage,
        Self::FinalDiscount,
        Self::PriceOverride,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Standard => "Standard",
            Self::Discount => "Discount",
            Self::DiscountPercentage => "DiscountPercentage",
            Self::FinalDiscount => "FinalDiscount",
            Self::PriceOverride => "PriceOverride",
        }
    }

    /// The exact names, case-insensitive ("standard" is accepted, " Standard" is not).
    pub fn parse(s: &str) -> Option<ValueType> {
        Self::ALL
            .into_iter()
            .find(|t| t.as_str().eq_ignore_ascii_case(s))
    }
}

/// The `invoice` object of a request, as sent. Amounts stay raw JSON so they are read exactly,
/// never through a float; [`InvoiceInput::validate`] turns it into an [`InvoiceDraft`].
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(
    description = "An invoice to price: at least one `Standard` or `PriceOverride` line, at \
    most one `PriceOverride`."
)]
pub struct InvoiceInput {
    #[schema(max_length = 100)]
    pub merchant_invoice_ref_id: Option<String>,
    /// A tax exemption code: the invoice pays no tax.
    #[schema(max_length = 25)]
    pub entity_use_code: Option<String>,
    #[schema(required = true, nullable = false, min_items = 1, max_items = 250)]
    pub invoice_line_items: Option<Vec<LineItemInput>>,
}

/// One `invoiceLineItems` entry, as sent.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LineItemInput {
    #[schema(required = true, nullable = false, max_length = 200)]
    pub name: Option<String>,
    #[schema(max_length = 1000)]
    pub description: Option<String>,
    /// A JSON string (`"1.09"`) or number (`1.09`); for a `DiscountPercentage` the percentage,
    /// 0–100.
    #[schema(required = true, schema_with = crate::money::amount_input_schema)]
    pub value: Option<Box<RawValue>>,
    #[schema(required = true, nullable = false, value_type = Option<ValueType>)]
    pub value_type: Option<String>,
    /// Taxed at the rate you configured for this code (Standard lines only).
    #[schema(max_length = 25)]
    pub tax_code: Option<String>,
}

/// A validated invoice, not yet priced (tax needs the partner's rates).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvoiceDraft {
    pub merchant_invoice_ref_id: Option<String>,
    pub entity_use_code: Option<String>,
    pub currency: Currency,
    pub lines: Vec<DraftLine>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DraftLine {
    pub name: String,
    pub description: Option<String>,
    /// cents; for DiscountPercentage hundredths of a percent (19.5% = 1950)
    pub value: i64,
    pub value_type: ValueType,
    pub tax_code: Option<String>,
}

impl InvoiceInput {
    /// Validates everything, recording each failure in `errors` with the API's field path under
    /// `path` ("invoice" → "invoice.invoiceLineItems[1].valueType"); None if anything failed.
    /// Money values are bounded by `max_minor`, and so is the resulting subtotal.
    pub fn validate(
        self,
        path: &str,
        currency: Currency,
        max_minor: i64,
        errors: &mut FieldErrors,
    ) -> Option<InvoiceDraft> {
        let before = errors.len();
        let merchant_invoice_ref_id = errors.take(
            &join(path, "merchantInvoiceRefId"),
            MERCHANT_INVOICE_REF_ID.parse_optional(self.merchant_invoice_ref_id),
        );
        let entity_use_code = errors.take(
            &join(path, "entityUseCode"),
            ENTITY_USE_CODE.parse_optional(self.entity_use_code),
        );
        let items_path = join(path, "invoiceLineItems");
        let items = match self.invoice_line_items.unwrap_or_default() {
            items if items.is_empty() => Err(LineItemsError::Missing),
            // Not looked into: listing thousands of line errors helps nobody.
            items if items.len() > MAX_LINE_ITEMS => Err(LineItemsError::TooMany),
            items => Ok(items),
        };
        let lines = errors.take(&items_path, items).and_then(|items| {
            let lines: Vec<Option<DraftLine>> = items
                .into_iter()
                .enumerate()
                .map(|(i, item)| item.validate(&format!("{items_path}[{i}]"), max_minor, errors))
                .collect();
            // The invoice-level rules only mean something once every line parsed.
            let lines = lines.into_iter().collect::<Option<Vec<_>>>()?;
            errors
                .take(&items_path, check_lines(&lines, max_minor))
                .map(|()| lines)
        });
        if errors.len() > before {
            return None;
        }
        Some(InvoiceDraft {
            merchant_invoice_ref_id: merchant_invoice_ref_id?,
            entity_use_code: entity_use_code?,
            currency,
            lines: lines?,
        })
    }
}

impl LineItemInput {
    /// Every field is checked (and reported in request order) even when an earlier one failed.
    fn validate(self, path: &str, max_minor: i64, errors: &mut FieldErrors) -> Option<DraftLine> {
        let name = errors.take(&format!("{path}.name"), NAME.parse_required(self.name));
        let description = errors.take(
            &format!("{path}.description"),
            DESCRIPTION.parse_optional(self.description),
        );
        // The value's bound depends on the type, so the type is parsed first.
        let value_type = parse_value_type(self.value_type.as_deref());
        let value = errors.take(
            &format!("{path}.value"),
            parse_line_value(
                self.value.as_deref(),
                value_type.as_ref().ok().copied(),
                max_minor,
            ),
        );
        let value_type = errors.take(&format!("{path}.valueType"), value_type);
        let tax_code = errors.take(
            &format!("{path}.taxCode"),
            TAX_CODE.parse_optional(self.tax_code),
        );
        Some(DraftLine {
            name: name?,
            description: description?,
            value: value?,
            value_type: value_type?,
            tax_code: tax_code?,
        })
    }
}

/// `invoice` + `invoiceLineItems` → `invoice.invoiceLineItems`; an empty path is the body's root.
fn join(path: &str, field: &str) -> String {
    if path.is_empty() {
        field.to_owned()
    } else {
        format!("{path}.{field}")
    }
}

/// Length and character rules of one free-text field.
struct TextRule {
    max_chars: usize,
    /// Whether newline and tab are allowed (descriptions may span lines).
    multiline: bool,
}

const NAME: TextRule = TextRule {
    max_chars: 200,
    multiline: false,
};
const DESCRIPTION: TextRule = TextRule {
    max_chars: 1000,
    multiline: true,
};
const TAX_CODE: TextRule = TextRule {
    max_chars: 25,
    multiline: false,
};
const MERCHANT_INVOICE_REF_ID: TextRule = TextRule {
    max_chars: 100,
    multiline: false,
};
const ENTITY_USE_CODE: TextRule = TextRule {
    max_chars: 25,
    multiline: false,
};

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
enum TextError {
    #[error("is required")]
    Required,
    #[error("must be at most {max_chars} characters")]
    TooLong { max_chars: usize },
    #[error("must not contain control characters{}", if *multiline { " other than newline and tab" } else { "" })]
    ControlCharacters { multiline: bool },
}

impl ValidationError for TextError {
    fn code(&self) -> &'static str {
        match self {
            TextError::Required => "required",
            TextError::TooLong { .. } => "invalid_length",
            TextError::ControlCharacters { .. } => "invalid_characters",
        }
    }
}

impl TextRule {
    /// Whitespace-only counts as absent: it would be an invisible value (and an invisible
    /// entityUseCode must not exempt anyone from tax). Anything else is kept exactly as given.
    fn parse_optional(&self, text: Option<String>) -> Result<Option<String>, TextError> {
        match text {
            Some(text) if !text.trim().is_empty() => self.check(text).map(Some),
            _ => Ok(None),
        }
    }

    fn parse_required(&self, text: Option<String>) -> Result<String, TextError> {
        self.parse_optional(text)?.ok_or(TextError::Required)
    }

    fn check(&self, text: String) -> Result<String, TextError> {
        // Counts chars, not bytes, so non-Latin text gets the same allowance as ASCII.
        if text.chars().count() > self.max_chars {
            return Err(TextError::TooLong {
                max_chars: self.max_chars,
            });
        }
        // Control characters break logs, CSV exports and receipts.
        let allowed = |c: char| self.multiline && matches!(c, '\n' | '\t');
        if text.chars().any(|c| c.is_control() && !allowed(c)) {
            return Err(TextError::ControlCharacters {
                multiline: self.multiline,
            });
        }
        Ok(text)
    }
}

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
enum ValueTypeError {
    #[error("is required")]
    Required,
    #[error("must be one of Standard, Discount, DiscountPercentage, FinalDiscount, PriceOverride")]
    Unknown,
}

impl ValidationError for ValueTypeError {
    fn code(&self) -> &'static str {
        match self {
            ValueTypeError::Required => "required",
            ValueTypeError::Unknown => "invalid_value",
        }
    }
}

fn parse_value_type(text: Option<&str>) -> Result<ValueType, ValueTypeError> {
    ValueType::parse(text.ok_or(ValueTypeError::Required)?).ok_or(ValueTypeError::Unknown)
}

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
enum LineValueError {
    #[error("is required")]
    Required,
    #[error("must be greater than or equal to 0")]
    Negative,
    #[error("a DiscountPercentage must be between 0 and 100")]
    PercentageOutOfRange,
    #[error(transparent)]
    Amount(#[from] AmountError),
}

impl ValidationError for LineValueError {
    fn code(&self) -> &'static str {
        match self {
            LineValueError::Required => "required",
            LineValueError::Negative | LineValueError::PercentageOutOfRange => "invalid_value",
            LineValueError::Amount(e) => e.code(),
        }
    }
}

/// A line's `value`: cents, or hundredths of a percent for a DiscountPercentage. Its bound depends
/// on the type, so a line whose type is unknown gets only the format checks.
fn parse_line_value(
    raw: Option<&RawValue>,
    value_type: Option<ValueType>,
    max_minor: i64,
) -> Result<i64, LineValueError> {
    let text = amount_text(raw.ok_or(LineValueError::Required)?).ok_or(AmountError::Invalid)?;
    let parsed = match parse_amount(&text) {
        Err(AmountError::NegativeAmount) => return Err(LineValueError::Negative),
        parsed => parsed,
    };
    match (value_type, parsed) {
        (None, parsed) => Ok(parsed?),
        (Some(ValueType::DiscountPercentage), Ok(v)) if v <= HUNDRED_PERCENT_E2 => Ok(v),
        (Some(ValueType::DiscountPercentage), Ok(_) | Err(AmountError::AmountTooLarge { .. })) => {
            Err(LineValueError::PercentageOutOfRange)
        }
        (Some(_), Ok(v)) if v <= max_minor => Ok(v),
        // Text beyond i64 reports the caller's limit too, not i64::MAX.
        (Some(_), Ok(_) | Err(AmountError::AmountTooLarge { .. })) => {
            Err(AmountError::AmountTooLarge { max_minor }.into())
        }
        (Some(_), Err(e)) => Err(e.into()),
    }
}

/// Errors of the `invoiceLineItems` list as a whole.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
enum LineItemsError {
    #[error("must contain at least one line item")]
    Missing,
    #[error("must contain at most {} line items", MAX_LINE_ITEMS)]
    TooMany,
    #[error("must contain at least one Standard or PriceOverride line item")]
    NoPricedItem,
    #[error("must contain at most one PriceOverride line item")]
    MultiplePriceOverrides,
    #[error("the invoice total must not be less than zero")]
    TotalBelowZero,
    #[error("the invoice subtotal must be at most {}", format_minor(*max_minor))]
    SubtotalTooLarge { max_minor: i64 },
}

impl ValidationError for LineItemsError {
    fn code(&self) -> &'static str {
        match self {
            LineItemsError::Missing => "required",
            LineItemsError::TooMany => "too_many_items",
            LineItemsError::NoPricedItem => "no_priced_item",
            LineItemsError::MultiplePriceOverrides => "multiple_price_overrides",
            LineItemsError::TotalBelowZero => "total_below_zero",
            LineItemsError::SubtotalTooLarge { .. } => "amount_too_large",
        }
    }
}

/// The invoice-level rules of docs/api.md §3, once every line parsed. Bounding the subtotal by
/// `max_minor` keeps it (and so the tax math) within i64: the ceiling of the charge anyway.
fn check_lines(lines: &[DraftLine], max_minor: i64) -> Result<(), LineItemsError> {
    let count = |t: ValueType| lines.iter().filter(|l| l.value_type == t).count();
    if count(ValueType::Standard) + count(ValueType::PriceOverride) == 0 {
        return Err(LineItemsError::NoPricedItem);
    }
    if count(ValueType::PriceOverride) > 1 {
        return Err(LineItemsError::MultiplePriceOverrides);
    }
    if exact_subtotal(lines)? > i128::from(max_minor) {
        return Err(LineItemsError::SubtotalTooLarge { max_minor });
    }
    Ok(())
}

/// Σ of one type's values, widened so no number of i64 values can overflow it.
fn sum_of(lines: &[DraftLine], value_type: ValueType) -> i128 {
    lines
        .iter()
        .filter(|l| l.value_type == value_type)
        .fold(0, |sum, l| sum.saturating_add(l.value.into()))
}

/// Steps 2–3 of the math, exactly. Err when the discounts exceed the price, which would have the
/// merchant pay the customer. (Saturation only matters for hand-built drafts: validated ones are
/// far inside i128.)
fn exact_subtotal(lines: &[DraftLine]) -> Result<i128, LineItemsError> {
    let subtotal = match lines
        .iter()
        .find(|l| l.value_type == ValueType::PriceOverride)
    {
        Some(line) => i128::from(line.value),
        None => {
            let after_discount = sum_of(lines, ValueType::Standard)
                .saturating_sub(sum_of(lines, ValueType::Discount));
            // Checked before the percentage, so a discount over 100% of a negative amount cannot
            // turn it positive again.
            if after_discount < 0 {
                return Err(LineItemsError::TotalBelowZero);
            }
            let percent_off = div_round_half_up(
                after_discount.saturating_mul(sum_of(lines, ValueType::DiscountPercentage)),
                HUNDRED_PERCENT_E2.into(),
            );
            after_discount
                .saturating_sub(percent_off)
                .saturating_sub(sum_of(lines, ValueType::FinalDiscount))
        }
    };
    if subtotal < 0 {
        return Err(LineItemsError::TotalBelowZero);
    }
    Ok(subtotal)
}

/// One Standard line's tax, round-half-up(value × rate/100 × subtotal / S), as the single exact
/// fraction value × rate_e4 × subtotal / (100 × 10_000 × S), rounded once.
///
/// That product can exceed i128 for amounts near i64::MAX, so it is split: value × subtotal =
/// q × S + r, and the tax is q × rate_e4 / 10⁶ + r × rate_e4 / (10⁶ × S), whose parts fit because
/// value ≤ S keeps q ≤ subtotal. Inputs no validated draft has (value > S, a rate far over 100%)
/// saturate rather than overflow.
fn line_tax(value: i64, rate: TaxRate, subtotal: i64, standard: i128) -> i128 {
    if value <= 0 || subtotal <= 0 || standard <= 0 || rate.e4() <= 0 {
        return 0;
    }
    // A rate of 100% (10⁶ ten-thousandths of a percent) taxes the whole value.
    const PER_UNIT: i128 = Percent::HUNDRED.e4() as i128;
    let rate = i128::from(rate.e4());
    // Both factors are below 2⁶³, so the product is below 2¹²⁶.
    let product = i128::from(value) * i128::from(subtotal);
    let (q, r) = (product / standard, product % standard);
    let exact = || {
        let q_rate = q.checked_mul(rate)?;
        let fraction = (q_rate % PER_UNIT)
            .checked_mul(standard)?
            .checked_add(r.checked_mul(rate)?)?;
        Some(q_rate / PER_UNIT + div_round_half_up(fraction, standard.checked_mul(PER_UNIT)?))
    };
    exact().unwrap_or(i128::MAX)
}

/// Values of a validated draft always fit; saturating keeps hand-built ones from panicking.
fn clamp_to_i64(v: i128) -> i64 {
    i64::try_from(v).unwrap_or(if v < 0 { i64::MIN } else { i64::MAX })
}

impl InvoiceDraft {
    /// Steps 2–3 of the math, in cents. Never negative: a draft [`InvoiceInput::validate`] would
    /// reject as below zero (only possible when built by hand) gives 0.
    pub fn subtotal(&self) -> i64 {
        exact_subtotal(&self.lines).map_or(0, clamp_to_i64)
    }

    /// Steps 2–5: subtotal, per-line tax, total. `exempt` = the customer has an entityUseCode
    /// (the invoice's own entityUseCode exempts too).
    ///
    /// Each Standard line with a configured tax code is taxed on its share of the subtotal, so
    /// discounts lower the tax in proportion. The total only saturates at i64::MAX for a
    /// ceiling (`max_minor`) near i64::MAX / 2, which no real configuration has.
    pub fn price(&self, id: InvoiceId, rates: &TaxRates, exempt: bool) -> Invoice {
        let subtotal = self.subtotal();
        let standard = sum_of(&self.lines, ValueType::Standard);
        let exempt = exempt || self.entity_use_code.is_some();
        let invoice_line_items: Vec<InvoiceLineItem> = self
            .lines
            .iter()
            .map(|line| {
                let rate = match (line.value_type, &line.tax_code) {
                    (ValueType::Standard, Some(code)) if !exempt => rates.get(code),
                    _ => None,
                };
                InvoiceLineItem {
                    name: line.name.clone(),
                    description: line.description.clone(),
                    value: line.value,
                    value_type: line.value_type,
                    tax_code: line.tax_code.clone(),
                    tax_amount: rate.map_or(0, |rate| {
                        clamp_to_i64(line_tax(line.value, rate, subtotal, standard))
                    }),
                }
            })
            .collect();
        let tax_amount = clamp_to_i64(
            invoice_line_items
                .iter()
                .fold(0i128, |sum, l| sum.saturating_add(l.tax_amount.into())),
        );
        Invoice {
            id,
            merchant_invoice_ref_id: self.merchant_invoice_ref_id.clone(),
            entity_use_code: self.entity_use_code.clone(),
            currency: self.currency,
            subtotal,
            tax_amount,
            total: subtotal.saturating_add(tax_amount),
            invoice_line_items,
        }
    }
}

/// A tax rate in percent with up to 4 decimals (8.25, 8.875), 0–100: a [`Percent`], so 8.875% is
/// exactly 88_750 ten-thousandths and the tax math stays in integers.
pub type TaxRate = Percent;

/// Why a tax rate did not parse (code `invalid_rate`).
pub type TaxRateError = PercentError;

/// The partner's rates by tax code (codes compared exactly as given, case-sensitive).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaxRates(BTreeMap<String, TaxRate>);

impl TaxRates {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn insert(&mut self, code: impl Into<String>, rate: TaxRate) {
        self.0.insert(code.into(), rate);
    }

    /// Every code and its rate, in code order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, TaxRate)> {
        self.0.iter().map(|(code, rate)| (code.as_str(), *rate))
    }

    pub fn get(&self, code: &str) -> Option<TaxRate> {
        self.0.get(code).copied()
    }
}

impl FromIterator<(String, TaxRate)> for TaxRates {
    fn from_iter<I: IntoIterator<Item = (String, TaxRate)>>(iter: I) -> Self {
        TaxRates(iter.into_iter().collect())
    }
}

/// The priced invoice, as stored and as shown in the API (amounts as decimal strings "121.00").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(description = "A priced invoice: its lines as sent, with the subtotal, tax and total.")]
pub struct Invoice {
    pub id: InvoiceId,
    pub merchant_invoice_ref_id: Option<String>,
    pub entity_use_code: Option<String>,
    pub currency: Currency,
    #[serde(with = "crate::money::minor_as_decimal")]
    #[schema(value_type = crate::money::Money)]
    pub subtotal: i64,
    #[serde(with = "crate::money::minor_as_decimal")]
    #[schema(value_type = crate::money::Money)]
    pub tax_amount: i64,
    /// What is charged: subtotal plus tax.
    #[serde(with = "crate::money::minor_as_decimal")]
    #[schema(value_type = crate::money::Money)]
    pub total: i64,
    pub invoice_line_items: Vec<InvoiceLineItem>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InvoiceLineItem {
    pub name: String,
    pub description: Option<String>,
    /// The amount, or for a `DiscountPercentage` the percentage ("19.00" is 19%).
    // Cents, or hundredths of a percent.
    #[serde(with = "crate::money::minor_as_decimal")]
    #[schema(value_type = crate::money::Money)]
    pub value: i64,
    pub value_type: ValueType,
    pub tax_code: Option<String>,
    /// This line's tax, 0 if none.
    #[serde(with = "crate::money::minor_as_decimal")]
    #[schema(value_type = crate::money::Money)]
    pub tax_amount: i64,
}

#[cfg(test)]
// Cents are written dollars_cents in the tests: 108_25 is 108.25.
#[allow(clippy::inconsistent_digit_grouping)]
mod tests {
    use super::*;
    use crate::error::FieldError;
    use crate::money::DEFAULT_MAX_AMOUNT_MINOR;
    use proptest::prelude::*;
    use serde_json::{json, Value};

    const ID: &str = "inv_0123456789ABCDEFGHIJabcd";
    const VALUE_TYPE_MESSAGE: &str =
        "must be one of Standard, Discount, DiscountPercentage, FinalDiscount, PriceOverride";

    fn id() -> InvoiceId {
        InvoiceId::parse(ID).unwrap()
    }

    fn validate_with(json: &str, max_minor: i64) -> Result<InvoiceDraft, Vec<FieldError>> {
        let input: InvoiceInput = serde_json::from_str(json).unwrap();
        let mut errors = FieldErrors::new();
        let draft = input.validate("invoice", Currency::Usd, max_minor, &mut errors);
        assert_eq!(draft.is_some(), errors.is_empty(), "{json}");
        draft.ok_or_else(|| errors.into_vec())
    }

    fn validate(json: &str) -> Result<InvoiceDraft, Vec<FieldError>> {
        validate_with(json, DEFAULT_MAX_AMOUNT_MINOR)
    }

    /// (field, code) of every error, in order.
    fn codes(errors: &[FieldError]) -> Vec<(&str, &str)> {
        errors.iter().map(|e| (e.field.as_str(), e.code)).collect()
    }

    /// The single error of an invalid invoice.
    fn single_error(json: &str) -> FieldError {
        let errors = validate(json).unwrap_err();
        assert_eq!(errors.len(), 1, "{errors:?}");
        errors.into_iter().next().unwrap()
    }

    /// An invoice of `(value as raw JSON text, valueType)` lines named "item 0", "item 1", …
    fn invoice_json(lines: &[(&str, &str)]) -> String {
        let lines: Vec<String> = lines
            .iter()
            .enumerate()
            .map(|(i, (value, value_type))| {
                format!(r#"{{"name":"item {i}","value":{value},"valueType":"{value_type}"}}"#)
            })
            .collect();
        format!(r#"{{"invoiceLineItems":[{}]}}"#, lines.join(","))
    }

    /// A valid Standard line with `changes` applied; a null in `changes` removes the key.
    fn line_with(changes: Value) -> Value {
        let mut line = json!({"name": "Widget", "value": "1.00", "valueType": "Standard"});
        let fields = line.as_object_mut().unwrap();
        for (key, value) in changes.as_object().unwrap() {
            if value.is_null() {
                fields.remove(key);
            } else {
                fields.insert(key.clone(), value.clone());
            }
        }
        line
    }

    fn one_line(changes: Value) -> String {
        json!({"invoiceLineItems": [line_with(changes)]}).to_string()
    }

    fn subtotal_of(lines: &[(&str, &str)]) -> i64 {
        validate(&invoice_json(lines)).unwrap().subtotal()
    }

    fn rates(pairs: &[(&str, &str)]) -> TaxRates {
        pairs
            .iter()
            .map(|(code, rate)| (code.to_string(), TaxRate::parse(rate).unwrap()))
            .collect()
    }

    fn priced(json: &str, rates: &TaxRates, exempt: bool) -> Invoice {
        validate(json).unwrap().price(id(), rates, exempt)
    }

    fn taxed_line(value: &str, tax_code: &str) -> Value {
        line_with(json!({"value": value, "taxCode": tax_code}))
    }

    // ---- value types -------------------------------------------------------------------------

    #[test]
    fn value_type_names() {
        for t in ValueType::ALL {
            assert_eq!(ValueType::parse(t.as_str()), Some(t));
            assert_eq!(ValueType::parse(&t.as_str().to_lowercase()), Some(t));
            assert_eq!(ValueType::parse(&t.as_str().to_uppercase()), Some(t));
            let json = serde_json::to_string(&t).unwrap();
            assert_eq!(json, format!("\"{}\"", t.as_str()));
            assert_eq!(serde_json::from_str::<ValueType>(&json).unwrap(), t);
        }
        for bad in [
            "",
            "Tax",
            " Standard",
            "Standard ",
            "Discount_Percentage",
            "Price Override",
        ] {
            assert_eq!(ValueType::parse(bad), None, "{bad:?}");
        }
    }

    // ---- the worked examples of docs/api.md §3 ----------------------------------------------------

    #[test]
    fn api_examples() {
        let cases = [
            ([("\"1.09\"", "Standard"), ("\"0.19\"", "Discount")], 90),
            (
                [("\"1.09\"", "Standard"), ("\"19\"", "DiscountPercentage")],
                88,
            ),
            (
                [("\"1.09\"", "Standard"), ("\"0.19\"", "PriceOverride")],
                19,
            ),
        ];
        for (lines, want) in cases {
            let invoice = priced(&invoice_json(&lines), &TaxRates::new(), false);
            assert_eq!(
                (invoice.subtotal, invoice.tax_amount, invoice.total),
                (want, 0, want)
            );
        }
    }

    #[test]
    fn subtotal_steps() {
        // S = 10.00, A = 10.00 − 2.00 = 8.00, P = 8.00 × 12.5% = 1.00, − 0.50 final.
        let lines = [
            ("\"6.00\"", "Standard"),
            ("4", "Standard"),
            ("\"2.00\"", "Discount"),
            ("\"12.5\"", "DiscountPercentage"),
            ("0.50", "FinalDiscount"),
        ];
        assert_eq!(subtotal_of(&lines), 650);
        // Two percentages add up before they are applied: 8.00 × 20% = 1.60.
        let lines = [
            ("\"10\"", "Standard"),
            ("\"2\"", "Discount"),
            ("\"12.5\"", "DiscountPercentage"),
            ("\"7.5\"", "DiscountPercentage"),
        ];
        assert_eq!(subtotal_of(&lines), 640);
        // Percent rounding half-up: 0.05 × 50% = 0.025 → 0.03 off → 0.02.
        assert_eq!(
            subtotal_of(&[("\"0.05\"", "Standard"), ("\"50\"", "DiscountPercentage")]),
            2
        );
        // 0.05 × 30% = 0.015 → 0.02 off; 0.05 × 29% = 0.0145 → 0.01 off.
        assert_eq!(
            subtotal_of(&[("\"0.05\"", "Standard"), ("\"30\"", "DiscountPercentage")]),
            3
        );
        assert_eq!(
            subtotal_of(&[("\"0.05\"", "Standard"), ("\"29\"", "DiscountPercentage")]),
            4
        );
        // A PriceOverride ignores every other line, even discounts larger than the price.
        let lines = [
            ("\"1.00\"", "Standard"),
            ("\"5.00\"", "Discount"),
            ("\"100\"", "DiscountPercentage"),
            ("\"9.00\"", "FinalDiscount"),
            ("\"3.00\"", "PriceOverride"),
        ];
        assert_eq!(subtotal_of(&lines), 300);
        // A PriceOverride alone is priced.
        assert_eq!(subtotal_of(&[("\"3.00\"", "PriceOverride")]), 300);
        // Exactly zero is a valid invoice (the payment rejects a zero amount, not the invoice).
        assert_eq!(
            subtotal_of(&[("\"1.00\"", "Standard"), ("\"100\"", "DiscountPercentage")]),
            0
        );
        assert_eq!(
            subtotal_of(&[("\"1.00\"", "Standard"), ("\"1.00\"", "Discount")]),
            0
        );
    }

    #[test]
    fn hand_built_drafts_never_go_negative_or_panic() {
        let line = |value, value_type| DraftLine {
            name: "x".into(),
            description: None,
            value,
            value_type,
            tax_code: Some("A".into()),
        };
        let draft = |lines| InvoiceDraft {
            merchant_invoice_ref_id: None,
            entity_use_code: None,
            currency: Currency::Usd,
            lines,
        };
        let rates = rates(&[("A", "100")]);
        let odd_rate: TaxRates = [("A".to_string(), TaxRate::from_e4(i64::MAX))]
            .into_iter()
            .collect();
        let cases = [
            vec![line(-5, ValueType::Standard)],
            vec![line(-5, ValueType::PriceOverride)],
            vec![
                line(i64::MIN, ValueType::Standard),
                line(i64::MAX, ValueType::Standard),
            ],
            vec![
                line(i64::MAX, ValueType::Standard),
                line(i64::MIN, ValueType::DiscountPercentage),
            ],
            vec![
                line(i64::MAX, ValueType::Standard),
                line(-1, ValueType::Standard),
            ],
            vec![line(i64::MAX, ValueType::Standard); 300],
        ];
        for lines in cases {
            let draft = draft(lines);
            assert!(draft.subtotal() >= 0);
            let invoice = draft.price(id(), &rates, false);
            assert!(invoice.total >= 0 && invoice.tax_amount >= 0);
            assert!(draft.price(id(), &odd_rate, false).total >= 0);
        }
    }

    // ---- tax ---------------------------------------------------------------------------------

    #[test]
    fn tax_on_a_single_line() {
        let json = json!({"invoiceLineItems": [taxed_line("100.00", "A")]}).to_string();
        let invoice = priced(&json, &rates(&[("A", "8.25")]), false);
        assert_eq!(invoice.subtotal, 100_00);
        assert_eq!(invoice.tax_amount, 8_25);
        assert_eq!(invoice.total, 108_25);
        assert_eq!(invoice.invoice_line_items[0].tax_amount, 8_25);
    }

    #[test]
    fn tax_is_scaled_by_the_discounts() {
        // S = 100.00, subtotal = 80.00: each line is taxed on 80% of its value.
        let json = json!({"invoiceLineItems": [
            taxed_line("60.00", "A"),
            taxed_line("40.00", "B"),
            line_with(json!({"value": "20.00", "valueType": "Discount", "taxCode": "A"})),
        ]})
        .to_string();
        let invoice = priced(&json, &rates(&[("A", "10"), ("B", "5")]), false);
        let taxes: Vec<i64> = invoice
            .invoice_line_items
            .iter()
            .map(|l| l.tax_amount)
            .collect();
        assert_eq!(taxes, [4_80, 1_60, 0]);
        assert_eq!(
            (invoice.subtotal, invoice.tax_amount, invoice.total),
            (80_00, 6_40, 86_40)
        );
    }

    #[test]
    fn tax_follows_a_price_override() {
        // 100.00 at 10%, but the invoice is overridden to 50.00: tax on 50.00.
        let json = json!({"invoiceLineItems": [
            taxed_line("100.00", "A"),
            line_with(json!({"value": "50.00", "valueType": "PriceOverride", "taxCode": "A"})),
        ]})
        .to_string();
        let invoice = priced(&json, &rates(&[("A", "10")]), false);
        assert_eq!(
            (invoice.subtotal, invoice.tax_amount, invoice.total),
            (50_00, 5_00, 55_00)
        );
        // S = 0: nothing to share the override over, so no tax (and no division by zero).
        let json = json!({"invoiceLineItems": [
            taxed_line("0", "A"),
            line_with(json!({"value": "50.00", "valueType": "PriceOverride"})),
        ]})
        .to_string();
        assert_eq!(priced(&json, &rates(&[("A", "10")]), false).tax_amount, 0);
    }

    #[test]
    fn exemptions_and_missing_rates_mean_no_tax() {
        let rates = rates(&[("A", "8.25"), ("a", "50")]);
        let taxed = json!({"invoiceLineItems": [taxed_line("100.00", "A")]}).to_string();
        assert_eq!(priced(&taxed, &rates, false).tax_amount, 8_25);
        // The customer's entityUseCode.
        let exempt = priced(&taxed, &rates, true);
        assert_eq!((exempt.tax_amount, exempt.total), (0, 100_00));
        assert_eq!(exempt.invoice_line_items[0].tax_amount, 0);
        // The invoice's own entityUseCode…
        let json = json!({"entityUseCode": "E", "invoiceLineItems": [taxed_line("100.00", "A")]});
        assert_eq!(priced(&json.to_string(), &rates, false).tax_amount, 0);
        // …but not a blank one.
        let json = json!({"entityUseCode": "  ", "invoiceLineItems": [taxed_line("100.00", "A")]});
        assert_eq!(priced(&json.to_string(), &rates, false).tax_amount, 8_25);
        // Unconfigured codes (compared case-sensitively) and no code at all.
        for code in ["B", "A ", "A\u{200b}"] {
            let json = json!({"invoiceLineItems": [taxed_line("100.00", code)]}).to_string();
            assert_eq!(priced(&json, &rates, false).tax_amount, 0, "{code:?}");
        }
        let json = json!({"invoiceLineItems": [taxed_line("100.00", "a")]}).to_string();
        assert_eq!(priced(&json, &rates, false).tax_amount, 50_00);
        let json = one_line(json!({"value": "100.00"}));
        assert_eq!(priced(&json, &rates, false).tax_amount, 0);
    }

    #[test]
    fn only_standard_lines_are_taxed() {
        let rates = rates(&[("A", "50")]);
        for value_type in ["Discount", "DiscountPercentage", "FinalDiscount"] {
            let json = json!({"invoiceLineItems": [
                line_with(json!({"value": "100.00"})),
                line_with(json!({"value": "1.00", "valueType": value_type, "taxCode": "A"})),
            ]})
            .to_string();
            let invoice = priced(&json, &rates, false);
            assert_eq!(invoice.tax_amount, 0, "{value_type}");
        }
    }

    #[test]
    fn tax_rounds_half_up_once_per_line() {
        let rates = rates(&[("A", "8.875")]);
        let tax = |value: &str| {
            let json = json!({"invoiceLineItems": [taxed_line(value, "A")]}).to_string();
            priced(&json, &rates, false).tax_amount
        };
        assert_eq!(tax("4.00"), 36); // 35.5 cents exactly → up
        assert_eq!(tax("0.05"), 0); // 0.44375 cents → down
        assert_eq!(tax("0.06"), 1); // 0.5325 cents → up

        // A tie after the discount scaling: 8.00 at 8.875% is 71 cents, half of it 35.5 → 36.
        let json = json!({"invoiceLineItems": [
            taxed_line("8.00", "A"),
            line_with(json!({"value": "4.00", "valueType": "Discount"})),
        ]})
        .to_string();
        assert_eq!(priced(&json, &rates, false).tax_amount, 36);
        // Rounding twice would be wrong here: 1.01 at 10% = 10.1 cents; × 0.55/1.01 = 5.5 → 6,
        // while rounding 10.1 → 10 first and then × 0.55/1.01 = 5.45 → 5.
        let json = json!({"invoiceLineItems": [
            taxed_line("1.01", "B"),
            line_with(json!({"value": "0.46", "valueType": "Discount"})),
        ]})
        .to_string();
        let ten_percent = self::rates(&[("B", "10")]);
        assert_eq!(priced(&json, &ten_percent, false).tax_amount, 6);
    }

    #[test]
    fn tax_is_exact_near_i64_max() {
        // value × rate_e4 × subtotal is ~7e42 here, past i128: the split product must be exact.
        let max = format_minor(i64::MAX);
        let json = json!({"invoiceLineItems": [taxed_line(&max, "A")]}).to_string();
        let draft = validate_with(&json, i64::MAX).unwrap();
        let invoice = draft.price(id(), &rates(&[("A", "8.25")]), false);
        let want = half_up(i128::from(i64::MAX) * 82_500, 1_000_000);
        assert_eq!(i128::from(invoice.tax_amount), want);
        assert_eq!(invoice.subtotal, i64::MAX);
        // The total cannot be represented; it saturates instead of wrapping or panicking.
        assert_eq!(invoice.total, i64::MAX);
    }

    // ---- validation: the line list -----------------------------------------------------------

    #[test]
    fn line_items_are_required() {
        for json in [
            r#"{}"#,
            r#"{"invoiceLineItems":null}"#,
            r#"{"invoiceLineItems":[]}"#,
        ] {
            let e = single_error(json);
            assert_eq!(
                (e.field.as_str(), e.code),
                ("invoice.invoiceLineItems", "required")
            );
            assert_eq!(e.message, "must contain at least one line item");
        }
        assert!(validate(&invoice_json(&[("\"1\"", "Standard")])).is_ok());
    }

    #[test]
    fn at_most_250_line_items() {
        let lines = vec![("\"0.01\"", "Standard"); MAX_LINE_ITEMS];
        assert_eq!(validate(&invoice_json(&lines)).unwrap().subtotal(), 250);
        // Too many: one error for the list, the lines (even bad ones) are not looked into.
        let lines = vec![("\"-1\"", "Bogus"); MAX_LINE_ITEMS + 1];
        let e = single_error(&invoice_json(&lines));
        assert_eq!(
            (e.field.as_str(), e.code),
            ("invoice.invoiceLineItems", "too_many_items")
        );
        assert_eq!(e.message, "must contain at most 250 line items");
    }

    #[test]
    fn needs_a_standard_or_price_override_line() {
        for lines in [
            vec![("\"1\"", "Discount")],
            vec![("\"1\"", "DiscountPercentage"), ("\"1\"", "FinalDiscount")],
        ] {
            let e = single_error(&invoice_json(&lines));
            assert_eq!(
                (e.field.as_str(), e.code),
                ("invoice.invoiceLineItems", "no_priced_item")
            );
            assert_eq!(
                e.message,
                "must contain at least one Standard or PriceOverride line item"
            );
        }
        assert!(validate(&invoice_json(&[
            ("\"1\"", "Discount"),
            ("\"1\"", "PriceOverride")
        ]))
        .is_ok());
        assert!(validate(&invoice_json(&[
            ("\"1\"", "Discount"),
            ("\"1\"", "Standard")
        ]))
        .is_ok());
    }

    #[test]
    fn at_most_one_price_override() {
        let lines = [("\"1\"", "PriceOverride"), ("\"2\"", "priceoverride")];
        let e = single_error(&invoice_json(&lines));
        assert_eq!(
            (e.field.as_str(), e.code),
            ("invoice.invoiceLineItems", "multiple_price_overrides")
        );
        assert_eq!(
            e.message,
            "must contain at most one PriceOverride line item"
        );
        assert!(validate(&invoice_json(&[
            ("\"1\"", "PriceOverride"),
            ("\"2\"", "Standard")
        ]))
        .is_ok());
    }

    #[test]
    fn total_must_not_be_below_zero() {
        let below = [
            // A < 0.
            vec![("\"1.00\"", "Standard"), ("\"1.01\"", "Discount")],
            // A < 0 even though 200% off would turn it positive again.
            vec![
                ("\"1.00\"", "Standard"),
                ("\"2.00\"", "Discount"),
                ("\"100\"", "DiscountPercentage"),
                ("\"100\"", "DiscountPercentage"),
            ],
            // Percentages over 100% in total.
            vec![
                ("\"1.00\"", "Standard"),
                ("\"60\"", "DiscountPercentage"),
                ("\"41\"", "DiscountPercentage"),
            ],
            // The final discount.
            vec![
                ("\"1.00\"", "Standard"),
                ("\"50\"", "DiscountPercentage"),
                ("\"0.51\"", "FinalDiscount"),
            ],
        ];
        for lines in below {
            let e = single_error(&invoice_json(&lines));
            assert_eq!(
                (e.field.as_str(), e.code),
                ("invoice.invoiceLineItems", "total_below_zero")
            );
            assert_eq!(e.message, "the invoice total must not be less than zero");
        }
        let zero = [
            ("\"1.00\"", "Standard"),
            ("\"50\"", "DiscountPercentage"),
            ("\"0.50\"", "FinalDiscount"),
        ];
        assert_eq!(subtotal_of(&zero), 0);
    }

    #[test]
    fn subtotal_is_bounded_by_the_ceiling() {
        let lines = [("\"600\"", "Standard"), ("\"400\"", "Standard")];
        assert_eq!(
            validate_with(&invoice_json(&lines), 100_000)
                .unwrap()
                .subtotal(),
            100_000
        );
        let e = validate_with(&invoice_json(&lines), 99_999).unwrap_err();
        assert_eq!(
            codes(&e),
            [("invoice.invoiceLineItems", "amount_too_large")]
        );
        assert_eq!(e[0].message, "the invoice subtotal must be at most 999.99");
        // 250 lines of i64::MAX cannot overflow the sum.
        let max = format!("\"{}\"", format_minor(i64::MAX));
        let lines = vec![(max.as_str(), "Standard"); MAX_LINE_ITEMS];
        let e = validate_with(&invoice_json(&lines), i64::MAX).unwrap_err();
        assert_eq!(
            codes(&e),
            [("invoice.invoiceLineItems", "amount_too_large")]
        );
    }

    #[test]
    fn invoice_rules_wait_for_every_line_to_parse() {
        // Only Discount lines, but one is broken: the broken field is reported, not the list.
        let json = invoice_json(&[("\"1\"", "Discount"), ("\"x\"", "Discount")]);
        let errors = validate(&json).unwrap_err();
        assert_eq!(
            codes(&errors),
            [("invoice.invoiceLineItems[1].value", "invalid_amount")]
        );
    }

    // ---- validation: the fields of a line ----------------------------------------------------

    fn line_error(changes: Value) -> (String, &'static str, String) {
        let e = single_error(&one_line(changes));
        (e.field, e.code, e.message)
    }

    fn line_ok(changes: Value) -> DraftLine {
        let mut draft = validate(&one_line(changes)).unwrap();
        draft.lines.remove(0)
    }

    #[test]
    fn name_rules() {
        let field = "invoice.invoiceLineItems[0].name".to_string();
        for missing in [
            json!({"name": null}),
            json!({"name": ""}),
            json!({"name": " \t "}),
        ] {
            assert_eq!(
                line_error(missing),
                (field.clone(), "required", "is required".into())
            );
        }
        assert_eq!(line_ok(json!({"name": "x".repeat(200)})).name.len(), 200);
        assert_eq!(
            line_ok(json!({"name": "é".repeat(200)}))
                .name
                .chars()
                .count(),
            200
        );
        assert_eq!(line_ok(json!({"name": " padded "})).name, " padded ");
        assert_eq!(
            line_error(json!({"name": "x".repeat(201)})),
            (
                field.clone(),
                "invalid_length",
                "must be at most 200 characters".into()
            )
        );
        for bad in ["a\u{7}b", "a\nb", "a\tb", "\u{0}", "a\u{85}"] {
            assert_eq!(
                line_error(json!({ "name": bad })),
                (
                    field.clone(),
                    "invalid_characters",
                    "must not contain control characters".into()
                )
            );
        }
    }

    #[test]
    fn description_rules() {
        let field = "invoice.invoiceLineItems[0].description".to_string();
        assert_eq!(line_ok(json!({})).description, None);
        assert_eq!(line_ok(json!({"description": "   "})).description, None);
        let text = "Line one\n\tindented";
        assert_eq!(
            line_ok(json!({ "description": text }))
                .description
                .as_deref(),
            Some(text)
        );
        assert!(line_ok(json!({"description": "d".repeat(1000)}))
            .description
            .is_some());
        assert_eq!(
            line_error(json!({"description": "d".repeat(1001)})),
            (
                field.clone(),
                "invalid_length",
                "must be at most 1000 characters".into()
            )
        );
        for bad in ["a\rb", "a\u{0}", "\u{1b}[31m"] {
            assert_eq!(
                line_error(json!({ "description": bad })),
                (
                    field.clone(),
                    "invalid_characters",
                    "must not contain control characters other than newline and tab".into()
                )
            );
        }
    }

    #[test]
    fn value_is_read_exactly_from_a_string_or_a_number() {
        for (raw, want) in [
            (r#""1.09""#, 109),
            ("1.09", 109),
            ("0.1", 10),
            ("19", 1900),
            (r#""0""#, 0),
            ("0", 0),
            (" 2.50 ", 250),
        ] {
            let json = format!(
                r#"{{"invoiceLineItems":[{{"name":"n","value":{raw},"valueType":"Standard"}}]}}"#
            );
            assert_eq!(validate(&json).unwrap().lines[0].value, want, "{raw}");
        }
    }

    #[test]
    fn value_errors() {
        let field = "invoice.invoiceLineItems[0].value";
        let error_for = |raw: &str, value_type: &str| {
            let json = format!(
                r#"{{"invoiceLineItems":[{{"name":"n","value":{raw},"valueType":"{value_type}"}},{{"name":"p","value":"1","valueType":"Standard"}}]}}"#
            );
            let errors = validate(&json).unwrap_err();
            assert_eq!(errors.len(), 1, "{raw}: {errors:?}");
            assert_eq!(errors[0].field, field);
            (errors[0].code, errors[0].message.clone())
        };
        let missing = r#"{"invoiceLineItems":[{"name":"n","valueType":"Standard"}]}"#;
        assert_eq!(single_error(missing).code, "required");
        assert_eq!(error_for("null", "Standard").0, "required");
        for (raw, code) in [
            (r#""-1""#, "invalid_value"),
            ("-0.01", "invalid_value"),
            (r#""-0""#, "invalid_value"),
            (r#""abc""#, "invalid_amount"),
            (r#""""#, "invalid_amount"),
            ("1e3", "invalid_amount"),
            ("1E-2", "invalid_amount"),
            (r#""1,000""#, "invalid_amount"),
            (r#"" 1""#, "invalid_amount"),
            ("true", "invalid_amount"),
            ("[1]", "invalid_amount"),
            (r#"{"amount":1}"#, "invalid_amount"),
            (r#""1.001""#, "too_many_decimals"),
            ("1.001", "too_many_decimals"),
            (r#""1000000.00""#, "amount_too_large"),
            ("99999999999999999999999", "amount_too_large"),
        ] {
            assert_eq!(error_for(raw, "Standard").0, code, "{raw}");
        }
        assert_eq!(
            error_for(r#""-1""#, "Discount").1,
            "must be greater than or equal to 0"
        );
        assert_eq!(
            error_for(r#""1000000""#, "Discount").1,
            "must be at most 999999.99"
        );
        // Exactly the ceiling is fine, for every money type; a cent more is not.
        for value_type in ["Standard", "Discount", "FinalDiscount", "PriceOverride"] {
            let json =
                invoice_json(&[("\"999999.99\"", value_type), ("\"999999.99\"", "Standard")]);
            let want = if value_type == "Standard" {
                "amount_too_large"
            } else {
                "ok"
            };
            // (Two Standard lines at the ceiling pass one by one; only their sum is too large.)
            let got = validate(&json).map_or_else(|e| e[0].code, |_| "ok");
            assert_eq!(got, want, "{value_type}");
            assert_eq!(error_for("1000000", value_type).0, "amount_too_large");
            assert_eq!(error_for("999999.991", value_type).0, "too_many_decimals");
        }
    }

    #[test]
    fn discount_percentage_is_zero_to_a_hundred() {
        let percent = |raw: &str| {
            let json = invoice_json(&[("\"1\"", "Standard"), (raw, "DiscountPercentage")]);
            validate(&json).map(|d| d.lines[1].value)
        };
        assert_eq!(percent("\"0\""), Ok(0));
        assert_eq!(percent("\"19.5\""), Ok(1950));
        assert_eq!(percent("19.55"), Ok(1955));
        assert_eq!(percent("\"100\""), Ok(10_000));
        assert_eq!(percent("\"100.00\""), Ok(10_000));
        let error = |raw: &str| {
            let errors = percent(raw).unwrap_err();
            assert_eq!(errors.len(), 1);
            assert_eq!(errors[0].field, "invoice.invoiceLineItems[1].value");
            (errors[0].code, errors[0].message.clone())
        };
        let out_of_range = (
            "invalid_value",
            "a DiscountPercentage must be between 0 and 100".to_string(),
        );
        assert_eq!(error("\"100.01\""), out_of_range);
        assert_eq!(error("101"), out_of_range);
        assert_eq!(error("99999999999999999999999"), out_of_range);
        assert_eq!(error("\"-1\"").0, "invalid_value");
        assert_eq!(error("\"19.555\"").0, "too_many_decimals");
        assert_eq!(error("\"19%\"").0, "invalid_amount");
        // A percentage is not money: the money ceiling does not apply to it.
        let json = invoice_json(&[("\"0.10\"", "Standard"), ("\"50\"", "DiscountPercentage")]);
        assert_eq!(validate_with(&json, 10).unwrap().subtotal(), 5);
    }

    #[test]
    fn value_type_rules() {
        let field = "invoice.invoiceLineItems[0].valueType".to_string();
        assert_eq!(
            line_error(json!({"valueType": null})),
            (field.clone(), "required", "is required".into())
        );
        for bad in ["", "Tax", "standard ", "Standard,Discount"] {
            assert_eq!(
                line_error(json!({ "valueType": bad })),
                (field.clone(), "invalid_value", VALUE_TYPE_MESSAGE.into())
            );
        }
        assert_eq!(
            line_ok(json!({"valueType": "sTaNdArD"})).value_type,
            ValueType::Standard
        );
    }

    #[test]
    fn tax_code_rules() {
        let field = "invoice.invoiceLineItems[0].taxCode".to_string();
        assert_eq!(line_ok(json!({})).tax_code, None);
        assert_eq!(line_ok(json!({"taxCode": " "})).tax_code, None);
        assert_eq!(
            line_ok(json!({"taxCode": "P0000000"})).tax_code.as_deref(),
            Some("P0000000")
        );
        assert!(line_ok(json!({"taxCode": "t".repeat(25)}))
            .tax_code
            .is_some());
        assert_eq!(
            line_error(json!({"taxCode": "t".repeat(26)})),
            (
                field.clone(),
                "invalid_length",
                "must be at most 25 characters".into()
            )
        );
        assert_eq!(
            line_error(json!({"taxCode": "P\n1"})).1,
            "invalid_characters"
        );
    }

    #[test]
    fn invoice_text_fields() {
        let with = |fields: Value| {
            let mut invoice = json!({"invoiceLineItems": [line_with(json!({}))]});
            for (k, v) in fields.as_object().unwrap() {
                invoice[k] = v.clone();
            }
            validate(&invoice.to_string())
        };
        let draft =
            with(json!({"merchantInvoiceRefId": "r".repeat(100), "entityUseCode": "e".repeat(25)}))
                .unwrap();
        assert_eq!(draft.merchant_invoice_ref_id.unwrap().len(), 100);
        assert_eq!(draft.entity_use_code.unwrap().len(), 25);
        assert_eq!(draft.currency, Currency::Usd);
        let draft = with(json!({"merchantInvoiceRefId": " ", "entityUseCode": ""})).unwrap();
        assert_eq!(
            (draft.merchant_invoice_ref_id, draft.entity_use_code),
            (None, None)
        );
        let errors =
            with(json!({"merchantInvoiceRefId": "r".repeat(101), "entityUseCode": "e".repeat(26)}))
                .unwrap_err();
        assert_eq!(
            codes(&errors),
            [
                ("invoice.merchantInvoiceRefId", "invalid_length"),
                ("invoice.entityUseCode", "invalid_length"),
            ]
        );
        assert_eq!(errors[0].message, "must be at most 100 characters");
        let errors =
            with(json!({"merchantInvoiceRefId": "A\u{0}", "entityUseCode": "E\t"})).unwrap_err();
        assert_eq!(
            codes(&errors),
            [
                ("invoice.merchantInvoiceRefId", "invalid_characters"),
                ("invoice.entityUseCode", "invalid_characters"),
            ]
        );
    }

    #[test]
    fn every_failure_is_reported_with_its_path() {
        let json = json!({
            "merchantInvoiceRefId": "bad\u{7}",
            "invoiceLineItems": [
                {"name": "ok", "value": "1.00", "valueType": "Standard"},
                {"value": "-1", "valueType": "Bogus", "taxCode": "t".repeat(26)},
                {"name": "ok", "value": "1.00", "valueType": "Standard"},
                {"name": "n\n", "description": "\u{0}", "value": "1.001"},
            ]
        });
        let errors = validate(&json.to_string()).unwrap_err();
        assert_eq!(
            codes(&errors),
            [
                ("invoice.merchantInvoiceRefId", "invalid_characters"),
                ("invoice.invoiceLineItems[1].name", "required"),
                ("invoice.invoiceLineItems[1].value", "invalid_value"),
                ("invoice.invoiceLineItems[1].valueType", "invalid_value"),
                ("invoice.invoiceLineItems[1].taxCode", "invalid_length"),
                ("invoice.invoiceLineItems[3].name", "invalid_characters"),
                (
                    "invoice.invoiceLineItems[3].description",
                    "invalid_characters"
                ),
                ("invoice.invoiceLineItems[3].value", "too_many_decimals"),
                ("invoice.invoiceLineItems[3].valueType", "required"),
            ]
        );
        assert_eq!(errors[3].message, VALUE_TYPE_MESSAGE);
    }

    #[test]
    fn validate_reports_only_its_own_failures() {
        let mut errors = FieldErrors::new();
        errors.add("amount", "invalid_amount", "earlier");
        let input: InvoiceInput =
            serde_json::from_str(&invoice_json(&[("\"1\"", "Standard")])).unwrap();
        let draft = input.validate(
            "invoice",
            Currency::Usd,
            DEFAULT_MAX_AMOUNT_MINOR,
            &mut errors,
        );
        assert!(draft.is_some());
        assert_eq!(errors.len(), 1);
        // An empty path is the body's root.
        let mut errors = FieldErrors::new();
        assert!(InvoiceInput::default()
            .validate("", Currency::Usd, DEFAULT_MAX_AMOUNT_MINOR, &mut errors)
            .is_none());
        assert_eq!(errors.into_vec()[0].field, "invoiceLineItems");
    }

    #[test]
    fn unknown_fields_are_rejected() {
        assert!(
            serde_json::from_str::<InvoiceInput>(r#"{"invoiceLineItems":[],"total":"1"}"#).is_err()
        );
        assert!(serde_json::from_str::<InvoiceInput>(
            r#"{"invoiceLineItems":[{"name":"n","value":1,"valueType":"Standard","qty":2}]}"#
        )
        .is_err());
    }

    // ---- tax rates ---------------------------------------------------------------------------

    #[test]
    fn tax_rate_parse() {
        for (text, e4, shown) in [
            ("0", 0, "0"),
            ("0.0", 0, "0"),
            ("8.25", 82_500, "8.25"),
            ("8.875", 88_750, "8.875"),
            ("0.0001", 1, "0.0001"),
            ("7", 70_000, "7"),
            ("12.5000", 125_000, "12.5"),
            ("100", 1_000_000, "100"),
            ("100.0000", 1_000_000, "100"),
        ] {
            let rate = TaxRate::parse(text).unwrap();
            assert_eq!(rate.e4(), e4, "{text}");
            assert_eq!(rate.percent_text(), shown);
            assert_eq!(TaxRate::from_e4(e4), rate);
        }
        for (bad, err) in [
            ("", TaxRateError::Invalid),
            (".5", TaxRateError::Invalid),
            ("5.", TaxRateError::Invalid),
            ("08.25", TaxRateError::Invalid),
            ("8,25", TaxRateError::Invalid),
            ("8.25%", TaxRateError::Invalid),
            (" 8", TaxRateError::Invalid),
            ("1e2", TaxRateError::Invalid),
            ("+5", TaxRateError::Invalid),
            ("-x", TaxRateError::Invalid),
            ("８", TaxRateError::Invalid),
            ("8.87501", TaxRateError::TooManyDecimals),
            ("100.0001", TaxRateError::OutOfRange),
            ("101", TaxRateError::OutOfRange),
            ("99999999999999999999999", TaxRateError::OutOfRange),
            ("-1", TaxRateError::OutOfRange),
            ("-0.5", TaxRateError::OutOfRange),
        ] {
            let e = TaxRate::parse(bad).unwrap_err();
            assert_eq!(e, err, "{bad:?}");
            assert_eq!(e.code(), "invalid_rate");
        }
        assert_eq!(
            TaxRateError::OutOfRange.message(),
            "must be between 0 and 100"
        );
        assert_eq!(TaxRate::from_e4(-12_345).percent_text(), "-1.2345");
    }

    #[test]
    fn tax_rates_by_exact_code() {
        let mut rates = TaxRates::new();
        assert_eq!(rates.get("A"), None);
        rates.insert("A", TaxRate::from_e4(1));
        rates.insert(String::from("A"), TaxRate::from_e4(2));
        assert_eq!(rates.get("A"), Some(TaxRate::from_e4(2)));
        assert_eq!(rates.get("a"), None);
        let collected: TaxRates = [("A".to_string(), TaxRate::from_e4(2))]
            .into_iter()
            .collect();
        assert_eq!(collected, rates);
        assert_eq!(TaxRates::default(), TaxRates::new());
    }

    // ---- JSON --------------------------------------------------------------------------------

    #[test]
    fn invoice_json_shape() {
        let invoice = priced(
            &invoice_json(&[("\"1.09\"", "Standard"), ("\"0.19\"", "Discount")]),
            &TaxRates::new(),
            false,
        );
        let want = r#"{"id":"inv_0123456789ABCDEFGHIJabcd","merchantInvoiceRefId":null,"entityUseCode":null,"currency":"USD","subtotal":"0.90","taxAmount":"0.00","total":"0.90","invoiceLineItems":[{"name":"item 0","description":null,"value":"1.09","valueType":"Standard","taxCode":null,"taxAmount":"0.00"},{"name":"item 1","description":null,"value":"0.19","valueType":"Discount","taxCode":null,"taxAmount":"0.00"}]}"#;
        assert_eq!(serde_json::to_string(&invoice).unwrap(), want);
        // A percentage shows like an amount: 19% is "19.00".
        let invoice = priced(
            &invoice_json(&[("\"1.09\"", "Standard"), ("19", "DiscountPercentage")]),
            &TaxRates::new(),
            false,
        );
        let json = serde_json::to_value(&invoice).unwrap();
        assert_eq!(json["invoiceLineItems"][1]["value"], "19.00");
        assert_eq!(json["total"], "0.88");
    }

    #[test]
    fn invoice_json_round_trip() {
        let json = json!({
            "merchantInvoiceRefId": "A-1",
            "invoiceLineItems": [
                {"name": "Widget", "description": "blue\nlarge", "value": "60.00", "valueType": "Standard", "taxCode": "A"},
                {"name": "Gadget", "value": 40, "valueType": "standard", "taxCode": "B"},
                {"name": "Promo", "value": "12.5", "valueType": "DiscountPercentage"},
            ]
        });
        let invoice = priced(
            &json.to_string(),
            &rates(&[("A", "8.875"), ("B", "5")]),
            false,
        );
        assert_eq!((invoice.subtotal, invoice.tax_amount), (87_50, 6_41));
        let text = serde_json::to_string(&invoice).unwrap();
        assert_eq!(serde_json::from_str::<Invoice>(&text).unwrap(), invoice);
        // Stored amounts are read back only from exact decimal strings.
        let as_number = text.replace(r#""subtotal":"87.50""#, r#""subtotal":87.5"#);
        assert_ne!(as_number, text);
        assert!(serde_json::from_str::<Invoice>(&as_number).is_err());
        let too_precise = text.replace(r#""subtotal":"87.50""#, r#""subtotal":"87.501""#);
        assert!(serde_json::from_str::<Invoice>(&too_precise).is_err());
        let bad_id = text.replace(ID, "pay_0123456789ABCDEFGHIJabcd");
        assert!(serde_json::from_str::<Invoice>(&bad_id).is_err());
    }

    // ---- properties --------------------------------------------------------------------------

    /// One generated line: its type, value (cents or hundredths of a percent) and how it is sent.
    #[derive(Debug, Clone)]
    struct GenLine {
        value_type: ValueType,
        value: i64,
        tax_code: Option<&'static str>,
        as_number: bool,
        short: bool,
        lowercase: bool,
    }

    impl GenLine {
        fn to_json(&self, i: usize) -> String {
            let mut text = format_minor(self.value);
            if self.short {
                // "19.50" → "19.5", "19.00" → "19".
                text = text.trim_end_matches('0').trim_end_matches('.').to_string();
            }
            let value = if self.as_number {
                text
            } else {
                format!("\"{text}\"")
            };
            let value_type = match self.lowercase {
                true => self.value_type.as_str().to_lowercase(),
                false => self.value_type.as_str().to_string(),
            };
            let tax_code = self
                .tax_code
                .map_or("null".to_string(), |c| format!("\"{c}\""));
            format!(
                r#"{{"name":"item {i}","value":{value},"valueType":"{value_type}","taxCode":{tax_code}}}"#
            )
        }
    }

    fn gen_line() -> impl Strategy<Value = GenLine> {
        // Small amounts and round percentages make exact half-cent ties common, so the rounding
        // is tested where it matters, not only on values that are never near a tie.
        let amount = |max: i64| prop_oneof![1 => Just(0i64), 3 => 0..=200i64, 6 => 0..=max];
        let percent = prop_oneof![
            3 => 0..=10_000i64,
            3 => (0..=200i64).prop_map(|k| k * 50),
            1 => Just(10_000i64),
        ];
        let typed = prop_oneof![
            5 => (Just(ValueType::Standard), amount(1_000_000)),
            2 => (Just(ValueType::Discount), amount(300_000)),
            2 => (Just(ValueType::DiscountPercentage), percent),
            2 => (Just(ValueType::FinalDiscount), amount(300_000)),
            1 => (Just(ValueType::PriceOverride), amount(1_000_000)),
        ];
        let code = prop::option::of(prop::sample::select(vec!["A", "B", "C"]));
        (typed, code, any::<bool>(), any::<bool>(), any::<bool>()).prop_map(
            |((value_type, value), tax_code, as_number, short, lowercase)| GenLine {
                value_type,
                value,
                tax_code,
                as_number,
                short,
                lowercase,
            },
        )
    }

    /// floor((2n + d) / 2d): n / d rounded half-up, for n ≥ 0 and d > 0.
    fn half_up(n: i128, d: i128) -> i128 {
        (2 * n + d) / (2 * d)
    }

    /// docs/api.md §3 written out independently: the accepted subtotal and each line's tax, or the
    /// code of the invoice-level error.
    fn reference(
        lines: &[GenLine],
        rates: &BTreeMap<&str, i64>,
        exempt: bool,
    ) -> Result<(i128, Vec<i128>), &'static str> {
        let of = |t: ValueType| lines.iter().filter(move |l| l.value_type == t);
        let total = |t: ValueType| of(t).map(|l| i128::from(l.value)).sum::<i128>();
        if of(ValueType::Standard).count() + of(ValueType::PriceOverride).count() == 0 {
            return Err("no_priced_item");
        }
        if of(ValueType::PriceOverride).count() > 1 {
            return Err("multiple_price_overrides");
        }
        let s = total(ValueType::Standard);
        let subtotal = if of(ValueType::PriceOverride).count() == 1 {
            total(ValueType::PriceOverride)
        } else {
            let a = s - total(ValueType::Discount);
            if a < 0 {
                return Err("total_below_zero");
            }
            let p = half_up(a * total(ValueType::DiscountPercentage), 100 * 100);
            a - p - total(ValueType::FinalDiscount)
        };
        if subtotal < 0 {
            return Err("total_below_zero");
        }
        let taxes = lines
            .iter()
            .map(|l| {
                let rate = l.tax_code.and_then(|c| rates.get(c));
                match rate {
                    Some(&rate) if l.value_type == ValueType::Standard && !exempt && s > 0 => {
                        half_up(
                            i128::from(l.value) * i128::from(rate) * subtotal,
                            100 * 10_000 * s,
                        )
                    }
                    _ => 0,
                }
            })
            .collect();
        Ok((subtotal, taxes))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1024))]

        #[test]
        fn invoices_match_the_reference(
            lines in prop::collection::vec(gen_line(), 1..=8),
            rate_a in prop_oneof![0..=1_000_000i64, prop::sample::select(vec![50_000i64, 88_750, 125_000, 500_000])],
            rate_b in prop_oneof![0..=1_000_000i64, (0..=20i64).prop_map(|k| k * 50_000)],
            customer_exempt in any::<bool>(),
            entity_use_code in prop::option::of("[A-Z]{1,3}"),
        ) {
            let items: Vec<String> = lines.iter().enumerate().map(|(i, l)| l.to_json(i)).collect();
            let entity = entity_use_code.as_ref().map_or("null".to_string(), |e| format!("\"{e}\""));
            let json = format!(r#"{{"entityUseCode":{entity},"invoiceLineItems":[{}]}}"#, items.join(","));
            let tax_rates: TaxRates = [("A", rate_a), ("B", rate_b)]
                .into_iter()
                .map(|(code, e4)| {
                    // Through the text form, so parse and percent_text are exercised too.
                    (code.to_string(), TaxRate::parse(&TaxRate::from_e4(e4).percent_text()).unwrap())
                })
                .collect();
            let reference_rates = BTreeMap::from([("A", rate_a), ("B", rate_b)]);
            let exempt = customer_exempt || entity_use_code.is_some();
            match (validate(&json), reference(&lines, &reference_rates, exempt)) {
                (Ok(draft), Ok((subtotal, taxes))) => {
                    for (line, generated) in draft.lines.iter().zip(&lines) {
                        prop_assert_eq!(line.value, generated.value);
                        prop_assert_eq!(line.value_type, generated.value_type);
                        prop_assert_eq!(line.tax_code.as_deref(), generated.tax_code);
                    }
                    let invoice = draft.price(id(), &tax_rates, customer_exempt);
                    prop_assert!(invoice.subtotal >= 0 && invoice.total >= 0);
                    prop_assert_eq!(i128::from(invoice.subtotal), subtotal);
                    prop_assert_eq!(draft.subtotal(), invoice.subtotal);
                    let got: Vec<i128> = invoice.invoice_line_items.iter().map(|l| l.tax_amount.into()).collect();
                    prop_assert_eq!(&got, &taxes);
                    prop_assert_eq!(i128::from(invoice.tax_amount), taxes.iter().sum::<i128>());
                    prop_assert_eq!(invoice.total, invoice.subtotal + invoice.tax_amount);
                }
                (Err(errors), Err(code)) => {
                    prop_assert_eq!(codes(&errors), [("invoice.invoiceLineItems", code)]);
                }
                (got, want) => prop_assert!(false, "validate gave {:?}, the reference {:?}", got, want),
            }
        }

        #[test]
        fn line_tax_is_exact_for_large_amounts(
            value in 0..=1_000_000_000_000_000i64,
            rest in 0..=1_000_000_000_000_000i64,
            subtotal in 0..=1_000_000_000_000_000i64,
            rate in 0..=1_000_000i64,
        ) {
            // Here the direct product still fits in i128, so the split must agree with it.
            let standard = i128::from(value) + i128::from(rest);
            let want = if standard == 0 {
                0
            } else {
                half_up(i128::from(value) * i128::from(rate) * i128::from(subtotal), 1_000_000 * standard)
            };
            prop_assert_eq!(line_tax(value, TaxRate::from_e4(rate), subtotal, standard), want);
        }

        #[test]
        fn tax_rate_text_round_trips(e4 in 0..=1_000_000i64) {
            let rate = TaxRate::from_e4(e4);
            prop_assert_eq!(TaxRate::parse(&rate.percent_text()), Ok(rate));
        }

        #[test]
        fn arbitrary_input_never_panics(
            name in prop::option::of(any::<String>()),
            value in prop::option::of(prop_oneof![any::<String>(), "-?[0-9]{0,25}(\\.[0-9]{0,4})?"]),
            value_type in prop::option::of(prop_oneof![any::<String>(), prop::sample::select(ValueType::ALL.map(ValueType::as_str).to_vec()).prop_map(String::from)]),
            tax_code in prop::option::of(any::<String>()),
            max_minor in prop_oneof![Just(i64::MAX), Just(0i64), any::<i64>()],
            rate in any::<String>(),
        ) {
            let _ = TaxRate::parse(&rate);
            let raw = value.map(|v| RawValue::from_string(serde_json::to_string(&v).unwrap()).unwrap());
            let input = InvoiceInput {
                invoice_line_items: Some(vec![LineItemInput { name, description: None, value: raw, value_type, tax_code }]),
                ..InvoiceInput::default()
            };
            let mut errors = FieldErrors::new();
            if let Some(draft) = input.validate("invoice", Currency::Usd, max_minor, &mut errors) {
                prop_assert!(errors.is_empty());
                let invoice = draft.price(id(), &rates(&[("A", "100")]), false);
                prop_assert!(invoice.subtotal >= 0 && invoice.total >= invoice.subtotal);
            } else {
                prop_assert!(!errors.is_empty());
            }
        }
    }

    #[test]
    fn minor_as_decimal_only_reads_exact_strings() {
        #[derive(Debug, PartialEq, Serialize, Deserialize)]
        struct Amount(#[serde(with = "crate::money::minor_as_decimal")] i64);
        assert_eq!(
            serde_json::to_string(&Amount(12_100)).unwrap(),
            r#""121.00""#
        );
        assert_eq!(
            serde_json::from_str::<Amount>(r#""121.00""#).unwrap(),
            Amount(12_100)
        );
        assert_eq!(
            serde_json::from_str::<Amount>(r#""0.5""#).unwrap(),
            Amount(50)
        );
        for bad in ["121", "121.0", r#""1e2""#, r#""121.001""#, "null", r#""""#] {
            assert!(serde_json::from_str::<Amount>(bad).is_err(), "{bad}");
        }
    }
}
