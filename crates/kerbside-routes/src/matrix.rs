//! Road distances and times between the plan's places, from a router instead of
//! great-circle estimates.
//!
//! Three forms are read:
//! - **CSV**, keyed by name: `from,to,distance_m[,duration_s]`, where a name is a bin's
//!   device id, `depot` or `tip`;
//! - **OSRM** `table` output (`annotations=distance,duration`): `distances` and
//!   `durations` rows over the request's coordinates, with each snapped `location` in
//!   `sources`;
//! - **Valhalla** `sources_to_targets` output: `sources_to_targets` rows of
//!   `{distance (km), time (s)}`, with the `sources` locations.
//!
//! The routers' outputs are matched to the plan's places by location: each place takes
//! the matrix point nearest to it, within [`MATCH_M`]. A place with no point that near,
//! or a pair the router could not route (`null`), is an error naming it.

use std::collections::HashMap;

use serde_json::Value;
use thiserror::Error;

use crate::plan::{LatLon, haversine_m};

/// How far a router's snapped location may be from the place it stands for, metres.
pub const MATCH_M: f64 = 250.0;

/// What is wrong with a road matrix.
#[derive(Debug, Error, PartialEq)]
pub enum MatrixError {
    /// The file could not be read as the form it claims.
    #[error("road matrix: {0}")]
    Format(String),
    /// A place has no entry (CSV) or no matrix point near it (OSRM, Valhalla).
    #[error("road matrix: no entry for {0}")]
    Missing(String),
    /// The router found no road between two places.
    #[error("road matrix: no road from {from} to {to}")]
    Unreachable {
        /// Where from.
        from: String,
        /// Where to.
        to: String,
    },
}

/// A router's distances (metres) and times (seconds, when it gave them).
#[derive(Debug, Clone, PartialEq)]
pub enum RoadMatrix {
    /// By name (the CSV form).
    Keyed(HashMap<(String, String), (Option<f64>, Option<f64>)>),
    /// By location (OSRM, Valhalla): square matrices over `points`.
    Located {
        /// The router's points.
        points: Vec<LatLon>,
        /// Row-major distances, metres; `None` where there is no road.
        dist_m: Vec<Option<f64>>,
        /// Row-major times, seconds; `None` where not given.
        time_s: Vec<Option<f64>>,
    },
}

/// One place of a plan: its name and location.
#[derive(Debug, Clone, Copy)]
pub struct Place<'a> {
    /// `depot`, `tip` or a device id.
    pub name: &'a str,
    /// Where it is.
    pub at: LatLon,
}

impl RoadMatrix {
    /// Reads a matrix, telling the form from its content: JSON with `sources_to_targets`
    /// is Valhalla's, other JSON OSRM's, anything else CSV.
    pub fn parse(text: &str) -> Result<Self, MatrixError> {
        if text.trim_start().starts_with('{') {
            let v: Value =
                serde_json::from_str(text).map_err(|e| MatrixError::Format(e.to_string()))?;
            if v.get("sources_to_targets").is_some() {
                Self::valhalla(&v)
            } else {
                Self::osrm(&v)
            }
        } else {
            Self::csv(text)
        }
    }

    fn csv(text: &str) -> Result<Self, MatrixError> {
        let mut r = csv::Reader::from_reader(text.as_bytes());
        let headers = r
            .headers()
            .map_err(|e| MatrixError::Format(e.to_string()))?
            .clone();
        let col = |name: &str| headers.iter().position(|h| h.trim() == name);
        let (Some(from), Some(to), Some(dist)) = (col("from"), col("to"), col("distance_m")) else {
            return Err(MatrixError::Format(
                "CSV needs the columns from,to,distance_m (and optionally duration_s)".into(),
            ));
        };
        let time = col("duration_s");
        let mut out = HashMap::new();
        for (i, rec) in r.records().enumerate() {
            let rec = rec.map_err(|e| MatrixError::Format(format!("line {}: {e}", i + 2)))?;
            let num = |c: Option<usize>| -> Result<Option<f64>, MatrixError> {
                match c.and_then(|c| rec.get(c)).map(str::trim) {
                    None | Some("") => Ok(None),
                    Some(s) => s.parse().map(Some).map_err(|_| {
                        MatrixError::Format(format!("line {}: {s:?} is not a number", i + 2))
                    }),
                }
            };
            out.insert(
                (rec[from].trim().to_owned(), rec[to].trim().to_owned()),
                (num(Some(dist))?, num(time)?),
            );
        }
        Ok(RoadMatrix::Keyed(out))
    }

