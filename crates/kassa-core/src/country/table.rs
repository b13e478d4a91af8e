//! The ISO 3166-1 table: the vendored iso-codes list (`data/iso_3166-1.json`, see
//! `data/README.md`) and Kassa's aliases, read once at first use into indexes by code and by
//! folded name. Built from data without a build script; nothing here touches the network or disk.

use std::collections::{BTreeSet, HashMap};
use std::sync::LazyLock;

use serde::Deserialize;

use super::aliases::ALIASES;
use super::fold::fold;

/// The iso-codes 4.15.0 list, verbatim.
pub(super) const ISO_3166_1_JSON: &str = include_str!("../../data/iso_3166-1.json");

/// One country of the iso-codes list. Every name is English; `name` is the short name.
#[derive(Debug, PartialEq, Eq, Deserialize)]
pub(super) struct Record {
    pub(super) alpha_2: String,
    pub(super) alpha_3: String,
    pub(super) numeric: String,
    pub(super) name: String,
    pub(super) official_name: Option<String>,
    pub(super) common_name: Option<String>,
}

#[derive(Deserialize)]
struct IsoCodesFile {
    #[serde(rename = "3166-1")]
    countries: Vec<Record>,
}

/// The records of an iso-codes `iso_3166-1.json` document.
pub(super) fn records(json: &str) -> Result<Vec<Record>, serde_json::Error> {
    serde_json::from_str::<IsoCodesFile>(json).map(|f| f.countries)
}

/// The table every `Country` points into.
pub(super) static TABLE: LazyLock<Table> = LazyLock::new(|| {
    let records = records(ISO_3166_1_JSON)
        .expect("data/iso_3166-1.json is an iso-codes ISO 3166-1 list (checked by its tests)");
    Table::new(records, ALIASES)
});

/// What a folded name names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Named<'a> {
    One(&'a Record),
    /// A shortened name that fits more than one country ("Korea", "Virgin Islands").
    Several,
}

pub(super) struct Table {
    records: Vec<Record>,
    alpha2: HashMap<[u8; 2], usize>,
    alpha3: HashMap<[u8; 3], usize>,
    numeric: HashMap<u16, usize>,
    /// Folded name → the indexes of the countries it names (several only for shortened names).
    names: HashMap<String, BTreeSet<usize>>,
}

impl Table {
    pub(super) fn new(records: Vec<Record>, aliases: &[(&str, &[&str])]) -> Table {
        let mut alpha2 = HashMap::new();
        let mut alpha3 = HashMap::new();
        let mut numeric = HashMap::new();
        for (i, r) in records.iter().enumerate() {
            if let Ok(code) = <[u8; 2]>::try_from(r.alpha_2.as_bytes()) {
                alpha2.insert(code, i);
            }
            if let Ok(code) = <[u8; 3]>::try_from(r.alpha_3.as_bytes()) {
                alpha3.insert(code, i);
            }
            if let Ok(n) = r.numeric.parse::<u16>() {
                numeric.insert(n, i);
            }
        }
        let mut names = primary_names(&records, aliases);
        // A shortened name never shadows a full one: "Congo" is the Republic of the Congo's own
        // name, not the Democratic Republic's shortened one.
        for (key, countries) in shortened_names(&records) {
            names.entry(key).or_insert(countries);
        }
        Table {
            records,
            alpha2,
            alpha3,
            numeric,
            names,
        }
    }

    /// Two ASCII letters, any case.
    pub(super) fn by_alpha2(&self, code: &str) -> Option<&Record> {
        let code = <[u8; 2]>::try_from(code.as_bytes()).ok()?;
        self.at(self.alpha2.get(&code.map(|b| b.to_ascii_uppercase())))
    }

    /// Three ASCII letters, any case.
    pub(super) fn by_alpha3(&self, code: &str) -> Option<&Record> {
        let code = <[u8; 3]>::try_from(code.as_bytes()).ok()?;
        self.at(self.alpha3.get(&code.map(|b| b.to_ascii_uppercase())))
    }

    pub(super) fn by_numeric(&self, code: u16) -> Option<&Record> {
        self.at(self.numeric.get(&code))
    }

    /// `folded` is a name already passed through `fold`.
    pub(super) fn by_name(&self, folded: &str) -> Option<Named<'_>> {
        let countries = self.names.get(folded)?;
        match countries.len() {
            1 => self.at(countries.first()).map(Named::One),
            _ => Some(Named::Several),
        }
    }

    fn at(&self, i: Option<&usize>) -> Option<&Record> {
        self.records.get(*i?)
    }
}

/// Folded full name → the countries it names: every ISO name (short, official, common), the
/// "Name, Qualifier" names turned around ("Republic of Korea"), and Kassa's aliases. The tests
/// check that each names exactly one country.
pub(super) fn primary_names(
    records: &[Record],
    aliases: &[(&str, &[&str])],
) -> HashMap<String, BTreeSet<usize>> {
    let mut names: HashMap<String, BTreeSet<usize>> = HashMap::new();
    for (i, r) in records.iter().enumerate() {
        let own = iso_names(r);
        let turned = own.clone().filter_map(|n| {
            let (head, qualifier) = n.split_once(", ")?;
            Some(format!("{qualifier} {head}"))
        });
        let added = aliases
            .iter()
            .filter(|(code, _)| *code == r.alpha_2)
            .flat_map(|(_, names)| names.iter().copied());
        for name in own
            .map(str::to_owned)
            .chain(turned)
            .chain(added.map(str::to_owned))
        {
            if let Some(key) = fold(&name) {
                names.entry(key).or_default().insert(i);
            }
        }
    }
    names
}

/// Folded shortened name → the countries it may name: the part before the comma ("Korea",
/// "Bolivia") and the name without its parentheses ("Cocos Islands", "Holy See").
pub(super) fn shortened_names(records: &[Record]) -> HashMap<String, BTreeSet<usize>> {
    let mut names: HashMap<String, BTreeSet<usize>> = HashMap::new();
    for (i, r) in records.iter().enumerate() {
        for name in iso_names(r) {
            let head = name.split_once(',').map(|(head, _)| head.to_owned());
            let unbracketed = name.split_once(" (").and_then(|(before, rest)| {
                let (_, after) = rest.split_once(')')?;
                Some(format!("{before}{after}"))
            });
            for short in head.into_iter().chain(unbracketed) {
                if let Some(key) = fold(&short) {
                    names.entry(key).or_default().insert(i);
                }
            }
        }
    }
    names
}

/// A record's own names as ISO 3166-1 gives them.
fn iso_names(r: &Record) -> impl Iterator<Item = &str> + Clone {
    std::iter::once(r.name.as_str())
        .chain(r.official_name.as_deref())
        .chain(r.common_name.as_deref())
}
