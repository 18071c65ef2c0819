//! One store for the service to write to, whichever `api` the configuration names.

use crate::row::Row;
use kerbside_retry::{Backoff, ErrorReason};
use tokio_util::sync::CancellationToken;

use crate::error::StoreError;

use crate::config::{StoreApi, StoreConfig};
use crate::file::FileSink;
use crate::http::{HttpWriter, WriteReport};
use crate::metrics::{RequestOutcome, StoreMetrics};

/// The configured store: an [`HttpWriter`] for `v2` and `v1`, a [`FileSink`] for
/// `file`. Both report written and refused points the same way.
#[derive(Debug)]
pub enum Store {
    /// The v2 or v1 write API.
    Http(HttpWriter),
    /// Daily line-protocol files.
    File {
        /// The files.
        sink: FileSink,
        /// Its counters (points written and refused, failed writes).
        metrics: StoreMetrics,
        /// The wait between attempts after an I/O error.
        backoff: Backoff,
    },
}

impl Store {
    /// The store `config` names (validated first).
    pub fn open(config: &StoreConfig, metrics: StoreMetrics) -> crate::Result<Self> {
        match config.api {
            StoreApi::V2 | StoreApi::V1 => HttpWriter::new(config, metrics).map(Store::Http),
            StoreApi::File => {
                config.check()?;
                probe_writable(&config.dir)?;
                Ok(Store::File {
                    sink: FileSink::new(&config.dir),
                    metrics,
                    backoff: Backoff::from_millis(config.retry_initial_ms, config.retry_max_ms),
                })
            }
        }
    }

    /// Writes `rows` (see [`HttpWriter::write`] and [`FileSink::write`]) and returns
    /// once they are durable: confirmed by the server, or written to files and
    /// synced to disk. The file store does its small, buffered I/O on the calling
    /// thread.
    ///
    /// A file store's I/O error (a full disk, a read-only file system) is logged
    /// with the file and counted by reason in `kerbside_store_write_errors_total`,
    /// and the whole write is tried again with backoff until it succeeds or `cancel`
    /// fires ([`StoreError::Cancelled`]): the rows are written again whole, never
    /// half.
    pub async fn write(
        &mut self,
        rows: &[Row],
        cancel: &CancellationToken,
    ) -> crate::Result<WriteReport> {
        match self {
            Store::Http(w) => w.write(rows, cancel).await,
            Store::File {
                sink,
                metrics,
                backoff,
            } => {
                backoff.reset();
                let report = loop {
                    metrics.requests_in_flight.inc();
                    let timer = metrics.request_duration.start_timer();
                    let attempt = sink.write(rows).and_then(|r| sink.flush().map(|()| r));
                    timer.observe_duration();
                    metrics.requests_in_flight.dec();
                    let e = match attempt {
                        Ok(report) => break report,
                        Err(e) => e,
                    };
                    let StoreError::Io { source, .. } = &e else {
                        return Err(e);
                    };
                    let reason = ErrorReason::of_io(source);
                    metrics
                        .requests
                        .with_label_values(&[RequestOutcome::Transient.as_str()])
                        .inc();
                    metrics.errors.with_label_values(&[reason.code()]).inc();
                    let delay = backoff.next_delay(None);
                    tracing::error!(
                        error = %e,
                        reason = reason.code(),
                        rows = rows.len(),
                        retry_in_ms = delay.as_millis() as u64,
                        "store file write failed; nothing is committed until it succeeds"
                    );
                    tokio::select! {
                        () = tokio::time::sleep(delay) => metrics.retries.inc(),
                        () = cancel.cancelled() => return Err(StoreError::Cancelled),
                    }
                };
                metrics
                    .requests
                    .with_label_values(&[RequestOutcome::Ok.as_str()])
                    .inc();
                metrics.points_written.inc_by(report.written as u64);
                metrics
                    .points_refused
                    .with_label_values(&["encoder"])
                    .inc_by(report.refused.len() as u64);
                Ok(report)
            }
        }
    }
}

/// Creates `dir` and checks a file can be made in it, so that a store directory
/// that cannot be written fails at start, not at the first window.
fn probe_writable(dir: &std::path::Path) -> crate::Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| StoreError::io(dir, e))?;
    let probe = dir.join(format!(".kerbside-probe-{}", std::process::id()));
    std::fs::File::create(&probe).map_err(|e| StoreError::io(dir, e))?;
    std::fs::remove_file(&probe).map_err(|e| StoreError::io(&probe, e))
}
