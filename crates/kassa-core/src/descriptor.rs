//! The dynamic descriptor: what the payer's card statement shows for a payment made on
//! behalf of a sub-merchant. The limits are the product source document's.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::address::TextFields;
use crate::country::Country;
use crate::error::{FieldErrors, ValidationError};

/// A dynamic descriptor as received; [`DynamicDescriptorInput::validate`] is the only way to
/// a [`DynamicDescriptor`].
#[derive(Debug, Default, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(
    description = "What the payer's statement shows for a payment made on behalf of a \
    sub-merchant."
)]
pub struct DynamicDescriptorInput {
    #[schema(max_length = 15)]
    pub sub_merchant_id: Option<String>,
    /// At most 18 characters, or 22 in the `Prefix*Name` form.
    #[schema(max_length = 22)]
    pub sub_merchant_name: Option<String>,
    /// A phone number or an email address.
    #[schema(max_length = 22)]
    pub sub_merchant_phone: Option<String>,
    #[schema(max_length = 20)]
    pub city: Option<String>,
    /// ISO 3166-1 alpha-2.
    #[schema(min_length = 2, max_length = 2)]
    pub country_code: Option<String>,
}

/// A validated dynamic descriptor: values trimmed, blanks dropped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DynamicDescriptor {
    pub sub_merchant_id: Option<String>,
    pub sub_merchant_name: Option<String>,
    /// A phone number or an email address, so only its length is checked.
    pub sub_merchant_phone: Option<String>,
    pub city: Option<String>,
    pub country_code: Option<Country>,
}

impl DynamicDescriptorInput {
    /// Validates every field, recording each failure in `errors` under `{path}.{fieldName}`.
    /// Returns None if any field failed.
    pub fn validate(self, path: &str, errors: &mut FieldErrors) -> Option<DynamicDescriptor> {
        let mut f = TextFields::new(path, errors);
        let descriptor = DynamicDescriptor {
            sub_merchant_id: f.text("subMerchantId", self.sub_merchant_id, 1, 15),
            sub_merchant_name: f.parse("subMerchantName", self.sub_merchant_name, name),
            sub_merchant_phone: f.text("subMerchantPhone", self.sub_merchant_phone, 1, 22),
            city: f.text("city", self.city, 1, 20),
            country_code: f.parse("countryCode", self.country_code, Country::parse_alpha2),
        };
        f.finish(descriptor)
    }
}

const NAME_MAX_CHARS: usize = 18;
/// A payment facilitator's `Prefix*Name` gets more room, since the prefix names the facilitator.
const FACILITATOR_NAME_MAX_CHARS: usize = 22;

#[derive(Debug, Clone, Copy, thiserror::Error, PartialEq, Eq)]
enum NameError {
    #[error("must be at most {NAME_MAX_CHARS} characters, or {FACILITATOR_NAME_MAX_CHARS} in the Prefix*Name form")]
    TooLong,
    #[error("must be at most {FACILITATOR_NAME_MAX_CHARS} characters in the Prefix*Name form")]
    FacilitatorNameTooLong,
}

impl ValidationError for NameError {
    fn code(&self) -> &'static str {
        match self {
            NameError::TooLong | NameError::FacilitatorNameTooLong => "invalid_length",
        }
    }
}

/// `Prefix*Name`: a non-empty prefix, a `*`, then a non-empty name.
fn is_facilitator_name(s: &str) -> bool {
    s.split_once('*')
        .is_some_and(|(prefix, name)| !prefix.is_empty() && !name.is_empty())
}

