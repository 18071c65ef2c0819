//! The road-link graph traffic counters sit on.
//!
//! A town's main roads as radial spokes out of the centre crossed by ring roads:
//! nodes at (spoke, ring level), spoke links between consecutive levels and ring
//! links between neighbouring spokes at the same level, built outward until there
//! is one link per counter. Two links are neighbours when they share a node, which
//! is where a queue from a lane closure spills over.

use serde::{Deserialize, Serialize};

use crate::rng::{SimRng, uniform};

/// One road link.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Link {
    /// The link id, `link-001` ...
    pub id: String,
    /// Its end nodes (node 0 is the town centre).
    pub nodes: [u32; 2],
    /// Links sharing a node with it, by index into [`RoadGraph::links`].
    pub neighbours: Vec<u32>,
    /// Free-flow speed, km/h.
    pub free_flow_kph: f64,
    /// Lanes the counter reports.
    pub lanes: u8,
    /// How busy the link is relative to the busiest (0–1].
    pub load: f64,
    /// Midpoint, as (north, east) metres from the centre.
    pub mid_m: (f64, f64),
    /// Whether it is a ring road (otherwise a radial spoke).
    pub ring: bool,
}

/// The generated road graph.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoadGraph {
    /// Every link, in id order.
    pub links: Vec<Link>,
}

/// The number in a link id (`link-007` → 7).
pub fn link_number(id: &str) -> Option<usize> {
    id.strip_prefix("link-")?.parse().ok()
}

/// The id of link `n` (1-based).
pub fn link_id(n: usize) -> String {
    format!("link-{n:03}")
}

impl RoadGraph {
    /// Builds `count` links on `spokes` radial roads spaced `step_m` apart per level.
    pub(crate) fn build(count: u32, spokes: u32, radius_m: f64, rng: &mut SimRng) -> Self {
        let count = count as usize;
        let spokes = spokes.max(3) as usize;
        let per_level = 2 * spokes;
        let levels = count.div_ceil(per_level).max(1);
        let step = radius_m / (levels as f64 + 0.5);
        // Node positions: 0 is the centre; (level l >= 1, spoke s) is 1 + (l-1)*spokes + s.
        let jitter: Vec<f64> = (0..spokes).map(|_| uniform(rng, -0.15, 0.15)).collect();
        let node = |l: usize, s: usize| -> u32 {
            if l == 0 {
                0
            } else {
                (1 + (l - 1) * spokes + s % spokes) as u32
            }
        };
        let pos = |l: usize, s: usize| -> (f64, f64) {
            if l == 0 {
                return (0.0, 0.0);
            }
            let a =
                std::f64::consts::TAU * (s % spokes) as f64 / spokes as f64 + jitter[s % spokes];
            let r = step * l as f64;
            (r * a.cos(), r * a.sin())
        };
        let mut links = Vec::with_capacity(count);
        'outer: for l in 1..=levels {
            for s in 0..spokes {
                for ring in [false, true] {
                    if links.len() == count {
                        break 'outer;
                    }
                    let (a, b, pa, pb) = if ring {
                        (node(l, s), node(l, s + 1), pos(l, s), pos(l, s + 1))
                    } else {
                        (node(l - 1, s), node(l, s), pos(l - 1, s), pos(l, s))
                    };
                    let inner = l == 1;
                    let free_flow_kph = match (ring, l) {
                        (false, 1) => 32.0,
                        (false, _) => 48.0,
                        (true, 1) => 48.0,
                        (true, _) => 64.0,
                    };
                    // Outer radial roads narrow to one counted lane.
                    let lanes = if ring || l <= 2 { 2 } else { 1 };
                    let base = if inner {
                        0.95
                    } else if ring {
                        0.85
                    } else {
                        0.75
                    };
                    let load = (base - 0.05 * (l as f64 - 1.0) + uniform(rng, -0.08, 0.05))
                        .clamp(0.35, 1.0);
                    links.push(Link {
                        id: link_id(links.len() + 1),
                        nodes: [a, b],
                        neighbours: Vec::new(),
                        free_flow_kph,
                        lanes,
                        load,
                        mid_m: ((pa.0 + pb.0) / 2.0, (pa.1 + pb.1) / 2.0),
                        ring,
                    });
                }
            }
        }
        let mut at_node: std::collections::BTreeMap<u32, Vec<u32>> = Default::default();
        for (i, l) in links.iter().enumerate() {
            for n in l.nodes {
                at_node.entry(n).or_default().push(i as u32);
            }
        }
        for (i, l) in links.iter_mut().enumerate() {
            let mut n: Vec<u32> = l
                .nodes
                .iter()
                .flat_map(|node| at_node[node].iter().copied())
                .filter(|&j| j as usize != i)
                .collect();
            n.sort_unstable();
            n.dedup();
            l.neighbours = n;
        }
        Self { links }
    }

    /// The index of a link by id.
    pub fn index_of(&self, id: &str) -> Option<usize> {
        self.links.iter().position(|l| l.id == id)
    }
}
