//! Running the service until it is told to stop, and stopping it gracefully (docs/api.md §12):
//! on the signal `/readyz` answers 503 at once, the listener stops accepting and the job lanes
//! stop claiming; requests and jobs in flight get up to `shutdownGracePeriod` to finish (a
//! webhook being delivered is recorded, so it is not sent again after a restart); jobs claimed
//! and not started are given back; then `run` returns and the process exits.

use std::future::Future;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::time::Instant;

use crate::app::App;

/// Whether shutdown has begun; shared by `/readyz`, the lanes and the accept loop.
#[derive(Debug)]
pub struct Draining(watch::Sender<bool>);

impl Default for Draining {
    fn default() -> Self {
        Draining(watch::channel(false).0)
    }
}

impl Draining {
    /// Begins shutdown; the rest of the process sees it at once.
    pub fn begin(&self) {
        self.0.send_replace(true);
    }

    pub fn is_draining(&self) -> bool {
        *self.0.borrow()
    }

    /// Resolves once shutdown has begun.
    pub async fn wait(&self) {
        let mut seen = self.0.subscribe();
        // The sender lives as long as `self`, so this only ends when draining.
        let _ = seen.wait_for(|draining| *draining).await;
    }
}

impl App {
    /// What `kassa serve` runs once it has bound `listener`: checks the settings instances must
    /// share, starts the job worker, serves HTTP until `signal` resolves, then shuts down
    /// gracefully within `shutdownGracePeriod`. The signal is a parameter so tests can trigger
    /// it without a process signal.
    pub async fn run(
        &self,
        listener: TcpListener,
        signal: impl Future<Output = ()>,
    ) -> anyhow::Result<()> {
        let state = self.state().clone();
        crate::jobs::shared::check(&state).await?;
        let worker = self.spawn_worker();
        let router = self.router();
        let accepting = state.clone();
        let mut server = tokio::spawn(async move {
            let http = accepting.config.http.clone();
            crate::connections::serve(listener, router, &http, accepting.draining.wait()).await
        });
        // Nothing but draining ends the accept loop; should it end anyway (it panicked), shut
        // down too, without waiting on it a second time.
        let server_ended = tokio::select! {
            () = signal => false,
            _ = &mut server => true,
        };
        let grace = state.config.shutdown_grace_period;
        state.draining.begin();
        tracing::info!(
            grace_seconds = grace.as_secs_f64(),
            "shutting down: /readyz answers 503; finishing the requests and jobs in flight"
        );
        let deadline = Instant::now() + grace;
        let requests = async {
            if server_ended {
                return;
            }
            if tokio::time::timeout_at(deadline, &mut server)
                .await
                .is_err()
            {
                tracing::warn!(
                    "shutdown grace period over: closing connections with requests still in flight"
                );
                server.abort();
            }
        };
        tokio::join!(requests, worker.stop(deadline));
        tracing::info!("stopped");
        Ok(())
    }
}