    fn square(
        rows: Option<&Value>,
        n: usize,
        scale: f64,
        what: &str,
    ) -> Result<Vec<Option<f64>>, MatrixError> {
        let Some(rows) = rows else {
            return Ok(vec![None; n * n]);
        };
        let rows = rows
            .as_array()
            .filter(|r| r.len() == n)
            .ok_or_else(|| MatrixError::Format(format!("{what}: expected {n} rows")))?;
        let mut out = Vec::with_capacity(n * n);
        for row in rows {
            let row = row
                .as_array()
                .filter(|r| r.len() == n)
                .ok_or_else(|| MatrixError::Format(format!("{what}: expected {n} columns")))?;
            out.extend(row.iter().map(|x| x.as_f64().map(|x| x * scale)));
        }
        Ok(out)
    }

    fn osrm(v: &Value) -> Result<Self, MatrixError> {
        let points = locations(v.get("sources"), |p| {
            let l = p.get("location")?.as_array()?;
            Some(LatLon {
                lon: l.first()?.as_f64()?,
                lat: l.get(1)?.as_f64()?,
            })
        })?;
        let n = points.len();
        if v.get("distances").is_none() {
            return Err(MatrixError::Format(
                "OSRM table without distances: request annotations=distance,duration".into(),
            ));
        }
        Ok(RoadMatrix::Located {
            dist_m: Self::square(v.get("distances"), n, 1.0, "distances")?,
            time_s: Self::square(v.get("durations"), n, 1.0, "durations")?,
            points,
        })
    }

    fn valhalla(v: &Value) -> Result<Self, MatrixError> {
        // `sources` is a list of locations (older versions nest it in one more list).
        let sources = v.get("sources").map(|s| match s.as_array() {
            Some(a) if a.len() == 1 && a[0].is_array() => a[0].clone(),
            _ => s.clone(),
        });
        let points = locations(sources.as_ref(), |p| {
            Some(LatLon {
                lat: p.get("lat")?.as_f64()?,
                lon: p.get("lon")?.as_f64()?,
            })
        })?;
        let n = points.len();
        let rows = v["sources_to_targets"]
            .as_array()
            .filter(|r| r.len() == n)
            .ok_or_else(|| MatrixError::Format(format!("sources_to_targets: expected {n} rows")))?;
        let (mut dist_m, mut time_s) = (Vec::with_capacity(n * n), Vec::with_capacity(n * n));
        for row in rows {
            let row = row.as_array().filter(|r| r.len() == n).ok_or_else(|| {
                MatrixError::Format(format!("sources_to_targets: expected {n} columns"))
            })?;
            for cell in row {
                dist_m.push(
                    cell.get("distance")
                        .and_then(Value::as_f64)
                        .map(|km| km * 1000.0),
                );
                time_s.push(cell.get("time").and_then(Value::as_f64));
            }
        }
        Ok(RoadMatrix::Located {
            points,
            dist_m,
            time_s,
        })
    }

