//! Tests over the whole ISO 3166-1 list. The vendored file is read here on its own, as plain JSON
//! values rather than through the table, and every code and every name of each of its 249
//! entries must parse to that entry, however it is cased, accented, spaced or punctuated. Also:
//! no name names two countries, and Kassa's aliases fit the list.

use std::collections::{BTreeSet, HashSet};

use serde_json::Value;

use super::aliases::ALIASES;
use super::table::{self, ISO_3166_1_JSON};
use super::{Country, CountryError, MAX_INPUT_BYTES};

struct Entry {
    alpha2: String,
    alpha3: String,
    numeric: String,
    name: String,
    /// `name`, then `official_name` and `common_name` where the entry has them.
    names: Vec<String>,
}

fn entries() -> Vec<Entry> {
    let doc: Value = serde_json::from_str(ISO_3166_1_JSON).expect("the vendored file is JSON");
    let list = doc["3166-1"].as_array().expect("a \"3166-1\" array");
    list.iter()
        .map(|e| {
            let field = |key: &str| e[key].as_str().map(str::to_owned);
            let name = field("name").expect("every entry has a name");
            let names = std::iter::once(name.clone())
                .chain(field("official_name"))
                .chain(field("common_name"))
                .collect();
            Entry {
                alpha2: field("alpha_2").expect("alpha_2"),
                alpha3: field("alpha_3").expect("alpha_3"),
                numeric: field("numeric").expect("numeric"),
                name,
                names,
            }
        })
        .collect()
}

#[track_caller]
fn parses_to(input: &str, alpha2: &str) {
    assert_eq!(
        Country::parse(input).map(|c| c.alpha2()),
        Ok(alpha2),
        "{input:?}"
    );
}

/// The data's own accented letters, spelled without accents. Any other non-ASCII letter in a
/// future release fails here, so that this test is extended rather than silently skipping it.
fn without_accents(name: &str) -> String {
    name.chars()
        .map(|c| match c {
            'Å' => 'A',
            'ç' => 'c',
            'é' => 'e',
            'ô' => 'o',
            'ü' => 'u',
            c if c.is_ascii() => c,
            c => panic!("{name:?}: teach without_accents about {c:?}"),
        })
        .collect()
}

/// The ways people type `name` that must all match it.
fn spellings(name: &str) -> Vec<String> {
    let plain = without_accents(name);
    let mut all = vec![
        name.to_owned(),
        name.to_uppercase(),
        name.to_lowercase(),
        plain.clone(),
        plain.to_uppercase(),
        plain.to_lowercase(),
        // Punctuation left out: "Cote dIvoire", "Guinea Bissau", "Korea Republic of".
        plain
            .replace(['\'', ',', '.', '(', ')'], "")
            .replace('-', " "),
        name.replace(['\'', '-', ',', '.', '(', ')'], ""),
        // Typographic apostrophes and dashes, odd spacing.
        name.replace('\'', "\u{2019}").replace('-', "\u{2013}"),
        name.replace(' ', "  ").replace(", ", " , "),
        format!("\t {name} \n"),
    ];
    if let Some((head, qualifier)) = name.split_once(", ") {
        all.push(format!("{qualifier} {head}"));
        all.push(format!("{qualifier} {head}").to_uppercase());
    }
    all
}

#[test]
fn the_vendored_list_is_whole_and_well_formed() {
    let entries = entries();
    assert_eq!(entries.len(), 249);
    let mut seen = HashSet::new();
    for e in &entries {
        assert!(e.alpha2.len() == 2 && e.alpha2.bytes().all(|b| b.is_ascii_uppercase()));
        assert!(e.alpha3.len() == 3 && e.alpha3.bytes().all(|b| b.is_ascii_uppercase()));
        assert!(e.numeric.len() == 3 && e.numeric.bytes().all(|b| b.is_ascii_digit()));
        for code in [&e.alpha2, &e.alpha3, &e.numeric] {
            assert!(seen.insert(code.clone()), "{code} twice");
        }
    }
    assert!(!seen.contains("XK"), "Kosovo is not ISO 3166-1");
    // The table reads the same entries.
    let records = table::records(ISO_3166_1_JSON).unwrap();
    assert_eq!(records.len(), entries.len());
}

