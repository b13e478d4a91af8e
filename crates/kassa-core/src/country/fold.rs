//! The fold that makes country names comparable however they are typed: "Côte d’Ivoire",
//! "COTE D'IVOIRE" and "Cote dIvoire" all fold to "cotedivoire". The table's names and the
//! user's input go through the same function, so they can only ever be compared folded.

use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

/// `s` folded for comparison, or `None` if it holds a character that no country name has
/// (a digit, an underscore, a symbol, a control character) or no letter at all.
///
/// Compatibility decomposition (NFKD) with the combining marks dropped turns accented and
/// full-width letters into plain ones; letters are lowercased; whitespace, hyphens and dashes,
/// apostrophes, periods, commas and parentheses separate words and are then dropped, so word
/// boundaries never matter. "&" reads as "and", the word "St" as "Saint", and a leading "The"
/// is dropped ("The Gambia" is "Gambia").
pub(super) fn fold(s: &str) -> Option<String> {
    let mut words: Vec<String> = Vec::new();
    let mut word = String::new();
    for c in s.nfkd() {
        if is_combining_mark(c) {
            continue;
        }
        if c.is_alphabetic() {
            word.extend(c.to_lowercase().filter(|l| !is_combining_mark(*l)));
            continue;
        }
        if !word.is_empty() {
            words.push(std::mem::take(&mut word));
        }
        match c {
            '&' => words.push("and".to_owned()),
            c if is_separator(c) => {}
            _ => return None,
        }
    }
    if !word.is_empty() {
        words.push(word);
    }
    if words.first().is_some_and(|w| w == "the") {
        words.remove(0);
    }
    if words.is_empty() {
        return None;
    }
    Some(
        words
            .iter()
            .map(|w| if w == "st" { "saint" } else { w.as_str() })
            .collect(),
    )
}

/// Characters that only separate the words of a name.
fn is_separator(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            c,
            '-' | '\u{2010}'
                ..='\u{2015}' // hyphens and dashes
                | '\'' | '\u{2018}' | '\u{2019}' | '\u{02BC}' | '`' // apostrophes
                | '.' | ',' | '(' | ')'
        )
}

#[cfg(test)]
mod tests {
    use super::fold;

    fn folded(s: &str) -> Option<&'static str> {
        fold(s).map(|f| &*Box::leak(f.into_boxed_str()))
    }

    #[test]
    fn accents_case_and_punctuation_fold_away() {
        for (input, want) in [
            ("Côte d'Ivoire", "cotedivoire"),
            ("Cote dIvoire", "cotedivoire"),
            ("COTE D’IVOIRE", "cotedivoire"),
            ("côte d\u{2018}ivoire", "cotedivoire"),
            // The same accent, composed (U+00F4) and as a combining mark (U+0302).
            ("Co\u{302}te d'Ivoire", "cotedivoire"),
            ("Curaçao", "curacao"),
            ("CURAÇAO", "curacao"),
            ("Åland Islands", "alandislands"),
            ("Réunion", "reunion"),
            ("Türkiye", "turkiye"),
            ("São Tomé and Príncipe", "saotomeandprincipe"),
            ("Cocos (Keeling) Islands", "cocoskeelingislands"),
            ("Korea, Republic of", "korearepublicof"),
            ("Guinea-Bissau", "guineabissau"),
            ("Timor\u{2013}Leste", "timorleste"),
            ("  New \t Zealand ", "newzealand"),
            ("Virgin Islands, U.S.", "virginislandsus"),
            // Full-width letters are their plain forms.
            ("Ｆｒａｎｃｅ", "france"),
        ] {
            assert_eq!(folded(input), Some(want), "{input:?}");
        }
    }

    #[test]
    fn ampersand_saint_and_a_leading_the() {
        assert_eq!(folded("Trinidad & Tobago"), Some("trinidadandtobago"));
        assert_eq!(folded("Trinidad&Tobago"), Some("trinidadandtobago"));
        assert_eq!(folded("St. Lucia"), Some("saintlucia"));
        assert_eq!(folded("St Kitts & Nevis"), Some("saintkittsandnevis"));
        // Only the word "St": "Sint" and a "st" inside a word stay as they are.
        assert_eq!(folded("Sint Maarten"), Some("sintmaarten"));
        assert_eq!(folded("Estonia"), Some("estonia"));
        assert_eq!(folded("The Gambia"), Some("gambia"));
        assert_eq!(folded("the State of Palestine"), Some("stateofpalestine"));
        // Only a leading "The".
        assert_eq!(
            folded("Congo, The Democratic Republic of the"),
            Some("congothedemocraticrepublicofthe")
        );
        assert_eq!(folded("Theland"), Some("theland"));
    }

    #[test]
    fn refuses_what_no_name_holds() {
        for bad in [
            "",
            "   ",
            ".,-()",
            "The",
            "the  ",
            "united_states",
            "Germany!",
            "Ger\u{0}many",
            "Germany\u{7f}",
            "840",
            "８４０",
            "٨٤٠",
            "U2",
            "Fr@nce",
            "France/Germany",
            "<script>",
            "\u{202e}ecnarF",
        ] {
            assert_eq!(fold(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn letters_of_other_scripts_are_kept_not_dropped() {
        // They match no name, but must not vanish and leave a matching remainder behind.
        assert_eq!(folded("Франция"), Some("франция"));
        assert_eq!(folded("France Франция"), Some("franceфранция"));
    }
}
