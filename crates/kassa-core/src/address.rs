//! The billing address of a payment method. Every part is optional; the ones given are
//! trimmed and checked against the product source document's limits.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::country::Country;
use crate::error::{FieldErrors, ValidationError};

/// A billing address as received; [`BillingAddressInput::validate`] is the only way to a
/// [`BillingAddress`].
#[derive(Debug, Default, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(
    description = "A billing address; every part is optional. Values are trimmed and blank \
    ones dropped."
)]
pub struct BillingAddressInput {
    #[schema(max_length = 100)]
    pub address_id: Option<String>,
    #[schema(min_length = 2, max_length = 40)]
    pub address_line1: Option<String>,
    #[schema(max_length = 40)]
    pub address_line2: Option<String>,
    #[schema(min_length = 2, max_length = 25)]
    pub city: Option<String>,
    /// Two letters or digits, e.g. `NY`.
    #[schema(min_length = 2, max_length = 2)]
    pub state: Option<String>,
    #[schema(min_length = 2, max_length = 20)]
    pub postal_code: Option<String>,
    #[schema(max_length = 18)]
    pub phone_number: Option<String>,
    #[schema(max_length = 254)]
    pub email: Option<String>,
    /// An ISO 3166-1 alpha-2, alpha-3 or numeric code, or a country name; shown as alpha-2.
    pub country: Option<String>,
}

/// A validated billing address: values trimmed, blanks dropped, `state` uppercase.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BillingAddress {
    pub address_id: Option<String>,
    pub address_line1: Option<String>,
    pub address_line2: Option<String>,
    pub city: Option<String>,
    pub state: Option<String>,
    pub postal_code: Option<String>,
    pub phone_number: Option<String>,
    pub email: Option<String>,
    pub country: Option<Country>,
}

impl BillingAddressInput {
    /// Validates every field, recording each failure in `errors` under `{path}.{fieldName}`.
    /// Returns None if any field failed.
    pub fn validate(self, path: &str, errors: &mut FieldErrors) -> Option<BillingAddress> {
        let mut f = TextFields::new(path, errors);
        let address = BillingAddress {
            address_id: f.text("addressId", self.address_id, 1, 100),
            address_line1: f.text("addressLine1", self.address_line1, 2, 40),
            address_line2: f.text("addressLine2", self.address_line2, 1, 40),
            city: f.text("city", self.city, 2, 25),
            state: f.parse("state", self.state, state),
            postal_code: f.text("postalCode", self.postal_code, 2, 20),
            phone_number: f.text("phoneNumber", self.phone_number, 1, 18),
            // The source document sets only a length for email, so no format check here.
            email: f.text("email", self.email, 1, 254),
            country: f.parse("country", self.country, Country::parse),
        };
        f.finish(address)
    }
}

/// Why a free-text field was rejected.
#[derive(Debug, Clone, Copy, thiserror::Error, PartialEq, Eq)]
enum TextError {
    #[error("must not contain control characters")]
    ControlCharacters,
    #[error("must contain only letters and digits")]
    NotAlphanumeric,
    #[error("must be {}", length_rule(*min, *max))]
    InvalidLength { min: usize, max: usize },
}

impl ValidationError for TextError {
    fn code(&self) -> &'static str {
        match self {
            TextError::ControlCharacters | TextError::NotAlphanumeric => "invalid_characters",
            TextError::InvalidLength { .. } => "invalid_length",
        }
    }
}

fn length_rule(min: usize, max: usize) -> String {
    if min == max {
        format!("exactly {max} characters")
    } else if min <= 1 {
        // Blank values never reach the length check, so a minimum of 1 goes without saying.
        format!("at most {max} characters")
    } else {
        format!("{min} to {max} characters")
    }
}

/// `s` as an owned string if it has `min..=max` characters (not bytes).
fn length(s: &str, min: usize, max: usize) -> Result<String, TextError> {
    if (min..=max).contains(&s.chars().count()) {
        Ok(s.to_owned())
    } else {
        Err(TextError::InvalidLength { min, max })
    }
}