#[test]
fn every_code_parses_in_any_case() {
    for e in entries() {
        let unpadded = e.numeric.trim_start_matches('0');
        for code in [
            e.alpha2.clone(),
            e.alpha2.to_lowercase(),
            e.alpha3.clone(),
            e.alpha3.to_lowercase(),
            e.numeric.clone(),
            unpadded.to_owned(),
            format!(" {} ", e.alpha3),
        ] {
            parses_to(&code, &e.alpha2);
        }
        let strict = Country::parse_alpha2(&e.alpha2.to_lowercase()).unwrap();
        assert_eq!(strict.alpha2(), e.alpha2);
        assert_eq!(strict.name(), e.name, "name() is the ISO short name");
        assert_eq!(Country::parse(&e.alpha3).unwrap(), strict);
        // Codes are tried before names, and a code is only ever a whole code.
        assert_eq!(
            Country::parse(&format!("{}{}", e.alpha2, e.alpha2)).ok(),
            None,
            "{}{}",
            e.alpha2,
            e.alpha2
        );
    }
}

#[test]
fn every_name_parses_however_it_is_written() {
    for e in entries() {
        for name in &e.names {
            assert!(name.len() <= MAX_INPUT_BYTES, "{name:?} is over the limit");
            for spelling in spellings(name) {
                parses_to(&spelling, &e.alpha2);
            }
        }
    }
}

#[test]
fn no_name_names_two_countries() {
    let records = table::records(ISO_3166_1_JSON).unwrap();
    let full = table::primary_names(&records, ALIASES);
    let clashes: Vec<_> = full
        .iter()
        .filter(|(_, countries)| countries.len() != 1)
        .collect();
    assert!(clashes.is_empty(), "{clashes:?}");
    assert!(full.len() > 400, "{} names", full.len());

    // A shortened name that fits several countries is refused as ambiguous; one that is another
    // country's full name is that country's. A new release that adds to either is seen here.
    let shortened = table::shortened_names(&records);
    let ambiguous: BTreeSet<&str> = shortened
        .iter()
        .filter(|(key, countries)| countries.len() > 1 && !full.contains_key(*key))
        .map(|(key, _)| key.as_str())
        .collect();
    assert_eq!(ambiguous, BTreeSet::from(["korea", "virginislands"]));
    let shadowed: BTreeSet<&str> = shortened
        .iter()
        .filter(|(key, countries)| full.get(*key).is_some_and(|f| f != *countries))
        .map(|(key, _)| key.as_str())
        .collect();
    assert_eq!(shadowed, BTreeSet::from(["congo"]));
    parses_to("Congo", "CG");
    for key in ambiguous {
        assert_eq!(Country::parse(key), Err(CountryError::Ambiguous), "{key}");
    }
}

#[test]
fn every_alias_names_its_country_and_is_no_code() {
    let entries = entries();
    let codes: HashSet<&str> = entries
        .iter()
        .flat_map(|e| [e.alpha2.as_str(), e.alpha3.as_str()])
        .collect();
    let mut listed = HashSet::new();
    for (alpha2, names) in ALIASES {
        assert!(codes.contains(alpha2), "alias for unknown {alpha2}");
        assert!(listed.insert(*alpha2), "{alpha2} listed twice");
        for name in *names {
            assert!(name.len() <= MAX_INPUT_BYTES, "{name:?}");
            // A code would be read as a code first and the alias never reached.
            assert!(!codes.contains(name.to_uppercase().as_str()), "{name}");
            for spelling in [
                name.to_string(),
                name.to_uppercase(),
                name.to_lowercase(),
                format!(" {name} "),
            ] {
                parses_to(&spelling, alpha2);
            }
        }
    }
}
