//! The results: each contender's row, latency percentiles, and the printed report.

use crate::bench_env::BenchEnv;
use crate::phases::Phase;
use crate::stream::Stream;

/// One contender's figures.
#[derive(Debug, Default)]
pub(crate) struct Row {
    pub(crate) name: &'static str,
    pub(crate) steady: Option<Phase>,
    pub(crate) rss_steady: Option<f64>,
    pub(crate) burst: Phase,
    pub(crate) rss_peak: f64,
    /// kerbside's own receipt → Kafka-confirmed histogram (steady, burst), ms bounds.
    pub(crate) confirmed: Option<(Option<Latency>, Option<Latency>)>,
    pub(crate) notes: Vec<String>,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Latency {
    pub(crate) p50: f64,
    pub(crate) p99: f64,
}

pub(crate) fn percentiles(mut v: Vec<f64>) -> Option<Latency> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
    Some(Latency {
        p50: at(0.50),
        p99: at(0.99),
    })
}

pub(crate) fn thousands(x: f64) -> String {
    let s = format!("{:.0}", x.round());
    let (sign, digits) = s.strip_prefix('-').map_or(("", s.as_str()), |d| ("-", d));
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    format!("{sign}{out}")
}

fn lat(l: Option<Latency>) -> (String, String) {
    l.map_or(("—".into(), "—".into()), |l| {
        (format!("{:.0}", l.p50), format!("{:.0}", l.p99))
    })
}

fn opt(v: Option<f64>) -> String {
    v.map_or("—".to_owned(), |v| format!("{v:.1}"))
}

pub(crate) fn report(
    env: &BenchEnv,
    stream: &Stream,
    window: Option<(usize, usize)>,
    rows: &[Row],
) {
    let name_w = 32;
    println!(
        "\nBURST: {} readings published at QoS 1 as fast as the broker takes them",
        thousands(stream.burst.len() as f64)
    );
    println!(
        "{:<name_w$} {:>11} {:>7} {:>8} {:>8} {:>7} {:>10} {:>13}",
        "contender",
        "readings/s",
        "time s",
        "p50 ms",
        "p99 ms",
        "CPU s",
        "µs CPU/rdg",
        "peak RSS MiB"
    );
    for r in rows {
        let (p50, p99) = lat(r.burst.latency);
        println!(
            "{:<name_w$} {:>11} {:>7.2} {:>8} {:>8} {:>7.2} {:>10.1} {:>13.1}",
            r.name,
            thousands(r.burst.rate()),
            r.burst.elapsed_s,
            p50,
            p99,
            r.burst.cpu_s,
            r.burst.cpu_s / r.burst.messages as f64 * 1e6,
            r.rss_peak,
        );
    }
    if !stream.steady.is_empty() {
        println!(
            "\nSTEADY (before the burst): {} readings at about {}/s, every device reporting",
            thousands(stream.steady.len() as f64),
            thousands(env.steady_rate)
        );
        println!(
            "{:<name_w$} {:>11} {:>8} {:>8} {:>10} {:>20}",
            "contender", "readings/s", "p50 ms", "p99 ms", "µs CPU/rdg", "peak RSS MiB so far"
        );
        for r in rows {
            let Some(s) = r.steady else { continue };
            let (p50, p99) = lat(s.latency);
            println!(
                "{:<name_w$} {:>11} {:>8} {:>8} {:>10.1} {:>20}",
                r.name,
                thousands(s.rate()),
                p50,
                p99,
                s.cpu_s / s.messages as f64 * 1e6,
                opt(r.rss_steady),
            );
        }
    }
    println!(
        "\nCPU seconds during the burst, everyone on the machine ({} cores):",
        std::thread::available_parallelism().map_or(0, std::num::NonZero::get)
    );
    println!(
        "{:<name_w$} {:>10} {:>10} {:>7} {:>10} {:>7} {:>13} {:>22}",
        "contender",
        "contender",
        "Mosquitto",
        "Kafka",
        "publisher",
        "total",
        "total µs/rdg",
        "anything else running"
    );
    for r in rows {
        let o = r.burst.others;
        let total = r.burst.cpu_s + o.mosquitto.unwrap_or(0.0) + o.kafka.unwrap_or(0.0) + o.bench;
        println!(
            "{:<name_w$} {:>10.2} {:>10} {:>7} {:>10.2} {:>7.2} {:>13.1} {:>22.2}",
            r.name,
            r.burst.cpu_s,
            o.mosquitto.map_or("—".into(), |v| format!("{v:.2}")),
            o.kafka.map_or("—".into(), |v| format!("{v:.2}")),
            o.bench,
            total,
            total / r.burst.messages as f64 * 1e6,
            (o.machine - total).max(0.0),
        );
    }
    println!(
        "(the last column is the rest of the machine's busy CPU time meanwhile: other \
         people's builds and tests make the figures noisy)"
    );
    println!();
    for r in rows {
        println!(
            "{}: publisher {} msg/s in the burst; {}",
            r.name,
            thousands(r.burst.publisher_rate),
            r.notes.join("; ")
        );
        if let Some((steady, burst)) = r.confirmed {
            let b = |l: Option<Latency>| {
                l.map_or("—".into(), |l| {
                    format!("p50 ≤ {} ms, p99 ≤ {} ms", l.p50, l.p99)
                })
            };
            println!(
                "  its receipt → Kafka-confirmed histogram (bucket bounds): steady {}; burst {}",
                b(steady),
                b(burst)
            );
        }
    }
    if let Some((before, after)) = window {
        println!(
            "Mosquitto's in-flight window: a subscriber with receive maximum 10 got {before} \
             messages before any PUBACK and {after} after one (a conforming broker: 10, then 11){}",
            if after > before + 1 {
                "; so here ingest's max_in_flight does not bound what the broker pushes to it"
            } else {
                ""
            }
        );
    }
    let find = |n: &str| rows.iter().find(|r| r.name.starts_with(n));
    println!();
    if let Some(k) = find("kerbside") {
        if let Some(n) = find("naive") {
            let x = k.burst.rate() / n.burst.rate();
            println!(
                "kerbside / naive bridge: {x:.2}  (target ≥ 1.00: {})",
                verdict(x >= 1.0)
            );
        }
        if let Some(c) = find("mosquitto_sub") {
            let x = k.burst.rate() / c.burst.rate();
            println!(
                "kerbside / ceiling:      {x:.2}  (target ≥ 0.80: {})",
                verdict(x >= 0.8)
            );
        }
        if let Some(rss) = k.rss_steady {
            println!(
                "kerbside peak RSS, steady, 10,000 devices: {rss:.1} MiB (target < 100 MiB: {})",
                verdict(rss < 100.0)
            );
        }
        println!(
            "kerbside peak RSS, after the burst:        {:.1} MiB (target < 100 MiB: {})",
            k.rss_peak,
            verdict(k.rss_peak < 100.0)
        );
    }
    println!(
        "\nlatency = publish (handed to the publisher's MQTT client) → Kafka CreateTime (set \
         when the record is produced: leaves out linger and the broker's ack). CPU and RSS are \
         the contender's process only."
    );
}

fn verdict(ok: bool) -> &'static str {
    if ok { "met" } else { "MISSED" }
}
