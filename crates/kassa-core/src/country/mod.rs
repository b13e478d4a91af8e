//! ISO 3166-1 countries: the codes and the names people type for them, read from the vendored
//! iso-codes list (see `data/README.md`). Stored and serialized as the alpha-2 code.

mod aliases;
mod fold;
mod table;

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::ValidationError;
use table::{Named, Record, TABLE};

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
    #[error("names more than one country; give its ISO 3166-1 code or full name")]
    Ambiguous,
    #[error("must be a 2-letter ISO 3166-1 alpha-2 country code")]
    NotAlpha2,
}

impl ValidationError for CountryError {
    fn code(&self) -> &'static str {
        match self {
            CountryError::Unknown | CountryError::Ambiguous | CountryError::NotAlpha2 => {
                "invalid_country"
            }
        }
    }
}

/// Longer than any country's name with room to spare ("United Kingdom of Great Britain and
/// Northern Ireland" is 52 bytes); anything longer is refused before it is folded.
const MAX_INPUT_BYTES: usize = 128;

impl Country {
    /// Any of: alpha-2 ("US"), alpha-3 ("USA"), numeric ("840"; "40" and "040" are both
    /// Austria), or an English name: short ("Austria"), official ("Republic of Austria"),
    /// common ("South Korea"), "Name, Qualifier" either way round ("Korea, Republic of",
    /// "Republic of Korea"), or an alias ("Great Britain", "Holland"). Names match without
    /// regard to case, accents, spacing and punctuation ("cote divoire" is Côte d'Ivoire);
    /// surrounding whitespace is ignored. Kosovo's "XK" is not ISO 3166-1 and is refused.
    pub fn parse(s: &str) -> Result<Country, CountryError> {
        let s = s.trim();
        if s.is_empty() || s.len() > MAX_INPUT_BYTES || s.chars().any(char::is_control) {
            return Err(CountryError::Unknown);
        }
        let table = &*TABLE;
        if s.bytes().all(|b| b.is_ascii_digit()) {
            // Over 3 digits is never a code; checked above, so `parse` never sees a sign.
            return match s.len() {
                1..=3 => s.parse().ok().and_then(|n| table.by_numeric(n)),
                _ => None,
            }
            .map(Country::from_record)
            .ok_or(CountryError::Unknown);
        }
        // Codes are tried before names so that a name can never shadow a code; a 2- or 3-letter
        // word that is no code may still be a name ("UK", "DRC").
        let code = match s.len() {
            2 => table.by_alpha2(s),
            3 => table.by_alpha3(s),
            _ => None,
        };
        if let Some(r) = code.filter(|_| s.bytes().all(|b| b.is_ascii_alphabetic())) {
            return Ok(Country::from_record(r));
        }
        match fold::fold(s).and_then(|key| table.by_name(&key)) {
            Some(Named::One(r)) => Ok(Country::from_record(r)),
            Some(Named::Several) => Err(CountryError::Ambiguous),
            None => Err(CountryError::Unknown),
        }
    }

    /// Exactly two ASCII letters naming an assigned code; case-insensitive, stored uppercase.
    pub fn parse_alpha2(s: &str) -> Result<Country, CountryError> {
        if s.len() != 2 || !s.bytes().all(|b| b.is_ascii_alphabetic()) {
            return Err(CountryError::NotAlpha2);
        }
        TABLE
            .by_alpha2(s)
            .map(Country::from_record)
            .ok_or(CountryError::NotAlpha2)
    }

    fn from_record(r: &'static Record) -> Country {
        Country {
            alpha2: &r.alpha_2,
            name: &r.name,
        }
    }

