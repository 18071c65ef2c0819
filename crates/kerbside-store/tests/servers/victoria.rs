//! VictoriaMetrics through the v2 write API: values and millisecond times, read back
//! through its export API.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use kerbside_store::{FieldValue, HttpWriter, StoreConfig};
use tokio_util::sync::CancellationToken;

use crate::{START, metrics, now_ms, traffic, unique, vm_url};

#[derive(Debug, serde::Deserialize)]
struct Exported {
    metric: BTreeMap<String, String>,
    values: Vec<f64>,
    timestamps: Vec<i64>,
}

#[tokio::test]
async fn v2_writes_reach_victoriametrics_with_their_values_and_millisecond_times() {
    let run = unique("run");
    let t1 = (now_ms() / 60_000 - 10) * 60_000;
    let t2 = t1 + 300_000 + 7; // not on a second: ms survive
    let mut rows = vec![
        traffic("tc 0001", t1, 43.25, 21),
        traffic("tc,0002", t2, 12.5, 7),
    ];
    for r in &mut rows {
        r.tag("run", run.clone());
    }
    let config = StoreConfig {
        url: vm_url(),
        org: "kerbside".into(),
        bucket: "kerbside".into(),
        token: Some("ignored-by-vm".into()),
        ..StoreConfig::default()
    };
    let (_reg, m) = metrics();
    let w = HttpWriter::new(&config, m).unwrap();
    let report = w
        .write(&rows, &CancellationToken::new())
        .await
        .unwrap_or_else(|e| panic!("VictoriaMetrics at {}: {e}; {START}", vm_url()));
    assert_eq!(report.written, 2);

    // VictoriaMetrics names a series `{measurement}_{field}`, turns booleans into 1/0
    // and (1.79) strings into 0; only numbers and booleans are asserted.
    let client = reqwest::Client::new();
    let matcher = format!("{{__name__=~\"traffic_flow_.*\",run=\"{run}\"}}");
    let mut export: Vec<Exported> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        client
            .get(format!("{}/internal/force_flush", vm_url()))
            .send()
            .await
            .unwrap();
        let mut url = reqwest::Url::parse(&format!("{}/api/v1/export", vm_url())).unwrap();
        url.query_pairs_mut().append_pair("match[]", &matcher);
        let body = client.get(url).send().await.unwrap().text().await.unwrap();
        export = body
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        if export.len() >= 10 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let series = |device: &str, field: &str| {
        export
            .iter()
            .find(|e| {
                e.metric.get("__name__").map(String::as_str)
                    == Some(&format!("traffic_flow_{field}"))
                    && e.metric.get("device_id").map(String::as_str) == Some(device)
            })
            .unwrap_or_else(|| panic!("no {field} for {device} in {export:?}"))
    };
    for (row, device) in rows.iter().zip(["tc 0001", "tc,0002"]) {
        for (field, want) in [
            ("mean_speed_kph", row.float_field("mean_speed_kph").unwrap()),
            ("flow_vph", 252.0),
            (
                "vehicles",
                match row.field("vehicles") {
                    Some(FieldValue::UInt(v)) => *v as f64,
                    other => panic!("{other:?}"),
                },
            ),
            (
                "congested",
                if row.field("congested") == Some(&FieldValue::Bool(true)) {
                    1.0
                } else {
                    0.0
                },
            ),
        ] {
            let s = series(device, field);
            assert_eq!(s.values, [want], "{device} {field}");
            assert_eq!(s.timestamps, [row.time_ms], "{device} {field}");
            assert_eq!(s.metric["ward"], "Castle, North=1");
            assert_eq!(s.metric["link"], "A38 \"inbound\"");
        }
    }
}
