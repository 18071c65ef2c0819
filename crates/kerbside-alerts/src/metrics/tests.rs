//! The metric names and the lifecycle counters.

use std::collections::BTreeMap;

use prometheus::Registry;

use super::*;
use crate::deliver::Sink;
use crate::event::Severity;

fn event(device: &str, state: AlertState, severity: Severity) -> AlertEvent {
    AlertEvent {
        id: format!("congestion/A61-N/{device}"),
        rule: Rule::Congestion,
        state,
        severity,
        labels: BTreeMap::new(),
        value: None,
        threshold: None,
        summary: String::new(),
        starts_at_ms: 0,
        at_ms: 0,
        ends_at_ms: None,
        previous_severity: None,
    }
}

#[test]
fn lifecycle_counters_and_the_active_gauge_follow_the_events() {
    let registry = Registry::new();
    let m = AlertMetrics::new(&registry).unwrap();
    let raised = event("tc-1", AlertState::Raised, Severity::Warning);
    m.count(&[
        raised.clone(),
        event("tc-2", AlertState::Raised, Severity::Warning),
        event("tc-1", AlertState::Updated, Severity::Critical),
        event("tc-2", AlertState::Cleared, Severity::Warning),
    ]);
    let c = Rule::Congestion.as_str();
    assert_eq!(m.raised.with_label_values(&[c]).get(), 2);
    assert_eq!(m.updated.with_label_values(&[c]).get(), 1);
    assert_eq!(m.cleared.with_label_values(&[c]).get(), 1);
    m.set_active(&AlertMetrics::active_per_rule([&raised]));
    assert_eq!(m.active.with_label_values(&[c]).get(), 1);
    m.set_active(&BTreeMap::new());
    assert_eq!(m.active.with_label_values(&[c]).get(), 0);

    // Every series exists from the start, under the documented names.
    let names: Vec<String> = registry
        .gather()
        .iter()
        .map(|f| f.name().to_owned())
        .collect();
    for n in [
        "kerbside_alerts_raised_total",
        "kerbside_alerts_updated_total",
        "kerbside_alerts_cleared_total",
        "kerbside_alerts_active",
        "kerbside_alerts_delivered_total",
        "kerbside_alerts_delivery_failures_total",
        "kerbside_alerts_delivery_dropped_total",
        "kerbside_alerts_delivery_latency_seconds",
    ] {
        assert!(names.iter().any(|x| x == n), "{n} in {names:?}");
    }
    let dropped = registry
        .gather()
        .into_iter()
        .find(|f| f.name() == "kerbside_alerts_delivery_dropped_total")
        .unwrap();
    assert_eq!(dropped.get_metric().len(), Sink::ALL.len());
}
