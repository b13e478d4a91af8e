//! A partner's customer: who pays, and whose payment methods are kept for later charges.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;

use crate::email::Email;
use crate::error::FieldErrors;
use crate::id::{CustomerId, PartnerId};
use crate::text;

pub const NAME_MAX: usize = 100;
pub const REF_ID_MAX: usize = 100;
pub const ENTITY_USE_CODE_MAX: usize = 25;

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Customer {
    pub id: CustomerId,
    #[serde(skip)]
    pub partner_id: PartnerId,
    #[schema(inline)]
    pub object: CustomerObject,
    pub first_name: String,
    pub last_name: String,
    pub email: Option<String>,
    pub merchant_customer_ref_id: Option<String>,
    /// Avalara exemption code; a customer with one pays no tax.
    pub entity_use_code: Option<String>,
    #[serde(with = "crate::clock::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "crate::clock::rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl Customer {
    pub fn is_tax_exempt(&self) -> bool {
        self.entity_use_code.is_some()
    }
}

/// The `object` field: always `"customer"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, ToSchema)]
pub enum CustomerObject {
    #[default]
    #[serde(rename = "customer")]
    Customer,
}

/// The fields a customer is made from (`POST /v1/customers`, or a sale naming a new payer).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CustomerInput {
    #[schema(required = true, nullable = false, max_length = 100)]
    pub first_name: Option<String>,
    #[schema(required = true, nullable = false, max_length = 100)]
    pub last_name: Option<String>,
    #[schema(format = Email)]
    pub email: Option<String>,
    /// Your reference for the customer.
    #[schema(max_length = 100)]
    pub merchant_customer_ref_id: Option<String>,
    /// A tax exemption code; an exempt customer pays no tax.
    #[schema(max_length = 25)]
    pub entity_use_code: Option<String>,
}

/// Validated customer fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerFields {
    pub first_name: String,
    pub last_name: String,
    pub email: Option<String>,
    pub merchant_customer_ref_id: Option<String>,
    pub entity_use_code: Option<String>,
}

impl CustomerInput {
    /// Records every failure under `path`; None if anything failed.
    pub fn validate(self, path: &str, errors: &mut FieldErrors) -> Option<CustomerFields> {
        let at = |name| text::field_path(path, name);
        let before = errors.len();
        let first_name = text::required(errors, &at("firstName"), self.first_name, NAME_MAX);
        let last_name = text::required(errors, &at("lastName"), self.last_name, NAME_MAX);
        let email = optional_email(errors, &at("email"), self.email);
        let merchant_customer_ref_id = text::optional(
            errors,
            &at("merchantCustomerRefId"),
            self.merchant_customer_ref_id,
            REF_ID_MAX,
        );
        let entity_use_code = text::optional(
            errors,
            &at("entityUseCode"),
            self.entity_use_code,
            ENTITY_USE_CODE_MAX,
        );
        (errors.len() == before).then(|| CustomerFields {
            first_name: first_name.expect("validated"),
            last_name: last_name.expect("validated"),
            email,
            merchant_customer_ref_id,
            entity_use_code,
        })
    }
}

fn optional_email(errors: &mut FieldErrors, field: &str, value: Option<String>) -> Option<String> {
    let value = value?;
    let value = value.trim();
    if value.is_empty() {
        return None;
    }
    errors
        .take(field, Email::parse(value))
        .map(|e| e.as_str().to_string())
}

/// A change to a customer (`PATCH /v1/customers/{id}`): an absent field stays as it is, `null`
/// clears an optional one.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CustomerPatchInput {
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, nullable = false, max_length = 100)]
    pub first_name: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, nullable = false, max_length = 100)]
    pub last_name: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, format = Email)]
    pub email: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    pub merchant_customer_ref_id: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    pub entity_use_code: Option<Option<String>>,
}

/// Distinguishes a field sent as `null` (Some(None)) from one not sent (None, via `default`).
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

/// What a patch sets; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CustomerPatch {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email: Option<Option<String>>,
    pub merchant_customer_ref_id: Option<Option<String>>,
    pub entity_use_code: Option<Option<String>>,
}

impl CustomerPatchInput {
    pub fn validate(self, errors: &mut FieldErrors) -> Option<CustomerPatch> {
        let before = errors.len();
        let mut name = |field: &str, v: Option<Option<String>>| match v {
            None => None,
            Some(v) => text::required(errors, field, v, NAME_MAX),
        };
        let first_name = name("firstName", self.first_name);
        let last_name = name("lastName", self.last_name);
        let email = self.email.map(|v| optional_email(errors, "email", v));
        let merchant_customer_ref_id = self
            .merchant_customer_ref_id
            .map(|v| text::optional(errors, "merchantCustomerRefId", v, REF_ID_MAX));
        let entity_use_code = self
            .entity_use_code
            .map(|v| text::optional(errors, "entityUseCode", v, ENTITY_USE_CODE_MAX));
        (errors.len() == before).then_some(CustomerPatch {
            first_name,
            last_name,
            email,
            merchant_customer_ref_id,
            entity_use_code,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(json: &str) -> CustomerInput {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn names_are_required_and_the_rest_optional() {
        let mut e = FieldErrors::new();
        let c = input(r#"{"firstName": " Ada ", "lastName": "Lovelace", "email": "ada@example.com", "entityUseCode": "E"}"#)
            .validate("", &mut e)
            .unwrap();
        assert_eq!(c.first_name, "Ada");
        assert_eq!(c.email.as_deref(), Some("ada@example.com"));
        assert_eq!(c.entity_use_code.as_deref(), Some("E"));
        assert!(input(r#"{"lastName": "L", "email": "nope"}"#)
            .validate("", &mut e)
            .is_none());
        let fields: Vec<_> = e.into_vec().into_iter().map(|f| f.field).collect();
        assert_eq!(fields, ["firstName", "email"]);
    }

    #[test]
    fn patch_tells_null_from_absent() {
        let p: CustomerPatchInput =
            serde_json::from_str(r#"{"email": null, "lastName": "Byron"}"#).unwrap();
        let mut e = FieldErrors::new();
        let p = p.validate(&mut e).unwrap();
        assert_eq!(p.email, Some(None));
        assert_eq!(p.last_name.as_deref(), Some("Byron"));
        assert_eq!(p.first_name, None);
        assert_eq!(p.entity_use_code, None);
        let bad: CustomerPatchInput = serde_json::from_str(r#"{"firstName": null}"#).unwrap();
        assert!(bad.validate(&mut e).is_none());
        assert_eq!(e.into_vec()[0].code, "required");
    }
}
