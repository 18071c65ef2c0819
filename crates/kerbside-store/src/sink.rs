//! One store for the service to write to, whichever `api` the configuration names.

use crate::row::Row;
use tokio_util::sync::CancellationToken;

use crate::config::{StoreApi, StoreConfig};
use crate::file::FileSink;
use crate::http::{HttpWriter, WriteReport};
use crate::metrics::StoreMetrics;

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
        /// Its counters (points written and refused).
        metrics: StoreMetrics,
    },
}

impl Store {
    /// The store `config` names (validated first).
    pub fn open(config: &StoreConfig, metrics: StoreMetrics) -> crate::Result<Self> {
        match config.api {
            StoreApi::V2 | StoreApi::V1 => HttpWriter::new(config, metrics).map(Store::Http),
            StoreApi::File => {
                config.check()?;
                Ok(Store::File {
                    sink: FileSink::new(&config.dir),
                    metrics,
                })
            }
        }
    }

    /// Writes `rows` (see [`HttpWriter::write`] and [`FileSink::write`]). The file
    /// store does its small, buffered I/O on the calling thread.
    pub async fn write(
        &mut self,
        rows: &[Row],
        cancel: &CancellationToken,
    ) -> crate::Result<WriteReport> {
        match self {
            Store::Http(w) => w.write(rows, cancel).await,
            Store::File { sink, metrics } => {
                let report = sink.write(rows)?;
                metrics.points_written.inc_by(report.written as u64);
                metrics
                    .points_refused
                    .with_label_values(&["encoder"])
                    .inc_by(report.refused.len() as u64);
                Ok(report)
            }
        }
    }

    /// Makes everything written durable: a no-op for HTTP (every write is confirmed
    /// by the server), `fsync` for files.
    pub fn flush(&mut self) -> crate::Result<()> {
        match self {
            Store::Http(_) => Ok(()),
            Store::File { sink, .. } => sink.flush(),
        }
    }
}
