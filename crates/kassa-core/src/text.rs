//! Free-text fields of API requests: trimmed, free of control characters, bounded in length.

use crate::error::FieldErrors;

/// `path.name`, or `name` alone at the top level.
pub fn field_path(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_string()
    } else {
        format!("{path}.{name}")
    }
}

/// An optional text: trimmed; empty counts as not given; control characters and more than `max`
/// characters are recorded in `errors` (and give None).
pub fn optional(
    errors: &mut FieldErrors,
    field: &str,
    value: Option<String>,
    max: usize,
) -> Option<String> {
    let value = value?;
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return None;
    }
    if trimmed.chars().any(char::is_control) {
        errors.add(
            field,
            "invalid_characters",
            "must not contain control characters",
        );
        return None;
    }
    if trimmed.chars().count() > max {
        errors.add(
            field,
            "invalid_length",
            format!("must be at most {max} characters"),
        );
        return None;
    }
    Some(trimmed.to_string())
}

/// Like [`optional`], but a missing or blank value is recorded as `required`.
pub fn required(
    errors: &mut FieldErrors,
    field: &str,
    value: Option<String>,
    max: usize,
) -> Option<String> {
    let blank = value.as_deref().is_none_or(|v| v.trim().is_empty());
    if blank {
        errors.add(field, "required", "is required");
        return None;
    }
    optional(errors, field, value, max)
}

/// The first `max` characters of `s` (never splitting a character).
pub fn truncate_chars(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_and_treats_blank_as_absent() {
        let mut e = FieldErrors::new();
        assert_eq!(
            optional(&mut e, "a", Some("  x ".into()), 5),
            Some("x".into())
        );
        assert_eq!(optional(&mut e, "a", Some("   ".into()), 5), None);
        assert_eq!(optional(&mut e, "a", None, 5), None);
        assert!(e.is_empty());
    }

    #[test]
    fn bounds_and_control_characters_are_errors() {
        let mut e = FieldErrors::new();
        assert_eq!(
            optional(&mut e, "a", Some("ééééé".into()), 5),
            Some("ééééé".into())
        );
        assert_eq!(optional(&mut e, "b", Some("éééééé".into()), 5), None);
        assert_eq!(optional(&mut e, "c", Some("x\u{0}y".into()), 5), None);
        assert_eq!(required(&mut e, "d", Some(" ".into()), 5), None);
        assert_eq!(required(&mut e, "e", None, 5), None);
        let codes: Vec<_> = e
            .into_vec()
            .into_iter()
            .map(|f| (f.field, f.code))
            .collect();
        assert_eq!(
            codes,
            [
                ("b".to_string(), "invalid_length"),
                ("c".to_string(), "invalid_characters"),
                ("d".to_string(), "required"),
                ("e".to_string(), "required"),
            ]
        );
    }

    #[test]
    fn paths_join_with_a_dot() {
        assert_eq!(field_path("", "x"), "x");
        assert_eq!(field_path("paymentMethod", "x"), "paymentMethod.x");
    }
}
