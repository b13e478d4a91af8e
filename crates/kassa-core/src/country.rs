//! ISO 3166-1 countries, backed by the `celes` tables. Stored and serialized as the alpha-2 code.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::ValidationError;

/// An assigned ISO 3166-1 country, identified by its alpha-2 code ("US").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Country {
    alpha2: &'static str,
    name: &'static str,
}

#[derive(Debug, Clone, Copy, thiserror::Error, PartialEq, Eq)]
pub enum CountryError {
    #[error("must be an ISO 3166-1 alpha-2, alpha-3 or numeric code, or a country name")]
    Unknown,
    #[error("must be a 2-letter ISO 3166-1 alpha-2 country code")]
    NotAlpha2,
}

impl ValidationError for CountryError {
    fn code(&self) -> &'static str {
        match self {
            CountryError::Unknown | CountryError::NotAlpha2 => "invalid_country",
        }
    }
}

/// celes includes Kosovo's "XK", a user-assigned code that ISO 3166-1 has not assigned.
const NOT_ISO_3166_1: &str = "XK";

impl Country {
    /// Any of: alpha-2 ("US"), alpha-3 ("USA"), numeric ("840"; "40" and "040" are both
    /// Austria), or an English name or common alias ("United States", "Germany").
    /// Case-insensitive; surrounding whitespace is ignored.
    pub fn parse(s: &str) -> Result<Country, CountryError> {
        lookup(s.trim())
            .and_then(Country::from_celes)
            .ok_or(CountryError::Unknown)
    }

    /// Exactly two ASCII letters naming an assigned code; case-insensitive, stored uppercase.
    pub fn parse_alpha2(s: &str) -> Result<Country, CountryError> {
        if s.len() != 2 || !s.bytes().all(|b| b.is_ascii_alphabetic()) {
            return Err(CountryError::NotAlpha2);
        }
        celes::Country::from_alpha2(s)
            .ok()
            .and_then(Country::from_celes)
            .ok_or(CountryError::NotAlpha2)
    }

    fn from_celes(c: celes::Country) -> Option<Country> {
        (c.alpha2 != NOT_ISO_3166_1).then_some(Country {
            alpha2: c.alpha2,
            name: c.long_name,
        })
    }

    /// The uppercase alpha-2 code, e.g. "US".
    pub fn alpha2(&self) -> &'static str {
        self.alpha2
    }

    /// celes's English name, e.g. "Germany" or "The United States Of America".
    pub fn name(&self) -> &'static str {
        self.name
    }
}

/// The celes entry for `s`, which is already trimmed; codes are tried before names so that a
/// short name can never shadow a code.
fn lookup(s: &str) -> Option<celes::Country> {
    if s.is_empty() || s.chars().any(char::is_control) {
        return None;
    }
    let is_alpha = s.bytes().all(|b| b.is_ascii_alphabetic());
    if s.bytes().all(|b| b.is_ascii_digit()) {
        // Checked above, so `parse` never sees a sign; over 3 digits is never a code.
        return match s.len() {
            1..=3 => celes::Country::from_value(s.parse().ok()?).ok(),
            _ => None,
        };
    }
    if is_alpha && s.len() == 2 {
        return celes::Country::from_alpha2(s).ok();
    }
    if is_alpha && s.len() == 3 {
        if let Ok(c) = celes::Country::from_alpha3(s) {
            return Some(c);
        }
    }
    // celes keys names with spaces and punctuation removed: "Guinea-Bissau" → "guineabissau".
    let key: String = s
        .chars()
        .filter(|c| !c.is_whitespace() && !matches!(c, '-' | '\'' | '.'))
        .collect();
    celes::Country::from_name(&key)
        .or_else(|_| celes::Country::from_alias(&key))
        .ok()
}

impl fmt::Display for Country {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.alpha2)
    }
}

impl Serialize for Country {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.alpha2)
    }
}

impl utoipa::PartialSchema for Country {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::Type::String)
            .description(Some("ISO 3166-1 alpha-2 country code."))
            .pattern(Some("^[A-Z]{2}$"))
            .examples(["US"])
            .into()
    }
}

impl utoipa::ToSchema for Country {}

