//! The dashboard's sign-in rules: how long a session lasts, and how long a sign-in may wait for
//! its second step. (How idle a session may be is `sessionIdleTimeout` in the configuration; how
//! failed sign-ins are limited is `limits.rs`, with the rates of `limits.signInFailuresPer*`.)
//! The sign-in pages (`pages/dashboard`) apply them; the worker's housekeeping forgets expired
//! sessions and pending sign-ins.

/// How long a session lasts at most, however busy.
pub const SESSION_LIFETIME: time::Duration = time::Duration::hours(12);

/// How long a sign-in past its password waits for a code or a choice of account.
pub const PENDING_LIFETIME: time::Duration = time::Duration::minutes(5);
