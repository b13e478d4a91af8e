//! Reading the TOML file against [`KEYS`]: each key's value as text, with serde's own checks and
//! wording (unknown keys, wrong types), so a new key needs no struct of its own here.

use std::fmt;
use std::path::PathBuf;
use std::sync::OnceLock;

use serde::de::{self, DeserializeSeed, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

use super::{FileValue, KEYS};

/// A TOML file's values, one per [`KEYS`] row, camelCase like the API. Read by walking the
/// document against [`KEYS`] rather than into a derived struct, with the derive's checks and
/// wording: unknown keys and non-string values are refused with the same messages as before.
pub(super) struct FileValues(pub(super) Vec<Option<String>>);

impl<'de> Deserialize<'de> for FileValues {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let mut values = vec![None; KEYS.len()];
        deserializer.deserialize_struct(
            "FileConfig",
            names_in(None),
            FileTable {
                section: None,
                values: &mut values,
            },
        )?;
        Ok(FileValues(values))
    }
}

/// `name` split into its TOML table (if any) and its name in that table.
fn split_name(name: &'static str) -> (Option<&'static str>, &'static str) {
    match name.split_once('.') {
        Some((section, name)) => (Some(section), name),
        None => (None, name),
    }
}

/// The names a TOML table may hold (`None`: the top level, whose sections count as names), in
/// [`KEYS`] order: serde's "expected one of" lists them.
fn names_in(section: Option<&str>) -> &'static [&'static str] {
    type Names = Vec<(Option<&'static str>, Vec<&'static str>)>;
    static NAMES: OnceLock<Names> = OnceLock::new();
    let all = NAMES.get_or_init(|| {
        let mut all: Names = vec![(None, Vec::new())];
        let mut add = |section: Option<&'static str>, name: &'static str| {
            let at = match all.iter().position(|(s, _)| *s == section) {
                Some(at) => at,
                None => {
                    all.push((section, Vec::new()));
                    all.len() - 1
                }
            };
            if !all[at].1.contains(&name) {
                all[at].1.push(name);
            }
        };
        for key in KEYS {
            let (section, name) = split_name(key.name);
            if let Some(section) = section {
                add(None, section);
            }
            add(section, name);
        }
        all
    });
    all.iter()
        .find(|(s, _)| *s == section)
        .map_or(&[], |(_, names)| names.as_slice())
}

/// One TOML table of the file: the top level or a section such as `[sandbox]`.
struct FileTable<'a> {
    section: Option<&'static str>,
    values: &'a mut [Option<String>],
}

/// What a key of a TOML table names.
enum Entry {
    /// The row of [`KEYS`].
    Key(usize),
    /// A section (top level only).
    Section(&'static str),
}

impl<'de> DeserializeSeed<'de> for FileTable<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        let section = self.section.expect("only sections are nested");
        deserializer.deserialize_struct(section, names_in(Some(section)), self)
    }
}

impl<'de> Visitor<'de> for FileTable<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        // The derived structs' names, as serde worded it before: "struct FileSandbox".
        let section = self.section.unwrap_or("config");
        let mut chars = section.chars();
        let first = chars.next().map(|c| c.to_ascii_uppercase());
        write!(
            f,
            "struct File{}{}",
            first.unwrap_or_default(),
            chars.as_str()
        )
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(entry) = map.next_key_seed(EntryName(self.section))? {
            match entry {
                Entry::Key(row) => {
                    self.values[row] = Some(match KEYS[row].file_value {
                        FileValue::Text => map.next_value::<String>()?,
                        FileValue::Path => {
                            map.next_value::<PathBuf>()?.to_string_lossy().into_owned()
                        }
                        FileValue::List => map.next_value::<ListValue>()?.0,
                    })
                }
                Entry::Section(section) => map.next_value_seed(FileTable {
                    section: Some(section),
                    values: &mut *self.values,
                })?,
            }
        }
        Ok(())
    }
}

/// A list in the file: an array of strings, or one string (comma-separated, as in a variable).
struct ListValue(String);

impl<'de> Deserialize<'de> for ListValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged, expecting = "a string or an array of strings")]
        enum Either {
            One(String),
            Many(Vec<String>),
        }
        Ok(ListValue(match Either::deserialize(deserializer)? {
            Either::One(s) => s,
            Either::Many(items) => items.join(","),
        }))
    }
}

/// Reads a key of the table `.0` into an [`Entry`]; an unknown key is serde's `unknown_field`.
struct EntryName(Option<&'static str>);

impl<'de> DeserializeSeed<'de> for EntryName {
    type Value = Entry;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Entry, D::Error> {
        deserializer.deserialize_identifier(self)
    }
}

impl Visitor<'_> for EntryName {
    type Value = Entry;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("field identifier")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Entry, E> {
        if let Some(row) = KEYS.iter().position(|k| split_name(k.name) == (self.0, v)) {
            return Ok(Entry::Key(row));
        }
        // At the top level, a name that is no key is a section.
        let section = names_in(None).iter().find(|n| **n == v);
        match (self.0, section) {
            (None, Some(section)) => Ok(Entry::Section(section)),
            _ => Err(E::unknown_field(v, names_in(self.0))),
        }
    }
}
