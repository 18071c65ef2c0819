//! `kerbside routes solve` and `kerbside routes bench` as a user runs them: the binary
//! on CVRPLIB files, its output parsed back and checked independently.

use std::path::{Path, PathBuf};
use std::process::Command;

use kerbside_routes::{check_routes, cvrplib};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../kerbside-routes/tests/data/cvrplib")
        .join(name)
}

fn kerbside(args: &[&str]) -> std::process::Output {
    let out = Command::new(env!("CARGO_BIN_EXE_kerbside"))
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "kerbside {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// `kerbside routes solve` on `vrp` (1 s, quiet) with `extra` arguments: the `.sol` it
/// printed, parsed, and the instance.
fn solve(vrp: &Path, extra: &[&str]) -> (cvrplib::SolFile, kerbside_routes::Problem) {
    let mut args = vec![
        "routes",
        "solve",
        vrp.to_str().unwrap(),
        "--seconds",
        "1",
        "--quiet",
    ];
    args.extend_from_slice(extra);
    let out = kerbside(&args);
    let sol = cvrplib::parse_sol(&String::from_utf8(out.stdout).unwrap()).unwrap();
    (sol, cvrplib::read_vrp(vrp).unwrap().problem)
}

#[test]
fn solve_prints_a_feasible_sol_whose_cost_line_is_its_cost() {
    let (sol, problem) = solve(&fixture("X-n101-k25.vrp"), &["--seed", "3"]);
    let cost = check_routes(&problem, &sol.routes).expect("a feasible solution");
    assert_eq!(sol.cost, Some(cost), "the Cost line is the routes' cost");
    // Within 10 % of the best known (27,591) even in a debug build's second.
    assert!(cost < 30_350, "cost {cost}");
}

#[test]
fn solve_bounds_the_fleet_by_the_name_or_by_fleet() {
    let (sol, problem) = solve(&fixture("A-n80-k10.vrp"), &[]);
    check_routes(&problem, &sol.routes).expect("a feasible solution");
    assert!(
        sol.routes.len() <= 10,
        "{} routes (A-n80-k10)",
        sol.routes.len()
    );
    let (sol, problem) = solve(&fixture("X-n101-k25.vrp"), &["--fleet", "26"]);
    check_routes(&problem, &sol.routes).expect("a feasible solution");
    assert!(
        sol.routes.len() <= 26,
        "{} routes (--fleet 26)",
        sol.routes.len()
    );
}

#[test]
fn bench_prints_a_row_per_instance_with_its_gap_to_the_best_known() {
    let dir = std::env::temp_dir().join(format!("kerbside-routes-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(fixture("X-n101-k25.vrp"), dir.join("X-n101-k25.vrp")).unwrap();
    std::fs::write(dir.join("bks.csv"), "instance,bks\nX-n101-k25,27591\n").unwrap();
    let out = kerbside(&["routes", "bench", dir.to_str().unwrap(), "--seconds", "1"]);
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "instance,customers,bks,cost,gap_pct,seconds,iterations"
    );
    assert_eq!(lines.len(), 2, "{text}");
    let f: Vec<&str> = lines[1].split(',').collect();
    assert_eq!(&f[..3], ["X-n101-k25", "100", "27591"]);
    let cost: f64 = f[3].parse().unwrap();
    let gap: f64 = f[4].parse().unwrap();
    assert!(
        (gap - 100.0 * (cost - 27591.0) / 27591.0).abs() < 1e-3,
        "{gap}"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("median gap"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_file_that_is_not_an_instance_is_a_clear_error() {
    let dir = std::env::temp_dir().join(format!("kerbside-routes-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("bad.vrp");
    std::fs::write(&bad, "NAME : bad\nDIMENSION : x\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_kerbside"))
        .args(["routes", "solve", bad.to_str().unwrap(), "--quiet"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.vrp") && err.contains("line 2"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}
