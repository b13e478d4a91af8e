//! The dashboard's sign-in rules: how long a session lasts and how failed sign-ins are
//! throttled. The sign-in pages (`pages/dashboard`) apply them; the worker's housekeeping
//! forgets the sessions and failures these windows have passed.

/// How long a session lasts.
pub const SESSION_LIFETIME: time::Duration = time::Duration::hours(12);
/// Failed sign-ins per email within [`THROTTLE_WINDOW`] before sign-in is refused for a while.
pub const MAX_FAILED_LOGINS: i64 = 5;
pub const THROTTLE_WINDOW: time::Duration = time::Duration::minutes(15);
