//! The battery rule: raised below the low voltage, cleared only by a new battery.

use super::*;

#[test]
fn battery_raises_below_low_and_clears_only_on_a_new_battery() {
    let rows = [
        health("bin-42", 0, 1, Some(60.0), Some(3.3)),
        health("bin-42", 1, 1, Some(60.0), Some(3.29)),
        health("bin-42", 2, 1, Some(60.0), Some(3.45)),
        health("bin-42", 3, 1, Some(60.0), None),
        health("bin-42", 4, 1, Some(60.0), Some(3.5)),
    ];
    let (_, e) = run(&rows);
    assert_eq!(states(&e), [Raised, Cleared]);
    assert_eq!(e[0].id, "battery_low/bin-42");
    assert_eq!((e[0].value, e[0].threshold), (Some(3.29), Some(3.3)));
    assert_eq!(e[0].labels["kind"], "traffic");
    assert_eq!((e[1].value, e[1].threshold), (Some(3.5), Some(3.5)));
}
