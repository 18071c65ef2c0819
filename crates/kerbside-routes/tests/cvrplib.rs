//! CVRPLIB reading and writing: the bundled fixtures always, and every instance of
//! the shared data directory when it is present.

use std::path::{Path, PathBuf};

use kerbside_routes::cvrplib::{self, ParseError};
use kerbside_routes::{CheckError, Problem, Solution, check_routes, check_solution, read_bks};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/cvrplib")
        .join(name)
}

/// The shared CVRPLIB directory (override with `KERBSIDE_CVRPLIB_DIR`).
/// The CVRPLIB instances: a copy in this crate (`tests/data/cvrplib`, byte for byte
/// from the shared set, see its `SOURCES.md`), or `KERBSIDE_CVRPLIB_DIR`. Missing
/// instances fail the test: a test that skips proves nothing.
fn shared_dir() -> PathBuf {
    let dir = std::env::var("KERBSIDE_CVRPLIB_DIR").map_or_else(
        |_| Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/cvrplib"),
        PathBuf::from,
    );
    assert!(
        dir.join("bks.csv").exists(),
        "{} holds no CVRPLIB instances (bks.csv)",
        dir.display()
    );
    dir
}

/// Parse an LKH `.tour` for a CVRP: nodes above the dimension are depot copies.
fn lkh_routes(text: &str, dimension: usize) -> Vec<Vec<usize>> {
    let body = text
        .split("TOUR_SECTION")
        .nth(1)
        .expect("TOUR_SECTION present");
    let mut routes = Vec::new();
    let mut cur = Vec::new();
    for tok in body.split_whitespace() {
        let v: i64 = match tok.parse() {
            Ok(v) => v,
            Err(_) => break,
        };
        if v == -1 {
            break;
        }
        let v = v as usize;
        if v == 1 || v > dimension {
            if !cur.is_empty() {
                routes.push(std::mem::take(&mut cur));
            }
        } else {
            cur.push(v - 1);
        }
    }
    if !cur.is_empty() {
        routes.push(cur);
    }
    routes
}

#[test]
fn fixture_x_n101_k25_parses_and_its_sol_is_the_bks() {
    let inst = cvrplib::read_vrp(&fixture("X-n101-k25.vrp")).unwrap();
    assert_eq!(inst.name, "X-n101-k25");
    assert!(inst.comment.contains("Uchoa"));
    let p = &inst.problem;
    assert_eq!(p.nodes(), 101);
    assert_eq!(p.capacity(), 206);
    assert_eq!(p.max_vehicles(), None);
    // Node 1 (depot) is at (365, 689), node 2 at (146, 180), demand of node 2 is 38.
    assert_eq!(p.coords().unwrap()[0], (365.0, 689.0));
    assert_eq!(
        p.dist(0, 1),
        ((219.0f64.powi(2) + 509.0f64.powi(2)).sqrt().round()) as u32
    );
    assert_eq!(p.demand(0), 0);
    assert_eq!(p.demand(1), 38);
    let sol = cvrplib::read_sol(&fixture("X-n101-k25.sol")).unwrap();
    assert_eq!(sol.routes.len(), 26);
    assert_eq!(sol.cost, Some(27591));
    assert_eq!(check_routes(p, &sol.routes), Ok(27591));
}

#[test]
fn fixture_a_n80_k10_lkh_tour_is_the_bks_with_ten_vehicles() {
    let inst = cvrplib::read_vrp(&fixture("A-n80-k10.vrp")).unwrap();
    let p = inst.problem.with_max_vehicles(Some(10)).unwrap();
    let text = std::fs::read_to_string(fixture("A-n80-k10.lkh.tour")).unwrap();
    let routes = lkh_routes(&text, p.nodes());
    assert_eq!(routes.len(), 10);
    assert_eq!(check_routes(&p, &routes), Ok(1763));
    let fewer = p.clone().with_max_vehicles(Some(9));
    assert!(fewer.is_err() || check_routes(&fewer.unwrap(), &routes).is_err());
}

