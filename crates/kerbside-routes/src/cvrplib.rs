//! CVRPLIB readers and writers: `.vrp` instances (`EUC_2D` only) and `.sol`
//! solutions (`Route #1: 5 12 3` lines, customers numbered from 1, depot omitted,
//! then `Cost N`).
//!
//! The depot is node 1 in a `.vrp` file and becomes node 0 of the [`Problem`];
//! file node `i` becomes node `i - 1`, so `.sol` customer numbers are node indices.

use std::fmt::Write as _;
use std::path::Path;

use thiserror::Error;

use crate::Error as CrateError;
use crate::problem::{Cost, Problem, ProblemError, Solution};

/// Why a CVRPLIB file could not be read. Line numbers are 1-based.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum ParseError {
    /// A `KEY : VALUE` header line names a keyword this reader does not know.
    #[error("line {line}: unknown keyword {keyword:?}")]
    UnknownKeyword {
        /// Line number.
        line: usize,
        /// The keyword.
        keyword: String,
    },
    /// A keyword has a value this reader does not support.
    #[error("line {line}: {keyword} {value:?} is not supported (expected {expected})")]
    Unsupported {
        /// Line number.
        line: usize,
        /// The keyword.
        keyword: &'static str,
        /// The value found.
        value: String,
        /// What is supported.
        expected: &'static str,
    },
    /// A field is not a valid number.
    #[error("line {line}: {what}: cannot parse {found:?} as a number")]
    BadNumber {
        /// Line number.
        line: usize,
        /// Which field.
        what: &'static str,
        /// The text found.
        found: String,
    },
    /// A section row has the wrong number of fields.
    #[error("line {line}: {section} row needs {expected} fields, found {found}")]
    RowShape {
        /// Line number.
        line: usize,
        /// The section.
        section: &'static str,
        /// Fields expected.
        expected: usize,
        /// Fields found.
        found: usize,
    },
    /// A node number outside `1..=DIMENSION`.
    #[error("line {line}: node {node} is outside 1..={dimension}")]
    NodeOutOfRange {
        /// Line number.
        line: usize,
        /// The node number (as in the file).
        node: i64,
        /// The dimension.
        dimension: usize,
    },
    /// A node listed twice in one section.
    #[error("line {line}: node {node} appears twice in {section}")]
    DuplicateNode {
        /// Line number.
        line: usize,
        /// The node number (as in the file).
        node: usize,
        /// The section.
        section: &'static str,
    },
    /// A node missing from a section.
    #[error("{section}: node {node} has no entry")]
    MissingNode {
        /// The section.
        section: &'static str,
        /// The node number (as in the file).
        node: usize,
    },
    /// A required keyword or section is absent.
    #[error("missing {0}")]
    Missing(&'static str),
    /// A section appears before `DIMENSION`.
    #[error("line {line}: {section} before DIMENSION")]
    SectionBeforeDimension {
        /// Line number.
        line: usize,
        /// The section.
        section: &'static str,
    },
    /// The depot section does not name exactly node 1.
    #[error("line {line}: only a single depot at node 1 is supported, found {found}")]
    Depot {
        /// Line number.
        line: usize,
        /// What was found.
        found: String,
    },
    /// A line that fits nowhere.
    #[error("line {line}: unexpected {text:?}")]
    Unexpected {
        /// Line number.
        line: usize,
        /// The text.
        text: String,
    },
    /// The parsed data do not form a valid problem.
    #[error("invalid problem: {0}")]
    Problem(#[from] ProblemError),
}

/// A parsed `.vrp` instance.
#[derive(Debug, Clone, PartialEq)]
pub struct Instance {
    /// The `NAME` field.
    pub name: String,
    /// The `COMMENT` field(s), joined by newlines.
    pub comment: String,
    /// The `VEHICLES` field, if present (informative; the fleet is not bounded by it).
    pub vehicles: Option<usize>,
    /// The problem (fleet unbounded).
    pub problem: Problem,
}

#[derive(Clone, Copy, PartialEq)]
enum Section {
    Header,
    Coords,
    Demands,
    Depot,
    Done,
}

fn num<T: std::str::FromStr>(line: usize, what: &'static str, s: &str) -> Result<T, ParseError> {
    s.parse().map_err(|_| ParseError::BadNumber {
        line,
        what,
        found: s.to_string(),
    })
}

/// Parse the text of a `.vrp` file.
pub fn parse_vrp(text: &str) -> Result<Instance, ParseError> {
    let mut name = None;
    let mut comments: Vec<String> = Vec::new();
    let mut vehicles = None;
    let mut dimension: Option<usize> = None;
    let mut capacity: Option<u32> = None;
    let mut edge_type_seen = false;
    let mut coords: Vec<Option<(f64, f64)>> = Vec::new();
    let mut demands: Vec<Option<u32>> = Vec::new();
    let mut depot_seen = false;
    let mut depot_done = false;
    let mut section = Section::Header;

    for (idx, raw) in text.lines().enumerate() {
        let line = idx + 1;
        let t = raw.trim();
        if t.is_empty() {
            continue;
        }
        let first = t.split_whitespace().next().unwrap_or("");
        let keyword = first.trim_end_matches(':');
        let new_section = match keyword {
            "NODE_COORD_SECTION" => Some(Section::Coords),
            "DEMAND_SECTION" => Some(Section::Demands),
            "DEPOT_SECTION" => Some(Section::Depot),
            "EOF" => Some(Section::Done),
            _ => None,
        };
        if let Some(s) = new_section {
            if s != Section::Done {
                let Some(dim) = dimension else {
                    return Err(ParseError::SectionBeforeDimension {
                        line,
                        section: keyword_name(s),
                    });
                };
                coords.resize(dim, None);
                demands.resize(dim, None);
            }
            if section == Section::Depot && !depot_done {
                return Err(ParseError::Missing("-1 terminating DEPOT_SECTION"));
            }
            section = s;
            if s == Section::Depot {
                depot_seen = true;
            }
            if s == Section::Done {
                break;
            }
            continue;
        }
        match section {
            Section::Header => {
                let Some((key, value)) = t.split_once(':') else {
                    return Err(ParseError::Unexpected {
                        line,
                        text: t.to_string(),
                    });
                };
                let (key, value) = (key.trim(), value.trim());
                match key {
                    "NAME" => name = Some(value.to_string()),
                    "COMMENT" => comments.push(value.to_string()),
                    "TYPE" => {
                        if value != "CVRP" {
                            return Err(ParseError::Unsupported {
                                line,
                                keyword: "TYPE",
                                value: value.to_string(),
                                expected: "CVRP",
                            });
                        }
                    }
                    "DIMENSION" => {
                        let d: usize = num(line, "DIMENSION", value)?;
                        if d == 0 {
                            return Err(ParseError::Unsupported {
                                line,
                                keyword: "DIMENSION",
                                value: value.to_string(),
                                expected: "at least 1 (the depot)",
                            });
                        }
                        dimension = Some(d);
                    }
                    "EDGE_WEIGHT_TYPE" => {
                        if value != "EUC_2D" {
                            return Err(ParseError::Unsupported {
                                line,
                                keyword: "EDGE_WEIGHT_TYPE",
                                value: value.to_string(),
                                expected: "EUC_2D",
                            });
                        }
                        edge_type_seen = true;
                    }
                    "CAPACITY" => capacity = Some(num(line, "CAPACITY", value)?),
                    "VEHICLES" => vehicles = Some(num(line, "VEHICLES", value)?),
                    _ => {
                        return Err(ParseError::UnknownKeyword {
                            line,
                            keyword: key.to_string(),
                        });
                    }
                }
            }
            Section::Coords => {
                let f: Vec<&str> = t.split_whitespace().collect();
                if f.len() != 3 {
                    return Err(ParseError::RowShape {
                        line,
                        section: "NODE_COORD_SECTION",
                        expected: 3,
                        found: f.len(),
                    });
                }
                let i = node_index(line, f[0], coords.len())?;
                let x: f64 = num(line, "x coordinate", f[1])?;
                let y: f64 = num(line, "y coordinate", f[2])?;
                if !x.is_finite() || !y.is_finite() {
                    return Err(ParseError::BadNumber {
                        line,
                        what: "coordinate",
                        found: t.to_string(),
                    });
                }
                if coords[i].replace((x, y)).is_some() {
                    return Err(ParseError::DuplicateNode {
                        line,
                        node: i + 1,
                        section: "NODE_COORD_SECTION",
                    });
                }
            }
            Section::Demands => {
                let f: Vec<&str> = t.split_whitespace().collect();
                if f.len() != 2 {
                    return Err(ParseError::RowShape {
                        line,
                        section: "DEMAND_SECTION",
                        expected: 2,
                        found: f.len(),
                    });
                }
                let i = node_index(line, f[0], demands.len())?;
                let d: u32 = num(line, "demand", f[1])?;
                if demands[i].replace(d).is_some() {
                    return Err(ParseError::DuplicateNode {
                        line,
                        node: i + 1,
                        section: "DEMAND_SECTION",
                    });
                }
            }
            Section::Depot => {
                for tok in t.split_whitespace() {
                    let v: i64 = num(line, "depot", tok)?;
                    if depot_done {
                        return Err(ParseError::Unexpected {
                            line,
                            text: tok.to_string(),
                        });
                    }
                    match v {
                        -1 => {
                            depot_done = true;
                        }
                        1 => {}
                        other => {
                            return Err(ParseError::Depot {
                                line,
                                found: other.to_string(),
                            });
                        }
                    }
                }
            }
            Section::Done => unreachable!("the loop stops at EOF"),
        }
    }
    if section == Section::Depot && !depot_done {
        return Err(ParseError::Missing("-1 terminating DEPOT_SECTION"));
    }
    let name = name.ok_or(ParseError::Missing("NAME"))?;
    let dimension = dimension.ok_or(ParseError::Missing("DIMENSION"))?;
    let capacity = capacity.ok_or(ParseError::Missing("CAPACITY"))?;
    if !edge_type_seen {
        return Err(ParseError::Missing("EDGE_WEIGHT_TYPE"));
    }
    if coords.is_empty() {
        return Err(ParseError::Missing("NODE_COORD_SECTION"));
    }
    if !depot_seen {
        return Err(ParseError::Missing("DEPOT_SECTION"));
    }
    let coords = complete(coords, "NODE_COORD_SECTION")?;
    let demands = complete(demands, "DEMAND_SECTION")?;
    debug_assert_eq!(coords.len(), dimension);
    let problem = Problem::from_coords(coords, demands, capacity)?;
    Ok(Instance {
        name,
        comment: comments.join("\n"),
        vehicles,
        problem,
    })
}

fn keyword_name(s: Section) -> &'static str {
    match s {
        Section::Coords => "NODE_COORD_SECTION",
        Section::Demands => "DEMAND_SECTION",
        Section::Depot => "DEPOT_SECTION",
        _ => "header",
    }
}