    /// For each place, its index in a located matrix (the nearest point within
    /// [`MATCH_M`]); `None` for a keyed one.
    pub fn match_places(&self, places: &[Place<'_>]) -> Result<Option<Vec<usize>>, MatrixError> {
        let RoadMatrix::Located { points, .. } = self else {
            return Ok(None);
        };
        places
            .iter()
            .map(|p| {
                points
                    .iter()
                    .enumerate()
                    .map(|(i, q)| (i, haversine_m(p.at, *q)))
                    .min_by(|a, b| a.1.total_cmp(&b.1))
                    .filter(|(_, d)| *d <= MATCH_M)
                    .map(|(i, _)| i)
                    .ok_or_else(|| MatrixError::Missing(p.name.to_owned()))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
    }

    /// The distance (metres) and time (seconds, if given) from `a` to `b`;
    /// `index` is what [`RoadMatrix::match_places`] gave for them.
    pub fn leg(
        &self,
        a: Place<'_>,
        b: Place<'_>,
        index: Option<(usize, usize)>,
    ) -> Result<(f64, Option<f64>), MatrixError> {
        if a.name == b.name {
            return Ok((0.0, Some(0.0)));
        }
        let unreachable = || MatrixError::Unreachable {
            from: a.name.to_owned(),
            to: b.name.to_owned(),
        };
        match (self, index) {
            (RoadMatrix::Keyed(m), _) => {
                let (d, t) = m
                    .get(&(a.name.to_owned(), b.name.to_owned()))
                    .ok_or_else(|| MatrixError::Missing(format!("{} -> {}", a.name, b.name)))?;
                Ok((d.ok_or_else(unreachable)?, *t))
            }
            (
                RoadMatrix::Located {
                    points,
                    dist_m,
                    time_s,
                },
                Some((i, j)),
            ) => {
                let k = i * points.len() + j;
                Ok((dist_m[k].ok_or_else(unreachable)?, time_s[k]))
            }
            (RoadMatrix::Located { .. }, None) => Err(MatrixError::Missing(a.name.to_owned())),
        }
    }
}

/// The points of a router's `sources` list.
fn locations(
    sources: Option<&Value>,
    point: impl Fn(&Value) -> Option<LatLon>,
) -> Result<Vec<LatLon>, MatrixError> {
    let list = sources
        .and_then(Value::as_array)
        .ok_or_else(|| MatrixError::Format("no sources with their locations".into()))?;
    list.iter()
        .enumerate()
        .map(|(i, p)| {
            point(p).ok_or_else(|| MatrixError::Format(format!("source {i} has no location")))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: LatLon = LatLon {
        lat: 52.2,
        lon: 0.12,
    };
    const B: LatLon = LatLon {
        lat: 52.21,
        lon: 0.13,
    };

    fn place(name: &str, at: LatLon) -> Place<'_> {
        Place { name, at }
    }

    #[test]
    fn a_csv_matrix_is_looked_up_by_name_and_a_gap_is_named() {
        let m = RoadMatrix::parse(
            "from,to,distance_m,duration_s\ndepot,bin-1,1200,150\nbin-1,depot,,\n",
        )
        .unwrap();
        let (d, b) = (place("depot", A), place("bin-1", B));
        assert_eq!(m.leg(d, b, None), Ok((1200.0, Some(150.0))));
        assert_eq!(
            m.leg(b, d, None),
            Err(MatrixError::Unreachable {
                from: "bin-1".into(),
                to: "depot".into()
            })
        );
        assert!(matches!(
            m.leg(d, place("bin-2", B), None),
            Err(MatrixError::Missing(_))
        ));
        assert!(RoadMatrix::parse("a,b\n1,2\n").is_err());
    }

    #[test]
    fn osrm_and_valhalla_tables_are_matched_to_places_by_location() {
        let osrm = r#"{"code":"Ok","sources":[{"location":[0.12,52.2]},{"location":[0.1301,52.2101]}],
            "distances":[[0,1500],[1600,0]],"durations":[[0,180],[190,0]]}"#;
        let valhalla = r#"{"sources":[[{"lat":52.2,"lon":0.12},{"lat":52.2101,"lon":0.1301}]],
            "sources_to_targets":[[{"distance":0,"time":0},{"distance":1.5,"time":180}],
                                  [{"distance":1.6,"time":190},{"distance":0,"time":0}]]}"#;
        for text in [osrm, valhalla] {
            let m = RoadMatrix::parse(text).unwrap();
            let places = [place("depot", A), place("bin-1", B)];
            let idx = m.match_places(&places).unwrap().unwrap();
            assert_eq!(idx, [0, 1]);
            let (d, t) = m.leg(places[0], places[1], Some((0, 1))).unwrap();
            assert!((d - 1500.0).abs() < 1e-6 && t == Some(180.0), "{d} {t:?}");
            let far = [place(
                "bin-9",
                LatLon {
                    lat: 53.0,
                    lon: 1.0,
                },
            )];
            assert_eq!(
                m.match_places(&far),
                Err(MatrixError::Missing("bin-9".into()))
            );
        }
        let unroutable = r#"{"sources":[{"location":[0.12,52.2]},{"location":[0.13,52.21]}],
            "distances":[[0,null],[1,0]]}"#;
        let m = RoadMatrix::parse(unroutable).unwrap();
        let places = [place("depot", A), place("bin-1", B)];
        assert!(matches!(
            m.leg(places[0], places[1], Some((0, 1))),
            Err(MatrixError::Unreachable { .. })
        ));
    }
}