#[test]
fn sol_writer_round_trips() {
    let inst = cvrplib::read_vrp(&fixture("X-n101-k25.vrp")).unwrap();
    let parsed = cvrplib::read_sol(&fixture("X-n101-k25.sol")).unwrap();
    let sol = Solution::from_routes(&inst.problem, parsed.routes.clone());
    let text = cvrplib::write_sol(&sol);
    assert!(text.starts_with("Route #1: "));
    assert!(text.ends_with("Cost 27591\n"));
    let back = cvrplib::parse_sol(&text).unwrap();
    assert_eq!(back.routes, parsed.routes);
    assert_eq!(back.cost, Some(27591));
    assert_eq!(check_solution(&inst.problem, &sol), Ok(27591));
    // Through a file as well.
    let path = std::env::temp_dir().join(format!("kerbside-routes-{}.sol", std::process::id()));
    cvrplib::write_sol_file(&path, &sol).unwrap();
    let again = cvrplib::read_sol(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    assert_eq!(again.routes, parsed.routes);
}

#[test]
fn every_shared_instance_parses_and_every_published_solution_checks() {
    let dir = shared_dir();
    let bks = read_bks(&dir.join("bks.csv")).unwrap();
    assert_eq!(bks.len(), 13);
    let mut vrp = 0;
    let mut verified = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "vrp") {
            continue;
        }
        vrp += 1;
        let inst = cvrplib::read_vrp(&path).unwrap_or_else(|e| panic!("{e}"));
        let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
        assert_eq!(inst.name, stem);
        let n: usize = stem.split('-').nth(1).unwrap()[1..].parse().unwrap();
        assert_eq!(inst.problem.nodes(), n, "{stem}");
        let best = bks[&stem];
        let fleet = kerbside_routes::fleet_from_name(&stem);
        let problem = inst.problem.with_max_vehicles(fleet).unwrap();
        let sol_path = path.with_extension("sol");
        let tour_path = path.with_extension("lkh.tour");
        let routes = if sol_path.exists() {
            let sol = cvrplib::read_sol(&sol_path).unwrap();
            assert_eq!(sol.cost, Some(best), "{stem}: Cost line vs bks.csv");
            sol.routes
        } else {
            let text = std::fs::read_to_string(&tour_path).unwrap();
            lkh_routes(&text, problem.nodes())
        };
        assert_eq!(check_routes(&problem, &routes), Ok(best), "{stem}");
        verified += 1;
    }
    assert_eq!(vrp, 13);
    assert_eq!(verified, 13);
}

const GOOD: &str = "NAME : tiny
COMMENT : a test
TYPE : CVRP
DIMENSION : 3
EDGE_WEIGHT_TYPE : EUC_2D
CAPACITY : 10
NODE_COORD_SECTION
1 0 0
2 3 4
3 0 -1.4
DEMAND_SECTION
1 0
2 4
3 5
DEPOT_SECTION
 1
 -1
EOF
";

#[test]
fn parses_a_minimal_instance() {
    let inst = cvrplib::parse_vrp(GOOD).unwrap();
    assert_eq!(inst.name, "tiny");
    assert_eq!(inst.comment, "a test");
    let p: &Problem = &inst.problem;
    assert_eq!(p.nodes(), 3);
    assert_eq!(p.dist(0, 1), 5);
    assert_eq!(p.dist(1, 0), 5);
    assert_eq!(p.dist(0, 2), 1); // 1.4 rounds to 1
    assert_eq!(p.dist(1, 2), 6); // sqrt(9 + 29.16) = 6.18
    assert_eq!(p.demands(), &[0, 4, 5]);
}

fn err(text: &str) -> ParseError {
    cvrplib::parse_vrp(text).unwrap_err()
}

