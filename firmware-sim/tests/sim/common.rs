//! Shared helpers.

use std::path::PathBuf;
use std::sync::Arc;

use kerbside_sim::{Fleet, Generator, Scenario, SimMessage};

/// Path of a shipped scenario.
pub(crate) fn scenario_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios")
        .join(name)
}

/// The shipped test scenario.
pub(crate) fn test_scenario() -> Scenario {
    Scenario::load(&scenario_path("test.toml")).expect("test.toml loads")
}

/// Builds the fleet and runs the generator to the end.
pub(crate) fn run(scenario: Scenario, seed: u64) -> (Arc<Fleet>, Vec<SimMessage>, Generator) {
    let fleet = Arc::new(Fleet::build(scenario, seed).expect("fleet builds"));
    let mut g = Generator::new(Arc::clone(&fleet), &[]).expect("generator");
    let msgs: Vec<SimMessage> = g.by_ref().collect();
    (fleet, msgs, g)
}