fn name(s: &str) -> Result<String, NameError> {
    let (max, err) = if is_facilitator_name(s) {
        (
            FACILITATOR_NAME_MAX_CHARS,
            NameError::FacilitatorNameTooLong,
        )
    } else {
        (NAME_MAX_CHARS, NameError::TooLong)
    };
    if s.chars().count() <= max {
        Ok(s.to_owned())
    } else {
        Err(err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::FieldError;

    const PATH: &str = "dynamicDescriptor";

    fn validate(input: DynamicDescriptorInput) -> Result<DynamicDescriptor, Vec<FieldError>> {
        let mut errors = FieldErrors::new();
        match input.validate(PATH, &mut errors) {
            Some(d) => {
                assert!(errors.is_empty());
                Ok(d)
            }
            None => {
                let all = errors.into_vec();
                assert!(!all.is_empty(), "None without an error");
                Err(all)
            }
        }
    }

    /// The single error for an input with one bad field, as (field name, code, message).
    fn only_error(input: DynamicDescriptorInput) -> (String, &'static str, String) {
        let errs = validate(input).unwrap_err();
        assert_eq!(errs.len(), 1, "{errs:?}");
        let e = &errs[0];
        let name = e.field.strip_prefix(&format!("{PATH}.")).unwrap();
        (name.to_owned(), e.code, e.message.clone())
    }

    fn s(v: &str) -> Option<String> {
        Some(v.to_owned())
    }

    fn with_name(n: &str) -> DynamicDescriptorInput {
        DynamicDescriptorInput {
            sub_merchant_name: s(n),
            ..Default::default()
        }
    }

    #[test]
    fn accepts_full_descriptor() {
        let d = validate(DynamicDescriptorInput {
            sub_merchant_id: s(" SM-001 "),
            sub_merchant_name: s("KASSA*Corner Cafe"),
            sub_merchant_phone: s("support@cafe.example"),
            city: s("Vienna"),
            country_code: s("at"),
        })
        .unwrap();
        assert_eq!(
            d,
            DynamicDescriptor {
                sub_merchant_id: s("SM-001"),
                sub_merchant_name: s("KASSA*Corner Cafe"),
                sub_merchant_phone: s("support@cafe.example"),
                city: s("Vienna"),
                country_code: Some(Country::parse_alpha2("AT").unwrap()),
            }
        );
    }

    #[test]
    fn everything_is_optional_and_blank_is_absent() {
        let d = validate(DynamicDescriptorInput::default()).unwrap();
        assert_eq!(d.sub_merchant_name, None);
        let d = validate(DynamicDescriptorInput {
            sub_merchant_id: s(""),
            sub_merchant_name: s("   "),
            sub_merchant_phone: s("\u{3000}"),
            city: s(" "),
            country_code: s("  "),
        })
        .unwrap();
        assert_eq!(
            d,
            DynamicDescriptor {
                sub_merchant_id: None,
                sub_merchant_name: None,
                sub_merchant_phone: None,
                city: None,
                country_code: None,
            }
        );
    }

    #[test]
    fn length_boundaries() {
        type Set = fn(&mut DynamicDescriptorInput, Option<String>);
        let rules: [(&str, Set, usize, &str); 3] = [
            (
                "subMerchantId",
                |i, v| i.sub_merchant_id = v,
                15,
                "must be at most 15 characters",
            ),
            (
                "subMerchantPhone",
                |i, v| i.sub_merchant_phone = v,
                22,
                "must be at most 22 characters",
            ),
            (
                "city",
                |i, v| i.city = v,
                20,
                "must be at most 20 characters",
            ),
        ];
        for (name, set, max, message) in rules {
            // 'é' is 2 bytes, so byte counts would reject values at the character limit.
            for ok in ["x".to_owned(), "x".repeat(max), "é".repeat(max)] {
                let mut input = DynamicDescriptorInput::default();
                set(&mut input, Some(ok.clone()));
                assert!(validate(input).is_ok(), "{name}: {ok:?}");
            }
            let mut input = DynamicDescriptorInput::default();
            set(&mut input, Some("é".repeat(max + 1)));
            assert_eq!(
                only_error(input),
                (name.to_owned(), "invalid_length", message.to_owned())
            );
        }
    }

    #[test]
    fn plain_name_is_at_most_18() {
        for ok in [
            "A",
            &"N".repeat(18),
            &"é".repeat(18),
            &format!(" {} ", "N".repeat(18)),
        ] {
            assert_eq!(
                validate(with_name(ok))
                    .unwrap()
                    .sub_merchant_name
                    .as_deref(),
                Some(ok.trim())
            );
        }
        for bad in [
            "N".repeat(19),
            "é".repeat(19),
            // Not the Prefix*Name form, so the plain limit applies.
            format!("*{}", "N".repeat(18)),
            format!("{}*", "N".repeat(18)),
            format!("*{}*", "N".repeat(17)),
        ] {
            assert_eq!(
                only_error(with_name(&bad)),
                (
                    "subMerchantName".to_owned(),
                    "invalid_length",
                    "must be at most 18 characters, or 22 in the Prefix*Name form".to_owned()
                ),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn facilitator_name_is_at_most_22() {
        let at_limit = format!("KASSA*{}", "N".repeat(16));
        assert_eq!(at_limit.chars().count(), 22);
        for ok in [
            "A*B".to_owned(),
            at_limit.clone(),
            format!("É*{}", "é".repeat(20)),
            format!("AB*{}*C", "N".repeat(16)),
        ] {
            assert_eq!(
                validate(with_name(&ok)).unwrap().sub_merchant_name,
                Some(ok.clone())
            );
        }
        for bad in [format!("{at_limit}N"), format!("É*{}", "é".repeat(21))] {
            assert_eq!(
                only_error(with_name(&bad)),
                (
                    "subMerchantName".to_owned(),
                    "invalid_length",
                    "must be at most 22 characters in the Prefix*Name form".to_owned()
                ),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn facilitator_form() {
        assert!(is_facilitator_name("A*B"));
        assert!(is_facilitator_name("A**B"));
        assert!(is_facilitator_name("A B*C D"));
        assert!(!is_facilitator_name("*Name"));
        assert!(!is_facilitator_name("Name*"));
        assert!(!is_facilitator_name("*"));
        assert!(!is_facilitator_name("Name"));
    }

    #[test]
    fn control_characters_are_rejected() {
        for (input, field) in [
            (with_name("Cafe\u{0}"), "subMerchantName"),
            (with_name("Cafe\n"), "subMerchantName"),
            (
                DynamicDescriptorInput {
                    city: s("\tVienna"),
                    ..Default::default()
                },
                "city",
            ),
            (
                DynamicDescriptorInput {
                    country_code: s("A\u{7f}T"),
                    ..Default::default()
                },
                "countryCode",
            ),
        ] {
            assert_eq!(
                only_error(input),
                (
                    field.to_owned(),
                    "invalid_characters",
                    "must not contain control characters".to_owned()
                )
            );
        }
    }

    #[test]
    fn country_code_must_be_alpha2() {
        for (raw, want) in [("US", "US"), ("de", "DE"), (" fr ", "FR")] {
            let d = validate(DynamicDescriptorInput {
                country_code: s(raw),
                ..Default::default()
            })
            .unwrap();
            assert_eq!(d.country_code.map(|c| c.alpha2()), Some(want));
        }
        for raw in ["USA", "840", "United States", "XX", "U", "U S"] {
            let input = DynamicDescriptorInput {
                country_code: s(raw),
                ..Default::default()
            };
            assert_eq!(
                only_error(input),
                (
                    "countryCode".to_owned(),
                    "invalid_country",
                    "must be a 2-letter ISO 3166-1 alpha-2 country code".to_owned()
                ),
                "{raw:?}"
            );
        }
    }

    #[test]
    fn reports_every_failing_field() {
        let errs = validate(DynamicDescriptorInput {
            sub_merchant_id: s(&"1".repeat(16)),
            sub_merchant_name: s(&"N".repeat(19)),
            sub_merchant_phone: s(&"5".repeat(23)),
            city: s(&"C".repeat(21)),
            country_code: s("USA"),
        })
        .unwrap_err();
        let got: Vec<_> = errs.iter().map(|e| (e.field.as_str(), e.code)).collect();
        assert_eq!(
            got,
            [
                ("dynamicDescriptor.subMerchantId", "invalid_length"),
                ("dynamicDescriptor.subMerchantName", "invalid_length"),
                ("dynamicDescriptor.subMerchantPhone", "invalid_length"),
                ("dynamicDescriptor.city", "invalid_length"),
                ("dynamicDescriptor.countryCode", "invalid_country"),
            ]
        );
    }

    #[test]
    fn serde_shapes() {
        let input: DynamicDescriptorInput = serde_json::from_value(serde_json::json!({
            "subMerchantId": "SM1",
            "subMerchantName": "KASSA*Cafe",
            "countryCode": "us"
        }))
        .unwrap();
        assert!(serde_json::from_value::<DynamicDescriptorInput>(
            serde_json::json!({"merchantName": "x"})
        )
        .is_err());

        let d = validate(input).unwrap();
        let json = serde_json::to_value(&d).unwrap();
        assert_eq!(json["subMerchantName"], "KASSA*Cafe");
        assert_eq!(json["countryCode"], "US");
        assert_eq!(
            serde_json::from_value::<DynamicDescriptor>(json).unwrap(),
            d
        );
    }
}
