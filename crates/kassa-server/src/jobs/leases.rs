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
    pub(crate) fn hold(self: &Arc<Self>, id: &JobId) -> Held {
        self.ids_mut().insert(id.clone());
        Held {
            leases: self.clone(),
            id: id.clone(),
        }
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