impl<'de> Deserialize<'de> for Country {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        Country::parse_alpha2(&s)
            .map_err(|_| serde::de::Error::custom(format!("unknown country code {s:?}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn alpha2_of(s: &str) -> Result<&'static str, CountryError> {
        Country::parse(s).map(|c| c.alpha2())
    }

    #[test]
    fn parse_accepts_every_form() {
        let cases = [
            ("US", "US"),
            ("us", "US"),
            ("USA", "US"),
            ("usa", "US"),
            ("840", "US"),
            ("United States", "US"),
            ("united states of america", "US"),
            ("The United States of America", "US"),
            ("America", "US"),
            ("  US\t", "US"),
            ("GB", "GB"),
            ("GBR", "GB"),
            ("826", "GB"),
            ("United Kingdom", "GB"),
            ("great britain", "GB"),
            ("DE", "DE"),
            ("deu", "DE"),
            ("276", "DE"),
            ("Germany", "DE"),
            ("GERMANY", "DE"),
            ("AT", "AT"),
            ("AUT", "AT"),
            ("040", "AT"),
            ("40", "AT"),
            ("Austria", "AT"),
            ("FR", "FR"),
            ("FRA", "FR"),
            ("250", "FR"),
            (" France ", "FR"),
            ("4", "AF"),
            ("004", "AF"),
            ("Guinea-Bissau", "GW"),
            ("Timor-Leste", "TL"),
            ("Cote d'Ivoire", "CI"),
            ("St. Lucia", "LC"),
            ("New  Zealand", "NZ"),
        ];
        for (input, want) in cases {
            assert_eq!(alpha2_of(input), Ok(want), "{input:?}");
        }
    }

    #[test]
    fn parse_rejects_junk() {
        for bad in [
            "",
            "   ",
            "XX",
            "ZZ",
            "ZZZ",
            "999",
            "0",
            "000",
            "0040",
            "+40",
            "-40",
            "840.0",
            "８４０",
            "٨٤٠",
            "Atlantis",
            "U S",
            "U.S.",
            "US A",
            "U-S",
            "Ger\u{0}many",
            "Germany\u{7f}",
            "Ge rmany\u{1b}",
            "united_states",
            "ＵＳ",
            "Ü",
            "USAA",
            "aland_islands",
        ] {
            assert_eq!(Country::parse(bad), Err(CountryError::Unknown), "{bad:?}");
        }
    }

    #[test]
    fn kosovo_is_not_iso_3166_1() {
        for s in ["XK", "XKX", "383", "Kosovo"] {
            assert_eq!(Country::parse(s), Err(CountryError::Unknown), "{s}");
        }
        assert_eq!(Country::parse_alpha2("XK"), Err(CountryError::NotAlpha2));
    }

    #[test]
    fn every_assigned_code_round_trips_through_each_form() {
        let iso: Vec<_> = celes::Country::get_countries()
            .into_iter()
            .filter(|c| c.alpha2 != NOT_ISO_3166_1)
            .collect();
        assert_eq!(iso.len(), 249);
        for c in iso {
            for form in [c.alpha2, c.alpha3, c.code, c.long_name] {
                assert_eq!(alpha2_of(form), Ok(c.alpha2), "{form:?}");
            }
            let lower = c.alpha2.to_ascii_lowercase();
            let country = Country::parse_alpha2(&lower).unwrap();
            assert_eq!(country.alpha2(), c.alpha2);
            assert_eq!(country.name(), c.long_name);
        }
    }

    #[test]
    fn parse_alpha2_is_strict() {
        assert_eq!(Country::parse_alpha2("us").unwrap().alpha2(), "US");
        assert_eq!(Country::parse_alpha2("De").unwrap().alpha2(), "DE");
        for bad in [
            "",
            "U",
            "USA",
            "840",
            "40",
            "XX",
            "ZZ",
            " US",
            "US ",
            "U1",
            "ＵＳ",
            "Ü",
            "United States",
        ] {
            assert_eq!(
                Country::parse_alpha2(bad),
                Err(CountryError::NotAlpha2),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn codes_and_messages() {
        assert_eq!(CountryError::Unknown.code(), "invalid_country");
        assert_eq!(CountryError::NotAlpha2.code(), "invalid_country");
        assert_eq!(
            CountryError::Unknown.message(),
            "must be an ISO 3166-1 alpha-2, alpha-3 or numeric code, or a country name"
        );
        assert_eq!(
            CountryError::NotAlpha2.message(),
            "must be a 2-letter ISO 3166-1 alpha-2 country code"
        );
    }

    #[test]
    fn names_and_display() {
        let de = Country::parse("DE").unwrap();
        assert_eq!(de.name(), "Germany");
        assert_eq!(de.to_string(), "DE");
        assert_eq!(
            Country::parse("US").unwrap().name(),
            "The United States Of America"
        );
    }

    #[test]
    fn serde_uses_alpha2() {
        let us = Country::parse("united states").unwrap();
        assert_eq!(serde_json::to_string(&us).unwrap(), "\"US\"");
        assert_eq!(serde_json::from_str::<Country>("\"US\"").unwrap(), us);
        assert_eq!(serde_json::from_str::<Country>("\"us\"").unwrap(), us);
        for bad in ["\"USA\"", "\"840\"", "\"XX\"", "\"\"", "840", "null"] {
            assert!(serde_json::from_str::<Country>(bad).is_err(), "{bad}");
        }
    }

    proptest! {
        #[test]
        fn parse_never_panics(s in any::<String>()) {
            let _ = Country::parse(&s);
            let _ = Country::parse_alpha2(&s);
        }

        #[test]
        fn parsed_codes_round_trip_through_alpha2(s in "[0-9A-Za-z +\\-.' ]{0,8}") {
            if let Ok(c) = Country::parse(&s) {
                prop_assert_eq!(Country::parse_alpha2(c.alpha2()), Ok(c));
            }
        }
    }
}
