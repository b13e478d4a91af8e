//! Settings every instance sharing a database must agree on (docs/api.md §12). Today that is
//! the payout cut-off: two instances with different cut-offs would cut two different daily
//! batches. The first instance to start writes its configured value to the database; the payout
//! chain always reads the database's, and an instance configured otherwise refuses to start
//! ([`check`]), naming both values and how to change the one they share.

use kassa_core::payout::{format_cutoff, parse_cutoff};

use crate::state::AppState;

/// The name the payout cut-off is kept under in the database, as in the configuration.
pub const PAYOUT_CUTOFF: &str = "payoutCutoff";

/// A configured value that differs from the one every instance shares.
#[derive(Debug, thiserror::Error)]
#[error(
    "{name} is {configured} in this instance's configuration but {stored} in the database, \
     which every instance sharing it uses. Set {name} = \"{stored}\" to run with them; to change \
     it for every instance, stop them all, set the new value in each one's configuration, and \
     run `kassa payouts cutoff {configured}` before starting them again"
)]
pub struct Disagreement {
    pub name: &'static str,
    pub configured: String,
    pub stored: String,
}

/// Checks this instance's shared settings against the database's, writing them there if this is
/// the first instance: `Err` names the first setting that differs.
pub async fn check(state: &AppState) -> anyhow::Result<()> {
    let (configured, stored) = cutoffs(state).await?;
    if stored != configured {
        return Err(Disagreement {
            name: PAYOUT_CUTOFF,
            configured,
            stored,
        }
        .into());
    }
    Ok(())
}

/// The payout cut-off every instance uses: the database's (this instance's configured one if
/// none is stored yet, which it then becomes).
pub async fn payout_cutoff(state: &AppState) -> anyhow::Result<time::Time> {
    let (configured, stored) = cutoffs(state).await?;
    if stored != configured {
        tracing::warn!(
            configured = %configured,
            shared = %stored,
            "payoutCutoff differs from the one in the database; batches use the database's"
        );
    }
    parse_cutoff(&stored).ok_or_else(|| {
        anyhow::anyhow!(
            "the payout cut-off in the database ({stored:?}) is not a time of day like 00:00"
        )
    })
}

/// This instance's configured cut-off and the one in the database (written there first if none
/// is stored yet), both as `HH:MM`.
async fn cutoffs(state: &AppState) -> anyhow::Result<(String, String)> {
    let configured = format_cutoff(state.config.payout_cutoff);
    let stored = state
        .store
        .shared_setting(PAYOUT_CUTOFF, &configured, state.clock.now())
        .await?;
    Ok((configured, stored))
}

pub use kassa_core::payout::last_cutoff;
