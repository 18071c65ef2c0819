//! The operations endpoint every long-running command serves: Prometheus text at
//! `/metrics`, liveness at `/healthz`, readiness at `/readyz`.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context as _;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use prometheus::{Encoder as _, Registry, TextEncoder};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Says whether the service can do its work now.
pub type ReadyFn = Arc<dyn Fn() -> bool + Send + Sync>;

#[derive(Clone)]
struct AppState {
    registry: Registry,
    ready: ReadyFn,
    memory: Option<MemoryGauges>,
}

/// The process's memory, read at each scrape: resident set from `/proc`, and
/// jemalloc's own figures, which tell live data (`allocated`) from pages the
/// allocator holds (`resident`).
#[derive(Clone)]
struct MemoryGauges {
    rss: prometheus::IntGauge,
    heap_allocated: prometheus::IntGauge,
    heap_resident: prometheus::IntGauge,
}

impl MemoryGauges {
    fn register(registry: &Registry) -> prometheus::Result<Self> {
        let gauge = |name: &str, help: &str| -> prometheus::Result<prometheus::IntGauge> {
            let g = prometheus::IntGauge::new(name, help)?;
            registry.register(Box::new(g.clone()))?;
            Ok(g)
        };
        Ok(Self {
            rss: gauge(
                "kerbside_process_resident_bytes",
                "Resident set size of the process (VmRSS)",
            )?,
            heap_allocated: gauge(
                "kerbside_heap_allocated_bytes",
                "Bytes the allocator has handed out and not had back (jemalloc stats.allocated)",
            )?,
            heap_resident: gauge(
                "kerbside_heap_resident_bytes",
                "Bytes in physical pages the allocator holds (jemalloc stats.resident)",
            )?,
        })
    }

    fn update(&self) {
        if let Some(kib) = std::fs::read_to_string("/proc/self/status")
            .ok()
            .and_then(|s| vm_rss_kib(&s))
        {
            self.rss.set(kib * 1024);
        }
        #[cfg(not(target_env = "msvc"))]
        if tikv_jemalloc_ctl::epoch::advance().is_ok() {
            if let Ok(n) = tikv_jemalloc_ctl::stats::allocated::read() {
                self.heap_allocated.set(n as i64);
            }
            if let Ok(n) = tikv_jemalloc_ctl::stats::resident::read() {
                self.heap_resident.set(n as i64);
            }
        }
    }
}

/// `VmRSS` from the text of `/proc/<pid>/status`, KiB.
fn vm_rss_kib(status: &str) -> Option<i64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Binds `listen` and serves until `shutdown`. Returns the bound address (useful
/// with port 0) and the server task.
pub async fn serve(
    listen: &str,
    registry: Registry,
    ready: ReadyFn,
    shutdown: CancellationToken,
) -> anyhow::Result<(SocketAddr, JoinHandle<()>)> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("binding the metrics endpoint on {listen}"))?;
    let addr = listener.local_addr()?;
    // A registry shared by two servers (tests) registers the gauges once.
    let memory = MemoryGauges::register(&registry).ok();
    let app = Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .with_state(AppState {
            registry,
            ready,
            memory,
        });
    let task = tokio::spawn(async move {
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(async move { shutdown.cancelled().await })
            .await;
        if let Err(e) = served {
            tracing::warn!(error = %e, "metrics endpoint stopped");
        }
    });
    Ok((addr, task))
}

async fn metrics(State(s): State<AppState>) -> (StatusCode, String) {
    if let Some(m) = &s.memory {
        m.update();
    }
    let mut buf = Vec::new();
    match TextEncoder::new().encode(&s.registry.gather(), &mut buf) {
        Ok(()) => (StatusCode::OK, String::from_utf8_lossy(&buf).into_owned()),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

async fn readyz(State(s): State<AppState>) -> (StatusCode, &'static str) {
    if (s.ready)() {
        (StatusCode::OK, "ready\n")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready\n")
    }
}

/// A token cancelled on SIGTERM or SIGINT (Ctrl-C).
pub fn shutdown_on_signals() -> CancellationToken {
    let token = CancellationToken::new();
    let t = token.clone();
    tokio::spawn(async move {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot listen for SIGTERM; Ctrl-C only");
                    let _ = tokio::signal::ctrl_c().await;
                    t.cancel();
                    return;
                }
            };
        tokio::select! {
            _ = term.recv() => tracing::info!("SIGTERM"),
            _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT"),
        }
        t.cancel();
    });
    token
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vm_rss_is_read_from_the_status_text() {
        let status = "Name:\tkerbside\nVmPeak:\t  900 kB\nVmRSS:\t   34567 kB\nThreads:\t9\n";
        assert_eq!(vm_rss_kib(status), Some(34567));
        assert_eq!(vm_rss_kib("Name:\tx\n"), None);
    }

    #[test]
    fn the_memory_gauges_are_filled_at_a_scrape() {
        let registry = Registry::new();
        let m = MemoryGauges::register(&registry).unwrap();
        m.update();
        // This test binary runs on the system allocator, so only the RSS is known.
        assert!(m.rss.get() > 1024 * 1024, "{}", m.rss.get());
        assert!(
            MemoryGauges::register(&registry).is_err(),
            "registered twice"
        );
    }
}
