//! The problem model: one depot, customers with demands, a full distance matrix,
//! a vehicle capacity and an optional fleet bound.

use thiserror::Error;

/// A total route or solution cost (sum of integer arc lengths).
pub type Cost = i64;

/// An arc length in the distance matrix.
pub type Distance = u32;

/// Why a [`Problem`] could not be built.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ProblemError {
    /// The problem needs at least the depot (node 0).
    #[error("a problem needs at least one node (the depot)")]
    NoNodes,
    /// The distance matrix is not `nodes × nodes`.
    #[error("distance matrix has {len} entries, expected {nodes} × {nodes}")]
    MatrixShape {
        /// Number of nodes (depot included).
        nodes: usize,
        /// Number of entries supplied.
        len: usize,
    },
    /// The coordinate list does not have one entry per node.
    #[error("{len} coordinates given for {nodes} nodes")]
    CoordsShape {
        /// Number of nodes (depot included).
        nodes: usize,
        /// Number of coordinates supplied.
        len: usize,
    },
    /// A coordinate is NaN or infinite.
    #[error("node {node} has a non-finite coordinate")]
    BadCoordinate {
        /// The node index.
        node: usize,
    },
    /// The vehicle capacity is zero.
    #[error("vehicle capacity must be positive")]
    ZeroCapacity,
    /// The depot has a non-zero demand.
    #[error("the depot (node 0) has demand {0}, expected 0")]
    DepotDemand(u32),
    /// A single customer needs more than a whole vehicle.
    #[error("customer {customer} has demand {demand}, above the vehicle capacity {capacity}")]
    DemandOverCapacity {
        /// The customer (node index).
        customer: usize,
        /// Its demand.
        demand: u32,
        /// The vehicle capacity.
        capacity: u32,
    },
    /// A bounded fleet cannot carry the total demand even if perfectly packed.
    #[error("total demand {total} exceeds {vehicles} vehicles × capacity {capacity}")]
    FleetTooSmall {
        /// Sum of all demands.
        total: u64,
        /// The fleet bound.
        vehicles: usize,
        /// The vehicle capacity.
        capacity: u32,
    },
    /// A bounded fleet of zero vehicles with customers to serve.
    #[error("the fleet is bounded to 0 vehicles but there are customers")]
    NoVehicles,
}

/// A capacitated vehicle routing problem (CVRP).
///
/// Node 0 is the depot, nodes `1..nodes()` are customers. Distances are a flat,
/// row-major `nodes × nodes` matrix (need not be symmetric). The struct is built
/// through [`Problem::new`] / [`Problem::from_coords`] plus `with_*` setters so that
/// later attributes (service times, shift length, tips) can be added without breaking
/// callers.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    demands: Vec<u32>,
    dist: Vec<Distance>,
    coords: Option<Vec<(f64, f64)>>,
    capacity: u32,
    max_vehicles: Option<usize>,
}

impl Problem {
    /// A problem from demands (index 0 is the depot, demand 0), a row-major distance
    /// matrix and the vehicle capacity; the fleet is unbounded.
    pub fn new(
        demands: Vec<u32>,
        dist: Vec<Distance>,
        capacity: u32,
    ) -> Result<Problem, ProblemError> {
        let n = demands.len();
        if n == 0 {
            return Err(ProblemError::NoNodes);
        }
        if dist.len() != n * n {
            return Err(ProblemError::MatrixShape {
                nodes: n,
                len: dist.len(),
            });
        }
        if capacity == 0 {
            return Err(ProblemError::ZeroCapacity);
        }
        if demands[0] != 0 {
            return Err(ProblemError::DepotDemand(demands[0]));
        }
        if let Some((customer, &demand)) = demands.iter().enumerate().find(|(_, d)| **d > capacity)
        {
            return Err(ProblemError::DemandOverCapacity {
                customer,
                demand,
                capacity,
            });
        }
        Ok(Problem {
            demands,
            dist,
            coords: None,
            capacity,
            max_vehicles: None,
        })
    }