    /// The uppercase alpha-2 code, e.g. "US".
    pub fn alpha2(&self) -> &'static str {
        self.alpha2
    }

    /// The ISO 3166-1 short name, e.g. "Germany", "United States" or "Korea, Republic of".
    pub fn name(&self) -> &'static str {
        self.name
    }
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
mod iso_list_tests;

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
            ("UK", "GB"),
            ("U.K.", "GB"),
            ("United Kingdom of Great Britain and Northern Ireland", "GB"),
            ("DE", "DE"),
            ("deu", "DE"),
            ("276", "DE"),
            ("Germany", "DE"),
            ("GERMANY", "DE"),
            ("Federal Republic of Germany", "DE"),
            ("AT", "AT"),
            ("AUT", "AT"),
            ("040", "AT"),
            ("40", "AT"),
            ("Austria", "AT"),
            ("Republic of Austria", "AT"),
            ("republic of austria", "AT"),
            ("FR", "FR"),
            ("FRA", "FR"),
            ("250", "FR"),
            (" France ", "FR"),
            ("4", "AF"),
            ("004", "AF"),
            ("Guinea-Bissau", "GW"),
            ("Guinea Bissau", "GW"),
            ("Timor-Leste", "TL"),
            ("East Timor", "TL"),
            ("Côte d'Ivoire", "CI"),
            ("Cote d'Ivoire", "CI"),
            ("Cote dIvoire", "CI"),
            ("COTE D’IVOIRE", "CI"),
            ("Ivory Coast", "CI"),
            ("Curaçao", "CW"),
            ("curacao", "CW"),
            ("Cocos (Keeling) Islands", "CC"),
            ("Cocos Keeling Islands", "CC"),
            ("Cocos Islands", "CC"),
            ("Korea, Republic of", "KR"),
            ("Republic of Korea", "KR"),
            ("South Korea", "KR"),
            ("Korea, Democratic People's Republic of", "KP"),
            ("Democratic People’s Republic of Korea", "KP"),
            ("North Korea", "KP"),
            ("Bolivia, Plurinational State of", "BO"),
            ("Plurinational State of Bolivia", "BO"),
            ("Bolivia", "BO"),
            ("Congo", "CG"),
            ("Republic of the Congo", "CG"),
            ("Congo, The Democratic Republic of the", "CD"),
            ("Democratic Republic of the Congo", "CD"),
            ("DRC", "CD"),
            ("Virgin Islands, British", "VG"),
            ("British Virgin Islands", "VG"),
            ("Virgin Islands, U.S.", "VI"),
            ("U.S. Virgin Islands", "VI"),
            ("Holy See (Vatican City State)", "VA"),
            ("Holy See", "VA"),
            ("Vatican City", "VA"),
            ("Saint Martin (French part)", "MF"),
            ("Saint Martin", "MF"),
            ("Sint Maarten", "SX"),
            ("Türkiye", "TR"),
            ("Turkiye", "TR"),
            ("Turkey", "TR"),
            ("The Gambia", "GM"),
            ("St. Lucia", "LC"),
            ("St Kitts & Nevis", "KN"),
            ("Trinidad and Tobago", "TT"),
            ("Trinidad & Tobago", "TT"),
            ("Viet Nam", "VN"),
            ("Vietnam", "VN"),
            ("Åland Islands", "AX"),
            ("Aland Islands", "AX"),
            ("Réunion", "RE"),
            ("New  Zealand", "NZ"),
            ("Holland", "NL"),
            ("Russia", "RU"),
            ("Czech Republic", "CZ"),
            ("Eswatini", "SZ"),
            ("Swaziland", "SZ"),
            ("Samoa", "WS"),
            ("Taiwan", "TW"),
        ];
        for (input, want) in cases {
            assert_eq!(alpha2_of(input), Ok(want), "{input:?}");
        }
    }

    #[test]
    fn parse_rejects_junk() {
        let long_name = "Germany".repeat(1500);
        let long_spaced = format!("United {}Kingdom", " ".repeat(10_000));
        let long_digits = "4".repeat(10_000);
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
            "Ger\nmany",
            "Germany\u{85}x",
            "united_states",
            "ＵＳ",
            "Ü",
            "USAA",
            "aland_islands",
            "Germany!",
            "Germany; DROP TABLE countries",
            "<b>France</b>",
            "France Germany",
            "The",
            "Republic of",
            "Islands",
            // Assigned to nothing, reserved or withdrawn.
            "AA",
            "QZ",
            "XA",
            "EU",
            "AAA",
            "EUR",
            "001",
            "900",
            "YU",
            "YUG",
            "891",
            long_name.as_str(),
            long_spaced.as_str(),
            long_digits.as_str(),
        ] {
            assert_eq!(
                Country::parse(bad),
                Err(CountryError::Unknown),
                "{:?}",
                bad.chars().take(40).collect::<String>()
            );
        }
    }

    #[test]
    fn a_name_that_fits_several_countries_is_refused_clearly() {
        for s in [
            "Korea",
            "KOREA",
            "korea ",
            "Virgin Islands",
            "virgin islands",
        ] {
            let err = Country::parse(s).unwrap_err();
            assert_eq!(err, CountryError::Ambiguous, "{s:?}");
            assert_eq!(err.code(), "invalid_country");
        }
        // The full names, common names and codes stay unambiguous.
        assert_eq!(alpha2_of("Korea, Republic of"), Ok("KR"));
        assert_eq!(alpha2_of("KOR"), Ok("KR"));
        assert_eq!(
            alpha2_of("Korea, Democratic People's Republic of"),
            Ok("KP")
        );
        assert_eq!(alpha2_of("Virgin Islands of the United States"), Ok("VI"));
    }

    #[test]
    fn kosovo_is_not_iso_3166_1() {
        for s in ["XK", "XKX", "383", "Kosovo", "Republic of Kosovo"] {
            assert_eq!(Country::parse(s), Err(CountryError::Unknown), "{s}");
        }
        assert_eq!(Country::parse_alpha2("XK"), Err(CountryError::NotAlpha2));
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
            "UK",
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
        for e in [
            CountryError::Unknown,
            CountryError::Ambiguous,
            CountryError::NotAlpha2,
        ] {
            assert_eq!(e.code(), "invalid_country");
        }
        assert_eq!(
            CountryError::Unknown.message(),
            "must be an ISO 3166-1 alpha-2, alpha-3 or numeric code, or a country name"
        );
        assert_eq!(
            CountryError::Ambiguous.message(),
            "names more than one country; give its ISO 3166-1 code or full name"
        );
        assert_eq!(
            CountryError::NotAlpha2.message(),
            "must be a 2-letter ISO 3166-1 alpha-2 country code"
        );
    }

    #[test]
    fn names_are_the_iso_short_names() {
        let de = Country::parse("DE").unwrap();
        assert_eq!(de.name(), "Germany");
        assert_eq!(de.to_string(), "DE");
        assert_eq!(Country::parse("USA").unwrap().name(), "United States");
        assert_eq!(Country::parse("CIV").unwrap().name(), "Côte d'Ivoire");
        assert_eq!(
            Country::parse("south korea").unwrap().name(),
            "Korea, Republic of"
        );
    }

    #[test]
    fn serde_uses_alpha2() {
        let us = Country::parse("united states").unwrap();
        assert_eq!(serde_json::to_string(&us).unwrap(), "\"US\"");
        assert_eq!(serde_json::from_str::<Country>("\"US\"").unwrap(), us);
        assert_eq!(serde_json::from_str::<Country>("\"us\"").unwrap(), us);
        for bad in [
            "\"USA\"", "\"840\"", "\"XX\"", "\"UK\"", "\"\"", "840", "null",
        ] {
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
        fn parsed_codes_round_trip_through_alpha2(s in "[0-9A-Za-z +\\-.'’,()&é ]{0,12}") {
            if let Ok(c) = Country::parse(&s) {
                prop_assert_eq!(Country::parse_alpha2(c.alpha2()), Ok(c));
            }
        }

        #[test]
        fn case_and_surrounding_space_never_change_the_answer(
            s in "[A-Za-zçé' ,.()-]{1,30}",
            pad in "[ \t]{0,3}",
        ) {
            let upper = format!("{pad}{}{pad}", s.to_uppercase());
            prop_assert_eq!(Country::parse(&s), Country::parse(&upper));
        }
    }
}
