//! The steady then the burst phase against a running contender, and the row made of
//! them once the records are read back.

use std::sync::Arc;
use std::time::Instant;

use kerbside_benchkit::{cpu_s, hwm_mib};
use kerbside_sim::{SimMessage, Speed};
use tokio::runtime::Runtime;

use crate::WARM_UP;
use crate::bench_env::BenchEnv;
use crate::kafka::{ReadBack, latencies};
use crate::process::Others;
use crate::publishing::{Published, start_publishing};
use crate::report::{Latency, Row};
use crate::stream::Stream;

/// One phase's figures for one contender.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Phase {
    pub(crate) messages: usize,
    /// First publish → the contender is done with the phase.
    pub(crate) elapsed_s: f64,
    /// The contender's CPU over the same interval.
    pub(crate) cpu_s: f64,
    /// Publish → Kafka CreateTime, ms.
    pub(crate) latency: Option<Latency>,
    /// Mosquitto's, Kafka's and the publisher's CPU over the same interval.
    pub(crate) others: Others,
    /// The publisher's own rate.
    pub(crate) publisher_rate: f64,
}

impl Phase {
    pub(crate) fn rate(&self) -> f64 {
        self.messages as f64 / self.elapsed_s.max(1e-9)
    }
}

/// The steady then the burst phase against a running contender, `done(count)` blocking
/// until it has handled `count` messages in all and returning when that was.
pub(crate) struct Phases {
    steady: Option<(Phase, Published)>,
    /// Peak RSS after the steady phase (every device known, never saturated).
    rss_steady: Option<f64>,
    burst: (Phase, Published),
}

pub(crate) fn run_phases(
    env: &BenchEnv,
    rt: &Runtime,
    stream: &Stream,
    pid: u32,
    done: &mut dyn FnMut(usize) -> Instant,
) -> Phases {
    std::thread::sleep(WARM_UP);
    let mut one = |msgs: &Arc<Vec<SimMessage>>, speed: Speed, upto: usize| {
        let others = Others::now(env);
        let cpu = cpu_s(pid);
        let publishing = start_publishing(env, rt, &stream.fleet, msgs, speed);
        let end = done(upto);
        let cpu = cpu_s(pid) - cpu;
        let others = others.until(Others::now(env));
        let published = publishing.finish(rt);
        let phase = Phase {
            messages: msgs.len(),
            elapsed_s: end.saturating_duration_since(published.first).as_secs_f64(),
            cpu_s: cpu,
            latency: None,
            others,
            publisher_rate: published.rate(),
        };
        (phase, published)
    };
    let (steady, rss_steady) = if stream.steady.is_empty() {
        (None, None)
    } else {
        let s = one(&stream.steady, stream.steady_speed, stream.steady.len());
        (Some(s), hwm_mib(pid))
    };
    let burst = one(
        &stream.burst,
        Speed::Max,
        stream.steady.len() + stream.burst.len(),
    );
    Phases {
        steady,
        rss_steady,
        burst,
    }
}

/// Reads the records back and fills in the latencies; returns the row and how many
/// messages were found in Kafka.
pub(crate) fn finish_row(
    name: &'static str,
    env: &BenchEnv,
    stream: &Stream,
    phases: Phases,
    rss_peak: f64,
    read_back: &ReadBack<'_>,
    index: impl Fn(&[u8], &[u8]) -> Option<usize>,
) -> (Row, usize) {
    let Phases {
        steady,
        rss_steady,
        burst,
    } = phases;
    let (steady_lat, burst_lat, found) = latencies(
        env,
        read_back,
        stream,
        steady.as_ref().map(|s| &s.1),
        &burst.1,
        index,
    );
    let row = Row {
        name,
        steady: steady.map(|(p, _)| Phase {
            latency: steady_lat,
            ..p
        }),
        rss_steady,
        burst: Phase {
            latency: burst_lat,
            ..burst.0
        },
        rss_peak,
        confirmed: None,
        notes: if found < stream.steady.len() + stream.burst.len() {
            vec!["SOME MESSAGES ARE MISSING FROM KAFKA".into()]
        } else {
            vec![]
        },
    };
    (row, found)
}