fn node_index(line: usize, s: &str, dimension: usize) -> Result<usize, ParseError> {
    let node: i64 = num(line, "node number", s)?;
    if node < 1 || node as u64 > dimension as u64 {
        return Err(ParseError::NodeOutOfRange {
            line,
            node,
            dimension,
        });
    }
    Ok(node as usize - 1)
}

fn complete<T>(v: Vec<Option<T>>, section: &'static str) -> Result<Vec<T>, ParseError> {
    v.into_iter()
        .enumerate()
        .map(|(i, x)| {
            x.ok_or(ParseError::MissingNode {
                section,
                node: i + 1,
            })
        })
        .collect()
}

/// A parsed `.sol` file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SolFile {
    /// Routes in file order, customers as node indices (depot omitted).
    pub routes: Vec<Vec<usize>>,
    /// The `Cost` line, if present.
    pub cost: Option<Cost>,
}

/// Parse the text of a `.sol` file. Routes need not be numbered consecutively;
/// they are kept in file order.
pub fn parse_sol(text: &str) -> Result<SolFile, ParseError> {
    let mut routes = Vec::new();
    let mut cost = None;
    for (idx, raw) in text.lines().enumerate() {
        let line = idx + 1;
        let t = raw.trim();
        if t.is_empty() {
            continue;
        }
        if let Some(rest) = t.strip_prefix("Route") {
            let Some((_, customers)) = rest.split_once(':') else {
                return Err(ParseError::Unexpected {
                    line,
                    text: t.to_string(),
                });
            };
            let route = customers
                .split_whitespace()
                .map(|c| num(line, "customer", c))
                .collect::<Result<Vec<usize>, _>>()?;
            routes.push(route);
        } else if let Some(rest) = t.strip_prefix("Cost") {
            cost = Some(num(line, "cost", rest.trim())?);
        } else {
            return Err(ParseError::Unexpected {
                line,
                text: t.to_string(),
            });
        }
    }
    Ok(SolFile { routes, cost })
}

