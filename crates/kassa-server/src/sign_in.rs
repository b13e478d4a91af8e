//! The dashboard's sign-in rules: how long a session lasts. (How failed sign-ins are limited is
//! `limits.rs`, with the rates of `limits.signInFailuresPer*`.) The sign-in pages
//! (`pages/dashboard`) apply them; the worker's housekeeping forgets expired sessions.

/// How long a session lasts.
pub const SESSION_LIFETIME: time::Duration = time::Duration::hours(12);