/// Exactly 2 ASCII letters or digits, uppercased.
fn state(s: &str) -> Result<String, TextError> {
    let s = length(s, 2, 2)?;
    if s.bytes().all(|b| b.is_ascii_alphanumeric()) {
        Ok(s.to_ascii_uppercase())
    } else {
        Err(TextError::NotAlphanumeric)
    }
}

/// Validates the optional text fields of one object under `path`, collecting every failure.
/// Control characters anywhere in a raw value are rejected (even ones trimming would
/// remove), a blank value counts as absent, and the trimmed value is checked.
pub(crate) struct TextFields<'a> {
    path: &'a str,
    errors: &'a mut FieldErrors,
    errors_before: usize,
}

impl<'a> TextFields<'a> {
    pub(crate) fn new(path: &'a str, errors: &'a mut FieldErrors) -> Self {
        let errors_before = errors.len();
        TextFields {
            path,
            errors,
            errors_before,
        }
    }

    /// A value of `min..=max` characters; None if absent or rejected.
    pub(crate) fn text(
        &mut self,
        name: &str,
        value: Option<String>,
        min: usize,
        max: usize,
    ) -> Option<String> {
        self.parse(name, value, |s| length(s, min, max))
    }

    /// The trimmed value run through `parse`; None if absent or rejected.
    pub(crate) fn parse<T, E: ValidationError>(
        &mut self,
        name: &str,
        value: Option<String>,
        parse: impl FnOnce(&str) -> Result<T, E>,
    ) -> Option<T> {
        let value = value?;
        let field = crate::text::field_path(self.path, name);
        if value.chars().any(char::is_control) {
            return self.errors.take(&field, Err(TextError::ControlCharacters));
        }
        match value.trim() {
            "" => None,
            trimmed => self.errors.take(&field, parse(trimmed)),
        }
    }