#[test]
fn parse_errors_name_the_line_and_the_problem() {
    assert_eq!(
        err(&GOOD.replace("EUC_2D", "GEO")),
        ParseError::Unsupported {
            line: 5,
            keyword: "EDGE_WEIGHT_TYPE",
            value: "GEO".into(),
            expected: "EUC_2D"
        }
    );
    assert_eq!(
        err(&GOOD.replace("TYPE : CVRP", "TYPE : TSP")),
        ParseError::Unsupported {
            line: 3,
            keyword: "TYPE",
            value: "TSP".into(),
            expected: "CVRP"
        }
    );
    assert_eq!(
        err(&GOOD.replace("CAPACITY : 10", "CAPACITY : ten")),
        ParseError::BadNumber {
            line: 6,
            what: "CAPACITY",
            found: "ten".into()
        }
    );
    assert_eq!(
        err(&GOOD.replace("CAPACITY : 10", "DISTANCE : 10")),
        ParseError::UnknownKeyword {
            line: 6,
            keyword: "DISTANCE".into()
        }
    );
    assert_eq!(
        err(&GOOD.replace("2 3 4", "2 3")),
        ParseError::RowShape {
            line: 9,
            section: "NODE_COORD_SECTION",
            expected: 3,
            found: 2
        }
    );
    assert_eq!(
        err(&GOOD.replace("2 3 4", "4 3 4")),
        ParseError::NodeOutOfRange {
            line: 9,
            node: 4,
            dimension: 3
        }
    );
    assert_eq!(
        err(&GOOD.replace("3 5\n", "2 5\n")),
        ParseError::DuplicateNode {
            line: 14,
            node: 2,
            section: "DEMAND_SECTION"
        }
    );
    assert_eq!(
        err(&GOOD.replace("3 5\n", "")),
        ParseError::MissingNode {
            section: "DEMAND_SECTION",
            node: 3
        }
    );
    assert_eq!(
        err(&GOOD.replace(" 1\n -1", " 2\n -1")),
        ParseError::Depot {
            line: 16,
            found: "2".into()
        }
    );
    assert_eq!(
        err(&GOOD.replace(" -1\n", "")),
        ParseError::Missing("-1 terminating DEPOT_SECTION")
    );
    assert_eq!(
        err(&GOOD.replace("CAPACITY : 10\n", "")),
        ParseError::Missing("CAPACITY")
    );
    assert_eq!(
        err(&GOOD.replace("DIMENSION : 3\n", "")),
        ParseError::SectionBeforeDimension {
            line: 6,
            section: "NODE_COORD_SECTION"
        }
    );
    assert_eq!(
        err(&GOOD.replace("3 5\n", "3 11\n")),
        ParseError::Problem(kerbside_routes::ProblemError::DemandOverCapacity {
            customer: 2,
            demand: 11,
            capacity: 10
        })
    );
    let msg = err(&GOOD.replace("2 3 4", "2 3 x")).to_string();
    assert_eq!(msg, "line 9: y coordinate: cannot parse \"x\" as a number");
}

#[test]
fn sol_parse_errors() {
    assert_eq!(
        cvrplib::parse_sol("Route #1: 1 2\nRoute #2: 3 x\n").unwrap_err(),
        ParseError::BadNumber {
            line: 2,
            what: "customer",
            found: "x".into()
        }
    );
    assert_eq!(
        cvrplib::parse_sol("Route #1: 1 2\nhello\n").unwrap_err(),
        ParseError::Unexpected {
            line: 2,
            text: "hello".into()
        }
    );
    let s = cvrplib::parse_sol("Route #1: 1 2\n\nRoute #2: 3\nCost 12\n").unwrap();
    assert_eq!(s.routes, vec![vec![1, 2], vec![3]]);
    assert_eq!(s.cost, Some(12));
}

