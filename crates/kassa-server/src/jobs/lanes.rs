//! Background work in lanes by kind (docs/api.md §12): money (ACH settlements, payout batches,
//! processor releases, payment-request expiry), webhook deliveries and emails each have a task
//! of their own with its own claim, so a webhook endpoint that never answers never delays a
//! settlement or a payout. Within a lane, jobs run side by side up to its slots; the webhook
//! lane also holds at most `webhooks.endpointConcurrency` slots per endpoint, so a slow endpoint
//! holds only its own. A lane claims again at once while its claims return work and sleeps
//! `jobPollInterval` only when idle. Event fan-out and housekeeping run in loops of their own.
//!
//! On shutdown ([`Worker::stop`]) the lanes stop claiming at once, give back what they claimed
//! and had not started, and wait for their running jobs until the deadline.

use std::collections::HashMap;
use std::sync::Arc;

use kassa_core::job::Lane;
use kassa_store::{Claim, Job};
use tokio::sync::Notify;
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::Instant;

use super::leases::{self, Leases};
use crate::state::AppState;

/// Money jobs run side by side in one instance.
const MONEY_SLOTS: usize = 4;
/// Emails sent at once by one instance.
const EMAIL_SLOTS: usize = 4;

/// Jobs a lane runs at once in this process.
fn slots(lane: Lane, state: &AppState) -> usize {
    match lane {
        Lane::Money => MONEY_SLOTS,
        Lane::Webhooks => state.config.webhooks.concurrency,
        Lane::Email => EMAIL_SLOTS,
    }
}

/// Runs one claimed job to its end (recorded, or left to its lease when the lease was lost).
async fn run_job(lane: Lane, state: AppState, job: Job) {
    match lane {
        Lane::Money => super::run_money_job(&state, &job).await,
        Lane::Webhooks => crate::webhooks::deliver(&state, &job).await,
        Lane::Email => crate::mail::worker::send_one(&state, &job).await,
    }
}

/// A claimed job; `group` is its webhook endpoint (empty in other lanes).
struct Claimed {
    job: Job,
    group: String,
}

/// Claims up to `limit` due jobs of `lane`; in the webhook lane, no more to an endpoint than
/// what `in_flight` leaves of its `webhooks.endpointConcurrency`.
async fn claim(
    state: &AppState,
    lane: Lane,
    limit: usize,
    in_flight: &[(String, usize)],
) -> anyhow::Result<Vec<Claimed>> {
    let kinds = lane.kinds();
    let claim = Claim {
        worker: &state.worker_id,
        kinds: &kinds,
        now: state.clock.now(),
        lease: leases::time_of(state.config.job_lease),
        limit: i64::try_from(limit).unwrap_or(i64::MAX),
    };
    Ok(match lane {
        Lane::Webhooks => state
            .store
            .claim_delivery_jobs(
                &claim,
                in_flight,
                state.config.webhooks.endpoint_concurrency,
            )
            .await?
            .into_iter()
            .map(|d| Claimed {
                job: d.job,
                group: d.endpoint_id,
            })
            .collect(),
        _ => state
            .store
            .claim_jobs(&claim)
            .await?
            .into_iter()
            .map(|job| Claimed {
                job,
                group: String::new(),
            })
            .collect(),
    })
}

/// One claim in each lane, its jobs run to their end; how many ran (tests drive time with this).
pub(super) async fn run_each_lane_once(state: &AppState) -> anyhow::Result<usize> {
    let leases = Arc::new(Leases::default());
    let mut ran = 0;
    for lane in Lane::ALL {
        let claimed = claim(state, lane, slots(lane, state).max(32), &[]).await?;
        ran += claimed.len();
        let mut running = JoinSet::new();
        for Claimed { job, .. } in claimed {
            let held = leases.hold(&job.id).expect("a fresh set of leases");
            let state = state.clone();
            running.spawn(async move {
                run_job(lane, state, job).await;
                drop(held);
            });
        }
        while running.join_next().await.is_some() {}
    }
    Ok(ran)
}

/// The background worker of one process: its lanes, event fan-out, housekeeping and the lease
/// heartbeat.
pub struct Worker {
    lanes: Vec<JoinHandle<()>>,
    /// Fan-out and housekeeping: stopped once the lanes are.
    loops: Vec<JoinHandle<()>>,
    heartbeat: JoinHandle<()>,
}

impl Worker {
    pub(crate) fn start(state: &AppState) -> Worker {
        let leases = Arc::new(Leases::default());
        let wake: HashMap<&'static str, Arc<Notify>> = Lane::ALL
            .iter()
            .map(|l| (l.as_str(), Arc::new(Notify::new())))
            .collect();
        let lanes = Lane::ALL
            .iter()
            .map(|&lane| {
                tokio::spawn(run_lane(
                    state.clone(),
                    lane,
                    leases.clone(),
                    wake[lane.as_str()].clone(),
                ))
            })
            .collect();
        let fan_out = {
            let state = state.clone();
            let wake = [wake["webhooks"].clone(), wake["email"].clone()];
            tokio::spawn(async move { fan_out(state, wake).await })
        };
        let sweeps = tokio::spawn(housekeeping(state.clone()));
        Worker {
            lanes,
            loops: vec![fan_out, sweeps],
            heartbeat: tokio::spawn(leases::heartbeat(state.clone(), leases)),
        }
    }