    /// `validated` if no field failed.
    pub(crate) fn finish<T>(self, validated: T) -> Option<T> {
        (self.errors.len() == self.errors_before).then_some(validated)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::FieldError;

    const PATH: &str = "paymentMethod.billingAddress";

    fn validate(input: BillingAddressInput) -> Result<BillingAddress, Vec<FieldError>> {
        let mut errors = FieldErrors::new();
        match input.validate(PATH, &mut errors) {
            Some(address) => {
                assert!(errors.is_empty());
                Ok(address)
            }
            None => {
                let all = errors.into_vec();
                assert!(!all.is_empty(), "None without an error");
                Err(all)
            }
        }
    }

    /// The single error for an input with one bad field, as (field name, code, message).
    fn only_error(input: BillingAddressInput) -> (String, &'static str, String) {
        let errs = validate(input).unwrap_err();
        assert_eq!(errs.len(), 1, "{errs:?}");
        let e = &errs[0];
        let name = e.field.strip_prefix(&format!("{PATH}.")).unwrap();
        (name.to_owned(), e.code, e.message.clone())
    }

    fn s(v: &str) -> Option<String> {
        Some(v.to_owned())
    }

    fn chars(n: usize) -> String {
        // 'é' is 2 bytes, so byte counts would reject values at the character limit.
        "é".repeat(n)
    }

    fn full_input() -> BillingAddressInput {
        BillingAddressInput {
            address_id: s("addr_123"),
            address_line1: s("1 Main Street"),
            address_line2: s("Apt 4"),
            city: s("Springfield"),
            state: s("il"),
            postal_code: s("62701"),
            phone_number: s("+1 217 555 0100"),
            email: s("jane@example.com"),
            country: s("United States"),
        }
    }

    #[test]
    fn accepts_full_address() {
        let a = validate(full_input()).unwrap();
        assert_eq!(
            a,
            BillingAddress {
                address_id: s("addr_123"),
                address_line1: s("1 Main Street"),
                address_line2: s("Apt 4"),
                city: s("Springfield"),
                state: s("IL"),
                postal_code: s("62701"),
                phone_number: s("+1 217 555 0100"),
                email: s("jane@example.com"),
                country: Some(Country::parse_alpha2("US").unwrap()),
            }
        );
    }

    #[test]
    fn everything_is_optional() {
        let a = validate(BillingAddressInput::default()).unwrap();
        assert_eq!(a.address_line1, None);
        assert_eq!(a.country, None);
    }

    #[test]
    fn trims_and_treats_blank_as_absent() {
        let a = validate(BillingAddressInput {
            address_line1: s("  1 Main St  "),
            address_line2: s("   "),
            city: s(""),
            state: s(" ny "),
            country: s(" deu "),
            email: s("\u{a0}"),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(a.address_line1, s("1 Main St"));
        assert_eq!(a.address_line2, None);
        assert_eq!(a.city, None);
        assert_eq!(a.state, s("NY"));
        assert_eq!(a.country.map(|c| c.alpha2()), Some("DE"));
        assert_eq!(a.email, None);
    }

    #[test]
    fn trimming_happens_before_the_length_check() {
        let a = validate(BillingAddressInput {
            address_line1: s(&format!("  {}  ", chars(40))),
            city: s(" x "),
            ..Default::default()
        })
        .unwrap_err();
        assert_eq!(a.len(), 1);
        assert_eq!(a[0].field, format!("{PATH}.city"));
    }

    #[test]
    fn length_boundaries() {
        type Set = fn(&mut BillingAddressInput, Option<String>);
        // (field, setter, shortest accepted, longest accepted, message)
        let rules: [(&str, Set, usize, usize, &str); 8] = [
            (
                "addressId",
                |i, v| i.address_id = v,
                1,
                100,
                "must be at most 100 characters",
            ),
            (
                "addressLine1",
                |i, v| i.address_line1 = v,
                2,
                40,
                "must be 2 to 40 characters",
            ),
            (
                "addressLine2",
                |i, v| i.address_line2 = v,
                1,
                40,
                "must be at most 40 characters",
            ),
            (
                "city",
                |i, v| i.city = v,
                2,
                25,
                "must be 2 to 25 characters",
            ),
            (
                "postalCode",
                |i, v| i.postal_code = v,
                2,
                20,
                "must be 2 to 20 characters",
            ),
            (
                "phoneNumber",
                |i, v| i.phone_number = v,
                1,
                18,
                "must be at most 18 characters",
            ),
            (
                "email",
                |i, v| i.email = v,
                1,
                254,
                "must be at most 254 characters",
            ),
            (
                "state",
                |i, v| i.state = v,
                2,
                2,
                "must be exactly 2 characters",
            ),
        ];
        for (name, set, min, max, message) in rules {
            // State allows only ASCII letters and digits, so use those for every field.
            for (n, text) in [
                (min, "A".repeat(min)),
                (max, "A".repeat(max)),
                (max, chars(max)),
            ] {
                if name == "state" && text.contains('é') {
                    continue;
                }
                let mut input = BillingAddressInput::default();
                set(&mut input, Some(text.clone()));
                assert!(validate(input).is_ok(), "{name} with {n} chars");
            }
            for n in [min - 1, max + 1] {
                if n == 0 {
                    continue;
                }
                let mut input = BillingAddressInput::default();
                set(&mut input, Some("A".repeat(n)));
                assert_eq!(
                    only_error(input),
                    (name.to_owned(), "invalid_length", message.to_owned()),
                    "{name} with {n} chars"
                );
            }
        }
    }

    #[test]
    fn state_characters() {
        for (raw, want) in [("NY", "NY"), ("ny", "NY"), ("n1", "N1"), ("01", "01")] {
            let a = validate(BillingAddressInput {
                state: s(raw),
                ..Default::default()
            })
            .unwrap();
            assert_eq!(a.state.as_deref(), Some(want));
        }
        for raw in ["N-", "N.", "ÑY", "Ｎ1", "N_"] {
            let input = BillingAddressInput {
                state: s(raw),
                ..Default::default()
            };
            assert_eq!(
                only_error(input),
                (
                    "state".to_owned(),
                    "invalid_characters",
                    "must contain only letters and digits".to_owned()
                ),
                "{raw:?}"
            );
        }
        for raw in ["N Y", "NYC", "N"] {
            let input = BillingAddressInput {
                state: s(raw),
                ..Default::default()
            };
            assert_eq!(only_error(input).1, "invalid_length", "{raw:?}");
        }
    }

    #[test]
    fn control_characters_are_rejected_anywhere() {
        for raw in [
            "1 Main\u{0}St",
            "1 Main St\n",
            "\t1 Main St",
            "1 Main\u{7f}",
            "\u{85}Main",
            "\r",
        ] {
            let input = BillingAddressInput {
                address_line1: s(raw),
                ..Default::default()
            };
            assert_eq!(
                only_error(input),
                (
                    "addressLine1".to_owned(),
                    "invalid_characters",
                    "must not contain control characters".to_owned()
                ),
                "{raw:?}"
            );
        }
        let input = BillingAddressInput {
            country: s("U\u{0}S"),
            ..Default::default()
        };
        assert_eq!(only_error(input).1, "invalid_characters");
    }

    #[test]
    fn country_forms() {
        for (raw, want) in [
            ("US", "US"),
            ("gb", "GB"),
            ("FRA", "FR"),
            ("040", "AT"),
            ("Germany", "DE"),
            ("united kingdom", "GB"),
        ] {
            let a = validate(BillingAddressInput {
                country: s(raw),
                ..Default::default()
            })
            .unwrap();
            assert_eq!(a.country.map(|c| c.alpha2()), Some(want), "{raw}");
        }
        for raw in ["XX", "999", "Atlantis", "U S"] {
            let input = BillingAddressInput {
                country: s(raw),
                ..Default::default()
            };
            assert_eq!(
                only_error(input),
                (
                    "country".to_owned(),
                    "invalid_country",
                    "must be an ISO 3166-1 alpha-2, alpha-3 or numeric code, or a country name"
                        .to_owned()
                ),
                "{raw:?}"
            );
        }
    }

    #[test]
    fn email_has_no_format_rule() {
        let a = validate(BillingAddressInput {
            email: s("not an email"),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(a.email, s("not an email"));
    }

    #[test]
    fn reports_every_failing_field_in_order() {
        let input = BillingAddressInput {
            address_id: s(&"a".repeat(101)),
            address_line1: s("x"),
            address_line2: s("ok"),
            city: s("c\u{1}"),
            state: s("New York"),
            postal_code: s("1"),
            phone_number: s(&"1".repeat(19)),
            email: s(&"e".repeat(255)),
            country: s("Atlantis"),
        };
        let errs = validate(input).unwrap_err();
        let got: Vec<_> = errs.iter().map(|e| (e.field.as_str(), e.code)).collect();
        assert_eq!(
            got,
            [
                ("paymentMethod.billingAddress.addressId", "invalid_length"),
                (
                    "paymentMethod.billingAddress.addressLine1",
                    "invalid_length"
                ),
                ("paymentMethod.billingAddress.city", "invalid_characters"),
                ("paymentMethod.billingAddress.state", "invalid_length"),
                ("paymentMethod.billingAddress.postalCode", "invalid_length"),
                ("paymentMethod.billingAddress.phoneNumber", "invalid_length"),
                ("paymentMethod.billingAddress.email", "invalid_length"),
                ("paymentMethod.billingAddress.country", "invalid_country"),
            ]
        );
    }

    #[test]
    fn keeps_errors_already_collected() {
        let mut errors = FieldErrors::new();
        errors.add("amount", "invalid_amount", "bad");
        assert!(full_input().validate(PATH, &mut errors).is_some());
        assert!(BillingAddressInput {
            city: s("x"),
            ..Default::default()
        }
        .validate("", &mut errors)
        .is_none());
        let fields: Vec<_> = errors.into_vec().into_iter().map(|e| e.field).collect();
        assert_eq!(fields, ["amount", "city"]);
    }

    #[test]
    fn serde_shapes() {
        let input: BillingAddressInput = serde_json::from_value(serde_json::json!({
            "addressLine1": "1 Main St",
            "postalCode": "62701",
            "country": "USA"
        }))
        .unwrap();
        assert_eq!(input.postal_code, s("62701"));
        assert!(
            serde_json::from_value::<BillingAddressInput>(serde_json::json!({"zip": "62701"}))
                .is_err()
        );

        let a = validate(input).unwrap();
        let json = serde_json::to_value(&a).unwrap();
        assert_eq!(json["addressLine1"], "1 Main St");
        assert_eq!(json["country"], "US");
        assert_eq!(serde_json::from_value::<BillingAddress>(json).unwrap(), a);
    }
}
