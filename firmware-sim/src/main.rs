//! `kerbside-sim`: the simulated fleet. Not built yet: issue #3 ("firmware-sim: a
//! realistic simulated fleet over MQTT") owns it. Until then the binary says so and
//! exits with status 2, so no script mistakes it for a working simulator.

fn main() {
    eprintln!(
        "kerbside-sim is not built yet: the simulated fleet is owned by issue #3 \
         (firmware-sim: a realistic simulated fleet over MQTT)"
    );
    std::process::exit(2);
}
