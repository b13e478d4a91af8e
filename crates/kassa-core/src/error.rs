//! Field-level validation errors, collected so a request reports every problem at once.

use serde::Serialize;
use utoipa::ToSchema;

/// One invalid field of a request; `field` is the API path, e.g. "paymentMethod.creditCard.paymentAccountNumber".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct FieldError {
    pub field: String,
    pub code: &'static str,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, code: &'static str, message: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            code,
            message: message.into(),
        }
    }
}

/// Implemented by every parse error enum in this crate: a stable snake_case code and a human message.
pub trait ValidationError: std::error::Error {
    fn code(&self) -> &'static str;
    fn message(&self) -> String {
        self.to_string()
    }
}

/// Collects every field error of a request so they are all reported at once.
#[derive(Debug, Default)]
pub struct FieldErrors(Vec<FieldError>);

impl FieldErrors {
    pub fn new() -> Self {
        FieldErrors(Vec::new())
    }

    pub fn add(
        &mut self,
        field: impl Into<String>,
        code: &'static str,
        message: impl Into<String>,
    ) {
        self.0.push(FieldError::new(field, code, message));
    }

    /// Ok(v) → Some(v); Err(e) → records FieldError{field, e.code(), e.message()} and returns None.
    pub fn take<T, E: ValidationError>(&mut self, field: &str, result: Result<T, E>) -> Option<T> {
        match result {
            Ok(v) => Some(v),
            Err(e) => {
                self.add(field, e.code(), e.message());
                None
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Err(all errors) if any were recorded.
    pub fn finish(self) -> Result<(), Vec<FieldError>> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(self.0)
        }
    }

    pub fn into_vec(self) -> Vec<FieldError> {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("is broken")]
    struct Broken;

    impl ValidationError for Broken {
        fn code(&self) -> &'static str {
            "broken"
        }
    }

    #[test]
    fn field_error_new() {
        let e = FieldError::new("a.b", "required", "is required");
        assert_eq!(e.field, "a.b");
        assert_eq!(e.code, "required");
        assert_eq!(e.message, "is required");
    }

    #[test]
    fn field_error_serializes() {
        let e = FieldError::new("amount", "invalid_amount", "bad");
        let json = serde_json::to_value(&e).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"field": "amount", "code": "invalid_amount", "message": "bad"})
        );
    }

    #[test]
    fn empty_collector_finishes_ok() {
        let errs = FieldErrors::new();
        assert!(errs.is_empty());
        assert_eq!(errs.len(), 0);
        assert_eq!(errs.finish(), Ok(()));
    }

    #[test]
    fn take_ok_returns_value_and_records_nothing() {
        let mut errs = FieldErrors::new();
        assert_eq!(errs.take::<_, Broken>("x", Ok(5)), Some(5));
        assert!(errs.is_empty());
    }

    #[test]
    fn take_err_records_code_and_message() {
        let mut errs = FieldErrors::new();
        assert_eq!(errs.take::<i32, _>("x.y", Err(Broken)), None);
        errs.add("z", "required", "is required");
        assert_eq!(errs.len(), 2);
        assert!(!errs.is_empty());
        let all = errs.finish().unwrap_err();
        assert_eq!(all[0], FieldError::new("x.y", "broken", "is broken"));
        assert_eq!(all[1], FieldError::new("z", "required", "is required"));
    }

    #[test]
    fn into_vec_keeps_order() {
        let mut errs = FieldErrors::default();
        errs.add("a", "c1", "m1");
        errs.add("b", "c2", "m2");
        let v = errs.into_vec();
        assert_eq!(
            v.iter().map(|e| e.field.as_str()).collect::<Vec<_>>(),
            ["a", "b"]
        );
    }
}
