//! The leases this process holds (docs/api.md §12): every job a lane runs is registered here
//! while it runs, and a heartbeat extends their leases every third of the lease, so a job that
//! runs longer than its lease is not taken over by another worker. A job whose task ends — done,
//! failed or aborted — drops out and is renewed no more. Leases are the database's time
//! (`kassa_store::JobStore`), so clocks that differ between instances do not matter.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use kassa_core::id::JobId;

use crate::state::AppState;

/// What a worker logs when it finds another worker holds a job it ran.
pub(crate) const LEASE_LOST: &str =
    "lost the job's lease (it ran longer than its lease without renewal); another worker has it, so nothing was recorded";

/// The jobs this process is running.
#[derive(Debug, Default)]
pub(crate) struct Leases(Mutex<HashSet<JobId>>);

/// One running job's place in [`Leases`]; dropping it ends the renewals.
pub(crate) struct Held {
    leases: Arc<Leases>,
    id: JobId,
}

impl Leases {
    /// Registers a claimed job as running; `None` if this process is running it already. That
    /// happens when its lease ran out while it ran (renewals failed, say the database was away)
    /// and a lane of this same process claimed it again: every claim of the process names the
    /// same worker, so the lease alone cannot tell the two runs apart. The run in progress
    /// keeps it (the new claim only renewed its lease), and it is not started a second time.
    pub(crate) fn hold(self: &Arc<Self>, id: &JobId) -> Option<Held> {
        if !self.ids_mut().insert(id.clone()) {
            return None;
        }
        Some(Held {
            leases: self.clone(),
            id: id.clone(),
        })
    }

    fn ids_mut(&self) -> std::sync::MutexGuard<'_, HashSet<JobId>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn ids(&self) -> Vec<JobId> {
        self.ids_mut().iter().cloned().collect()
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        self.leases.ids_mut().remove(&self.id);
    }
}

/// Renews the leases of the running jobs every third of `jobLease`, until the task is aborted.
pub(crate) async fn heartbeat(state: AppState, leases: Arc<Leases>) {
    let lease = state.config.job_lease;
    let every = (lease / 3).max(Duration::from_millis(50));
    loop {
        tokio::time::sleep(every).await;
        let ids = leases.ids();
        if ids.is_empty() {
            continue;
        }
        match state
            .store
            .renew_leases(&state.worker_id, &ids, time_of(lease))
            .await
        {
            Ok(renewed) if (renewed as usize) < ids.len() => tracing::warn!(
                running = ids.len(),
                renewed,
                "some running jobs are no longer this worker's; their results will not be recorded"
            ),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "could not renew job leases"),
        }
    }
}

/// A lease as the store takes it.
pub(crate) fn time_of(lease: Duration) -> time::Duration {
    time::Duration::try_from(lease).unwrap_or(time::Duration::minutes(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_job_already_running_here_is_not_held_twice() {
        let leases = Arc::new(Leases::default());
        let id = JobId::generate();
        let first = leases.hold(&id).expect("not running yet");
        assert!(leases.hold(&id).is_none(), "claimed again while it runs");
        assert_eq!(leases.ids(), vec![id.clone()]);
        drop(first);
        assert!(leases.ids().is_empty());
        assert!(leases.hold(&id).is_some(), "free once the run ended");
    }
}