/// Render a solution in CVRPLIB `.sol` format.
pub fn write_sol(solution: &Solution) -> String {
    let mut s = String::new();
    for (i, r) in solution.routes.iter().enumerate() {
        let _ = write!(s, "Route #{}:", i + 1);
        for c in r {
            let _ = write!(s, " {c}");
        }
        s.push('\n');
    }
    let _ = writeln!(s, "Cost {}", solution.cost);
    s
}

fn read(path: &Path) -> Result<String, CrateError> {
    std::fs::read_to_string(path).map_err(|source| CrateError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// Read and parse a `.vrp` file.
pub fn read_vrp(path: &Path) -> Result<Instance, CrateError> {
    parse_vrp(&read(path)?).map_err(|source| CrateError::Parse {
        path: path.to_path_buf(),
        source,
    })
}

/// Read and parse a `.sol` file.
pub fn read_sol(path: &Path) -> Result<SolFile, CrateError> {
    parse_sol(&read(path)?).map_err(|source| CrateError::Parse {
        path: path.to_path_buf(),
        source,
    })
}

/// Write a solution to a `.sol` file.
pub fn write_sol_file(path: &Path, solution: &Solution) -> Result<(), CrateError> {
    std::fs::write(path, write_sol(solution)).map_err(|source| CrateError::Io {
        path: path.to_path_buf(),
        source,
    })
}
