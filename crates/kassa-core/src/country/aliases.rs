//! Names people type for a country that ISO 3166-1's own names do not cover: former and informal
//! names ("Turkey", "Swaziland", "Holland"), parts of a name ("Bosnia", "Trinidad") and the
//! constituent countries of the United Kingdom. Most were accepted before the table came from
//! iso-codes and are kept so that what worked keeps working. Each is folded like every other
//! name, so spelling variants ("St Kitts", "SAINT KITTS") need no entry of their own; a test
//! checks that none of them names two countries or clashes with an ISO name.

/// (alpha-2, names accepted for that country besides its ISO 3166-1 names).
pub(super) const ALIASES: &[(&str, &[&str])] = &[
    ("BA", &["Bosnia", "Herzegovina"]),
    ("BF", &["Burkina"]),
    ("BN", &["Brunei"]),
    ("CC", &["Keeling Islands"]),
    (
        "CD",
        &[
            "Democratic Republic of Congo",
            "DR Congo",
            "DRC",
            "Congo-Kinshasa",
        ],
    ),
    ("CG", &["Congo-Brazzaville"]),
    ("CI", &["Ivory Coast"]),
    ("CV", &["Cape Verde"]),
    ("FK", &["Malvinas"]),
    (
        "GB",
        &[
            // ISO 3166-1 reserves "UK" for the United Kingdom without assigning it; as a code
            // it is refused, as a name it is accepted.
            "UK",
            "Great Britain",
            "United Kingdom of Great Britain",
            "England",
            "Scotland",
            "Wales",
            "Northern Ireland",
        ],
    ),
    ("GS", &["South Georgia", "South Sandwich Islands"]),
    ("HM", &["Heard Island", "McDonald Islands"]),
    ("KN", &["Saint Kitts"]),
    ("MK", &["Macedonia"]),
    ("MM", &["Burma"]),
    ("MO", &["Macau"]),
    ("NL", &["Holland"]),
    ("PM", &["Saint Pierre"]),
    ("RU", &["Russia"]),
    ("ST", &["Sao Tome"]),
    ("SX", &["Saint Maarten"]),
    ("SZ", &["Swaziland"]),
    ("TL", &["East Timor"]),
    ("TR", &["Turkey"]),
    ("TT", &["Trinidad", "Tobago"]),
    ("TW", &["Taiwan, Republic of China"]),
    ("US", &["America"]),
    ("VA", &["Vatican", "Vatican City"]),
    ("VC", &["Saint Vincent"]),
];