#[test]
fn checker_rejects_each_kind_of_infeasibility() {
    // Depot at 0, customers 1..=4 with demands 4, 4, 3, 5; capacity 8.
    let coords = vec![(0.0, 0.0), (0.0, 3.0), (4.0, 0.0), (0.0, -3.0), (-4.0, 0.0)];
    let p = Problem::from_coords(coords, vec![0, 4, 4, 3, 5], 8).unwrap();
    let ok = vec![vec![1, 2], vec![3, 4]];
    assert_eq!(check_routes(&p, &ok), Ok(3 + 5 + 4 + 3 + 5 + 4));
    assert_eq!(
        check_routes(&p, &[vec![1, 2], vec![3, 0, 4]]),
        Err(CheckError::NotACustomer {
            route: 2,
            node: 0,
            last: 4
        })
    );
    assert_eq!(
        check_routes(&p, &[vec![1, 2], vec![3, 5]]),
        Err(CheckError::NotACustomer {
            route: 2,
            node: 5,
            last: 4
        })
    );
    assert_eq!(
        check_routes(&p, &[vec![1, 2], vec![3, 4, 1]]),
        Err(CheckError::Duplicate {
            customer: 1,
            first: 1,
            second: 2
        })
    );
    assert_eq!(
        check_routes(&p, &[vec![1, 2], vec![4]]),
        Err(CheckError::Missing { customer: 3 })
    );
    assert_eq!(
        check_routes(&p, &[vec![1, 2, 3], vec![4]]),
        Err(CheckError::OverCapacity {
            route: 1,
            load: 11,
            capacity: 8
        })
    );
    assert_eq!(
        check_routes(&p, &[vec![1, 2], vec![], vec![3, 4]]),
        Err(CheckError::EmptyRoute { route: 2 })
    );
    let bounded = p.clone().with_max_vehicles(Some(2)).unwrap();
    assert_eq!(check_routes(&bounded, &ok), Ok(24));
    assert_eq!(
        check_routes(&bounded, &[vec![1], vec![2], vec![3, 4]]),
        Err(CheckError::TooManyRoutes { routes: 3, max: 2 })
    );
    let wrong = Solution {
        routes: ok.clone(),
        cost: 23,
    };
    assert_eq!(
        check_solution(&p, &wrong),
        Err(CheckError::CostMismatch {
            claimed: 23,
            actual: 24
        })
    );
    assert_eq!(
        p.clone().with_max_vehicles(Some(1)),
        Err(kerbside_routes::ProblemError::FleetTooSmall {
            total: 16,
            vehicles: 1,
            capacity: 8
        })
    );
}

#[test]
fn fleet_rule_from_names() {
    use kerbside_routes::fleet_from_name;
    assert_eq!(fleet_from_name("X-n101-k25"), Some(28));
    assert_eq!(fleet_from_name("X-n1001-k43"), Some(48));
    assert_eq!(fleet_from_name("A-n80-k10"), Some(10));
    assert_eq!(fleet_from_name("E-n101-k8"), Some(8));
    assert_eq!(fleet_from_name("M-n151-k12"), Some(12));
    assert_eq!(fleet_from_name("P-n16"), None);
}

#[test]
fn bench_dir_runs_listed_instances_only_and_reports_gaps() {
    let dir = std::env::temp_dir().join(format!("kerbside-routes-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(fixture("X-n101-k25.vrp"), dir.join("X-n101-k25.vrp")).unwrap();
    // Listed nowhere in bks.csv: skipped.
    std::fs::copy(fixture("A-n80-k10.vrp"), dir.join("A-n80-k10.vrp")).unwrap();
    std::fs::write(
        dir.join("bks.csv"),
        "instance,bks,source\nX-n101-k25,27591,test\nX-n999-k1,1,absent\n",
    )
    .unwrap();
    let rows = kerbside_routes::bench_dir(&dir, 0.5, 3);
    let bad = std::fs::write(dir.join("bks.csv"), "instance,bks\nX-n101-k25,lots\n");
    let err = kerbside_routes::bench_dir(&dir, 0.1, 3)
        .unwrap_err()
        .to_string();
    std::fs::remove_dir_all(&dir).unwrap();
    bad.unwrap();
    let rows = rows.unwrap();
    assert_eq!(rows.len(), 1);
    let r = &rows[0];
    assert_eq!(r.instance, "X-n101-k25");
    assert_eq!(r.customers, 100);
    assert_eq!(r.fleet, Some(28));
    assert!(r.routes <= 28);
    assert_eq!(r.bks, 27591);
    assert!(r.cost >= 27591);
    assert!((r.gap_percent - 100.0 * (r.cost - 27591) as f64 / 27591.0).abs() < 1e-9);
    assert!(r.gap_percent < 5.0, "gap {}", r.gap_percent);
    assert!(err.contains("line 2: bad bks value \"lots\""), "{err}");
}