    /// Waits for the lanes, which stop claiming once the state is draining, to finish their
    /// running jobs — until `deadline`, when what still runs is cut off (its lease then runs out
    /// and another worker runs it again). Then stops the rest.
    pub async fn stop(self, deadline: Instant) {
        let mut lanes = self.lanes;
        let finished = tokio::time::timeout_at(deadline, async {
            for lane in &mut lanes {
                let _ = lane.await;
            }
        })
        .await;
        if finished.is_err() {
            tracing::warn!("shutdown grace period over: cutting off jobs still running");
            for lane in &lanes {
                lane.abort();
            }
        }
        for task in self.loops {
            task.abort();
        }
        self.heartbeat.abort();
    }

    /// Stops everything now, without waiting (running jobs are left to their leases).
    pub fn abort(&self) {
        for task in self.lanes.iter().chain(&self.loops) {
            task.abort();
        }
        self.heartbeat.abort();
    }
}

/// Waits until `sleep` passes, `wake` is notified or the state starts draining.
async fn idle(state: &AppState, sleep: std::time::Duration, wake: &Notify) {
    tokio::select! {
        () = tokio::time::sleep(sleep) => {}
        () = wake.notified() => {}
        () = state.draining.wait() => {}
    }
}

/// A lane's loop: claim while there are free slots and due work, run each job in a slot.
async fn run_lane(state: AppState, lane: Lane, leases: Arc<Leases>, wake: Arc<Notify>) {
    let slots = slots(lane, &state).max(1);
    let mut running: JoinSet<String> = JoinSet::new();
    let mut in_flight: HashMap<String, usize> = HashMap::new();
    let done = |group: String, in_flight: &mut HashMap<String, usize>| {
        if let Some(n) = in_flight.get_mut(&group) {
            *n -= 1;
            if *n == 0 {
                in_flight.remove(&group);
            }
        }
    };
    while !state.draining.is_draining() {
        while let Some(Ok(group)) = running.try_join_next() {
            done(group, &mut in_flight);
        }
        let free = slots.saturating_sub(running.len());
        if free > 0 {
            let counts: Vec<(String, usize)> = in_flight
                .iter()
                .filter(|(g, _)| !g.is_empty())
                .map(|(g, n)| (g.clone(), *n))
                .collect();
            match claim(&state, lane, free, &counts).await {
                Ok(claimed) if state.draining.is_draining() => {
                    release(&state, claimed).await;
                    break;
                }
                Ok(claimed) if !claimed.is_empty() => {
                    for Claimed { job, group } in claimed {
                        let Some(held) = leases.hold(&job.id) else {
                            tracing::warn!(job = %job.id, "claimed again while it still runs here (its lease ran out); the run in progress keeps it");
                            continue;
                        };
                        *in_flight.entry(group.clone()).or_default() += 1;
                        let state = state.clone();
                        running.spawn(async move {
                            run_job(lane, state, job).await;
                            drop(held);
                            group
                        });
                    }
                    // Work was due: claim again at once.
                    continue;
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(
                        lane = lane.as_str(),
                        error = format!("{e:#}"),
                        "claiming jobs failed"
                    )
                }
            }
        }
        // Idle, or every slot taken: wait for a slot, new work or the poll interval.
        tokio::select! {
            Some(ended) = running.join_next(), if !running.is_empty() => {
                if let Ok(group) = ended {
                    done(group, &mut in_flight);
                }
            }
            () = idle(&state, state.config.job_poll_interval, &wake), if free > 0 => {}
            () = wake.notified(), if free == 0 => {}
            () = state.draining.wait(), if free == 0 => {}
        }
    }
    // Draining: no more claims; the running jobs finish (or are cut off by `Worker::stop`).
    while running.join_next().await.is_some() {}
}

/// Gives back jobs claimed as shutdown began, so another instance takes them at once.
async fn release(state: &AppState, claimed: Vec<Claimed>) {
    if claimed.is_empty() {
        return;
    }
    let ids: Vec<_> = claimed.into_iter().map(|c| c.job.id).collect();
    if let Err(e) = state.store.release_jobs(&state.worker_id, &ids).await {
        tracing::warn!(error = %e, "could not give back claimed jobs; their leases will run out");
    }
}

/// Event fan-out: turns new events into deliveries and emails, and wakes their lanes.
async fn fan_out(state: AppState, wake: [Arc<Notify>; 2]) {
    let never = Notify::new();
    while !state.draining.is_draining() {
        match crate::webhooks::dispatch(&state).await {
            Ok(report) if report.events > 0 => {
                for lane in &wake {
                    lane.notify_one();
                }
                continue;
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(
                error = format!("{e:#}"),
                "dispatching events to webhooks failed"
            ),
        }
        idle(&state, state.config.job_poll_interval, &never).await;
    }
}

/// Housekeeping at once and then every `recovery.sweepInterval`.
async fn housekeeping(state: AppState) {
    let never = Notify::new();
    while !state.draining.is_draining() {
        if let Err(e) = super::housekeeping(&state).await {
            tracing::warn!(error = format!("{e:#}"), "housekeeping failed");
        }
        idle(&state, state.config.recovery.sweep_interval, &never).await;
    }
}
