//! An independent feasibility checker, written without reference to the solver's
//! data structures: it only reads the [`Problem`] and a list of routes.

use thiserror::Error;

use crate::problem::{Cost, Problem, Solution};

/// Why a set of routes is not a feasible solution. Routes are numbered from 1, as
/// in CVRPLIB `.sol` files.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CheckError {
    /// A route visits a node index that is not a customer (the depot, or beyond the last node).
    #[error("route #{route} visits {node}, which is not a customer (1..={last})")]
    NotACustomer {
        /// Route number (1-based).
        route: usize,
        /// The offending node index.
        node: usize,
        /// The last customer index.
        last: usize,
    },
    /// A customer is visited twice.
    #[error("customer {customer} is visited twice (route #{first} and route #{second})")]
    Duplicate {
        /// The customer.
        customer: usize,
        /// First route visiting it.
        first: usize,
        /// Second route visiting it.
        second: usize,
    },
    /// A customer is never visited.
    #[error("customer {customer} is not visited")]
    Missing {
        /// The customer.
        customer: usize,
    },
    /// A route carries more than the vehicle capacity.
    #[error("route #{route} carries {load}, above the capacity {capacity}")]
    OverCapacity {
        /// Route number (1-based).
        route: usize,
        /// Its load.
        load: u64,
        /// The vehicle capacity.
        capacity: u32,
    },
    /// A route has no customer.
    #[error("route #{route} is empty")]
    EmptyRoute {
        /// Route number (1-based).
        route: usize,
    },
    /// More routes than the fleet allows.
    #[error("{routes} routes, but the fleet has {max} vehicles")]
    TooManyRoutes {
        /// Number of routes used.
        routes: usize,
        /// The fleet bound.
        max: usize,
    },
    /// The claimed cost differs from the recomputed one.
    #[error("claimed cost {claimed}, recomputed {actual}")]
    CostMismatch {
        /// Cost stated by the solution.
        claimed: Cost,
        /// Cost recomputed from the distance matrix.
        actual: Cost,
    },
}

/// Check `routes` (customers only, depot implied) against `problem` and return their
/// recomputed total cost.
pub fn check_routes(problem: &Problem, routes: &[Vec<usize>]) -> Result<Cost, CheckError> {
    let n = problem.nodes();
    let mut seen_in: Vec<usize> = vec![0; n];
    let mut total: Cost = 0;
    for (r, route) in routes.iter().enumerate() {
        let number = r + 1;
        if route.is_empty() {
            return Err(CheckError::EmptyRoute { route: number });
        }
        let mut load: u64 = 0;
        let mut prev = 0usize;
        for &c in route {
            if c == 0 || c >= n {
                return Err(CheckError::NotACustomer {
                    route: number,
                    node: c,
                    last: n - 1,
                });
            }
            if seen_in[c] != 0 {
                return Err(CheckError::Duplicate {
                    customer: c,
                    first: seen_in[c],
                    second: number,
                });
            }
            seen_in[c] = number;
            load += u64::from(problem.demand(c));
            total += Cost::from(problem.dist(prev, c));
            prev = c;
        }
        total += Cost::from(problem.dist(prev, 0));
        if load > u64::from(problem.capacity()) {
            return Err(CheckError::OverCapacity {
                route: number,
                load,
                capacity: problem.capacity(),
            });
        }
    }
    if let Some(customer) = (1..n).find(|&c| seen_in[c] == 0) {
        return Err(CheckError::Missing { customer });
    }
    if let Some(max) = problem.max_vehicles()
        && routes.len() > max
    {
        return Err(CheckError::TooManyRoutes {
            routes: routes.len(),
            max,
        });
    }
    Ok(total)
}

/// Check a [`Solution`], including that its `cost` equals the recomputed one.
pub fn check_solution(problem: &Problem, solution: &Solution) -> Result<Cost, CheckError> {
    let actual = check_routes(problem, &solution.routes)?;
    if actual != solution.cost {
        return Err(CheckError::CostMismatch {
            claimed: solution.cost,
            actual,
        });
    }
    Ok(actual)
}