    /// A problem on the plane: distances are Euclidean, rounded to the nearest integer
    /// (the CVRPLIB / TSPLIB `EUC_2D` convention). Coordinates are kept (the solver
    /// uses them for polar sectors).
    pub fn from_coords(
        coords: Vec<(f64, f64)>,
        demands: Vec<u32>,
        capacity: u32,
    ) -> Result<Problem, ProblemError> {
        let n = demands.len();
        if coords.len() != n {
            return Err(ProblemError::CoordsShape {
                nodes: n,
                len: coords.len(),
            });
        }
        if let Some(node) = coords
            .iter()
            .position(|(x, y)| !x.is_finite() || !y.is_finite())
        {
            return Err(ProblemError::BadCoordinate { node });
        }
        let mut dist = Vec::with_capacity(n * n);
        for &(xi, yi) in &coords {
            for &(xj, yj) in &coords {
                let (dx, dy) = (xi - xj, yi - yj);
                // `as` saturates; coordinates in CVRPLIB are far from u32::MAX apart.
                dist.push((dx * dx + dy * dy).sqrt().round() as Distance);
            }
        }
        let mut p = Problem::new(demands, dist, capacity)?;
        p.coords = Some(coords);
        Ok(p)
    }

    /// Positions for a problem built from a matrix: the solver's SWAP* uses their
    /// polar angles around the depot (distances still come from the matrix).
    pub fn with_coords(mut self, coords: Vec<(f64, f64)>) -> Result<Problem, ProblemError> {
        if coords.len() != self.demands.len() {
            return Err(ProblemError::CoordsShape {
                nodes: self.demands.len(),
                len: coords.len(),
            });
        }
        if let Some(node) = coords
            .iter()
            .position(|(x, y)| !x.is_finite() || !y.is_finite())
        {
            return Err(ProblemError::BadCoordinate { node });
        }
        self.coords = Some(coords);
        Ok(self)
    }

    /// Bound the fleet to at most `vehicles` routes (`None`: unbounded).
    pub fn with_max_vehicles(mut self, vehicles: Option<usize>) -> Result<Problem, ProblemError> {
        if let Some(k) = vehicles {
            let total = self.total_demand();
            if k == 0 && self.customers() > 0 {
                return Err(ProblemError::NoVehicles);
            }
            if total > k as u64 * u64::from(self.capacity) {
                return Err(ProblemError::FleetTooSmall {
                    total,
                    vehicles: k,
                    capacity: self.capacity,
                });
            }
        }
        self.max_vehicles = vehicles;
        Ok(self)
    }

    /// Number of nodes, depot included.
    pub fn nodes(&self) -> usize {
        self.demands.len()
    }

    /// Number of customers (`nodes() - 1`).
    pub fn customers(&self) -> usize {
        self.demands.len() - 1
    }

    /// Demand of node `i` (0 for the depot).
    #[inline]
    pub fn demand(&self, i: usize) -> u32 {
        self.demands[i]
    }

    /// All demands, index 0 being the depot.
    pub fn demands(&self) -> &[u32] {
        &self.demands
    }

    /// Sum of all customers' demands.
    pub fn total_demand(&self) -> u64 {
        self.demands.iter().map(|&d| u64::from(d)).sum()
    }

    /// Distance from node `i` to node `j`.
    #[inline]
    pub fn dist(&self, i: usize, j: usize) -> Distance {
        self.dist[i * self.demands.len() + j]
    }

    /// The flat row-major distance matrix.
    pub fn matrix(&self) -> &[Distance] {
        &self.dist
    }

    /// Node coordinates, if the problem is planar.
    pub fn coords(&self) -> Option<&[(f64, f64)]> {
        self.coords.as_deref()
    }

    /// Vehicle capacity.
    pub fn capacity(&self) -> u32 {
        self.capacity
    }

    /// The fleet bound, if any.
    pub fn max_vehicles(&self) -> Option<usize> {
        self.max_vehicles
    }

    /// Cost of one route given as customers only (the depot at both ends is implied).
    pub fn route_cost(&self, route: &[usize]) -> Cost {
        let mut prev = 0;
        let mut c: Cost = 0;
        for &v in route {
            c += Cost::from(self.dist(prev, v));
            prev = v;
        }
        if !route.is_empty() {
            c += Cost::from(self.dist(prev, 0));
        }
        c
    }
}

/// A solution: routes of customers (node indices, depot omitted) and their total cost.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Solution {
    /// Each route lists customers in visiting order; the depot at both ends is implied.
    pub routes: Vec<Vec<usize>>,
    /// Total cost (sum of route costs).
    pub cost: Cost,
}

impl Solution {
    /// A solution from routes, with the cost computed on `problem`. Empty routes are dropped.
    pub fn from_routes(problem: &Problem, routes: Vec<Vec<usize>>) -> Solution {
        let routes: Vec<Vec<usize>> = routes.into_iter().filter(|r| !r.is_empty()).collect();
        let cost = routes.iter().map(|r| problem.route_cost(r)).sum();
        Solution { routes, cost }
    }
}
