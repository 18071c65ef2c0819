//! The map read back as XML: panels, legends, labels' boxes, well-formedness and
//! determinism, each checked from the SVG text and the plan, not from the drawing code.

use proptest::prelude::*;

use super::to_svg;
use crate::plan::tests::{fleet, town};
use crate::plan::{LatLon, Plan, PlanInputs, Round, Stop, Trip, plan_by_stream};
use crate::select::{BinState, Reason, Selected, SelectionConfig, select};

const H: i64 = 3_600_000;
const DEPOT: LatLon = LatLon {
    lat: 52.2,
    lon: 0.12,
};

// ---- A small XML reader: enough to check well-formedness and read the map back ----

#[derive(Debug)]
struct El {
    name: String,
    attrs: Vec<(String, String)>,
    /// The element's own text (entities resolved), not its children's.
    text: String,
    parent: Option<usize>,
}

impl El {
    fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn has_class(&self, class: &str) -> bool {
        self.attr("class")
            .is_some_and(|c| c.split(' ').any(|w| w == class))
    }

    fn num(&self, name: &str) -> f64 {
        self.attr(name)
            .unwrap_or_else(|| panic!("<{}> has no {name}", self.name))
            .parse()
            .unwrap()
    }
}

/// Resolves the five predefined entities and character references; any other `&`, a
/// `<`, or a character XML 1.0 forbids is an error.
fn unescape(s: &str) -> Result<String, String> {
    if let Some(c) = s
        .chars()
        .find(|&c| c == '<' || (u32::from(c) < 0x20 && !matches!(c, '\t' | '\n' | '\r')))
    {
        return Err(format!("{c:?} in {s:?}"));
    }
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        let end = rest[i..].find(';').ok_or(format!("unended & in {s:?}"))? + i;
        let c = match &rest[i + 1..end] {
            "amp" => '&',
            "lt" => '<',
            "gt" => '>',
            "quot" => '"',
            "apos" => '\'',
            e => {
                let n = if let Some(h) = e.strip_prefix("#x") {
                    u32::from_str_radix(h, 16).ok()
                } else {
                    e.strip_prefix('#').and_then(|d| d.parse().ok())
                };
                n.and_then(char::from_u32)
                    .ok_or(format!("entity &{e}; in {s:?}"))?
            }
        };
        out.push(c);
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

fn is_name(s: &str) -> bool {
    let mut c = s.chars();
    c.next()
        .is_some_and(|f| f.is_ascii_alphabetic() || f == '_' || f == ':')
        && c.all(|x| x.is_ascii_alphanumeric() || matches!(x, '_' | ':' | '.' | '-'))
}

/// A tag's name and attributes (`name="value"`, each once).
fn tag(body: &str) -> Result<(String, Vec<(String, String)>), String> {
    let body = body.trim_end();
    let name_end = body.find(char::is_whitespace).unwrap_or(body.len());
    let name = &body[..name_end];
    if !is_name(name) {
        return Err(format!("tag name {name:?}"));
    }
    let mut attrs: Vec<(String, String)> = Vec::new();
    let mut rest = body[name_end..].trim_start();
    while !rest.is_empty() {
        let eq = rest
            .find('=')
            .ok_or(format!("attribute without = in <{body}>"))?;
        let key = &rest[..eq];
        if !is_name(key) {
            return Err(format!("attribute name {key:?}"));
        }
        let after = rest[eq + 1..]
            .strip_prefix('"')
            .ok_or(format!("unquoted {key} in <{body}>"))?;
        let close = after.find('"').ok_or(format!("unended {key}"))?;
        if attrs.iter().any(|(k, _)| k == key) {
            return Err(format!("{key} twice"));
        }
        attrs.push((key.to_owned(), unescape(&after[..close])?));
        let next = &after[close + 1..];
        if !(next.is_empty() || next.starts_with(char::is_whitespace)) {
            return Err(format!("no space after {key}"));
        }
        rest = next.trim_start();
    }
    Ok((name.to_owned(), attrs))
}

/// Parses `doc`: one root, every tag closed in order, attributes quoted, text escaped.
fn parse(doc: &str) -> Result<Vec<El>, String> {
    let mut els: Vec<El> = Vec::new();
    let mut open: Vec<usize> = Vec::new();
    let mut roots = 0;
    let mut rest = doc;
    loop {
        let lt = rest.find('<').unwrap_or(rest.len());
        let text = unescape(&rest[..lt])?;
        match open.last() {
            Some(&i) => els[i].text.push_str(&text),
            None if text.trim().is_empty() => {}
            None => return Err(format!("text outside the root: {text:?}")),
        }
        if lt == rest.len() {
            break;
        }
        let gt = rest[lt..].find('>').ok_or("unended tag")? + lt;
        let inner = &rest[lt + 1..gt];
        rest = &rest[gt + 1..];
        if let Some(name) = inner.strip_prefix('/') {
            let i = open.pop().ok_or(format!("</{name}> closes nothing"))?;
            if els[i].name != name.trim_end() {
                return Err(format!("<{}> closed by </{name}>", els[i].name));
            }
        } else {
            let (body, empty) = match inner.strip_suffix('/') {
                Some(b) => (b, true),
                None => (inner, false),
            };
            let (name, attrs) = tag(body)?;
            if open.is_empty() {
                roots += 1;
            }
            els.push(El {
                name,
                attrs,
                text: String::new(),
                parent: open.last().copied(),
            });
            if !empty {
                open.push(els.len() - 1);
            }
        }
    }
    match (open.last(), roots) {
        (Some(&i), _) => Err(format!("<{}> never closed", els[i].name)),
        (None, 1) => Ok(els),
        (None, n) => Err(format!("{n} root elements")),
    }
}

// ---- Reading the map back ----

/// A box, px: (x0, y0, x1, y1).
type Bx = (f64, f64, f64, f64);

fn overlap(a: Bx, b: Bx) -> bool {
    a.0 < b.2 && b.0 < a.2 && a.1 < b.3 && b.1 < a.3
}

/// A `<text>`'s box by the metric the module documents: 0.62 × font-size a character,
/// from 1 × font-size above the baseline to 0.3 × font-size below, moved by the anchor.
fn text_box(t: &El) -> Bx {
    let (x, y, size) = (t.num("x"), t.num("y"), t.num("font-size"));
    let w = 0.62 * size * t.text.chars().count() as f64;
    let x0 = match t.attr("text-anchor") {
        Some("middle") => x - w / 2.0,
        Some("end") => x - w,
        _ => x,
    };
    (x0, y - size, x0 + w, y + 0.3 * size)
}

/// A marker's box: a `<rect>`'s, or a `<polygon>`'s points' bounds.
fn marker_box(m: &El) -> Bx {
    if m.name == "rect" {
        let (x, y) = (m.num("x"), m.num("y"));
        return (x, y, x + m.num("width"), y + m.num("height"));
    }
    let pts: Vec<(f64, f64)> = m
        .attr("points")
        .unwrap()
        .split(' ')
        .map(|p| {
            let (x, y) = p.split_once(',').unwrap();
            (x.parse().unwrap(), y.parse().unwrap())
        })
        .collect();
    let xs = pts.iter().map(|p| p.0);
    let ys = pts.iter().map(|p| p.1);
    (
        xs.clone().fold(f64::MAX, f64::min),
        ys.clone().fold(f64::MAX, f64::min),
        xs.fold(f64::MIN, f64::max),
        ys.fold(f64::MIN, f64::max),
    )
}

/// The panel (`<g class="panel">`) an element is in.
fn panel_of(els: &[El], mut i: usize) -> Option<usize> {
    loop {
        if els[i].has_class("panel") {
            return Some(i);
        }
        i = els[i].parent?;
    }
}

fn panels(els: &[El]) -> Vec<usize> {
    (0..els.len())
        .filter(|&i| els[i].has_class("panel"))
        .collect()
}

/// Boxes read back from a map.
struct Boxes {
    /// Every text's, with its text.
    texts: Vec<(Bx, String)>,
    /// The map labels', with their panel and text.
    labels: Vec<(Option<usize>, Bx, String)>,
    /// The markers', with their panel.
    markers: Vec<(Option<usize>, Bx)>,
}

fn boxes(els: &[El]) -> Boxes {
    let texts = els
        .iter()
        .filter(|e| e.name == "text")
        .map(|e| (text_box(e), e.text.clone()))
        .collect();
    let labels = (0..els.len())
        .filter(|&i| els[i].name == "text" && els[i].has_class("label"))
        .map(|i| (panel_of(els, i), text_box(&els[i]), els[i].text.clone()))
        .collect();
    let markers = (0..els.len())
        .filter(|&i| els[i].has_class("marker"))
        .map(|i| (panel_of(els, i), marker_box(&els[i])))
        .collect();
    Boxes {
        texts,
        labels,
        markers,
    }
}

/// No two texts' boxes overlap, none leaves the page, and no map label covers a
/// marker of its panel.
fn assert_texts_apart(svg: &str) {
    let els = parse(svg).unwrap();
    let (w, h) = (els[0].num("width"), els[0].num("height"));
    let Boxes {
        texts,
        labels,
        markers,
    } = boxes(&els);
    assert!(
        labels.len() >= panels(&els).len(),
        "a label or two per panel"
    );
    for (i, (a, at)) in texts.iter().enumerate() {
        assert!(
            a.0 >= 0.0 && a.1 >= 0.0 && a.2 <= w && a.3 <= h,
            "{at:?} {a:?} off the page"
        );
        for (b, bt) in &texts[i + 1..] {
            assert!(!overlap(*a, *b), "{at:?} {a:?} overlaps {bt:?} {b:?}");
        }
    }
    for (p, l, lt) in &labels {
        for (q, m) in &markers {
            assert!(
                p != q || !overlap(*l, *m),
                "label {lt:?} {l:?} covers a marker {m:?}"
            );
        }
    }
}

// ---- Plans ----

fn bin(id: String, stream: &str, lat: f64, lon: f64) -> Selected {
    Selected {
        bin: BinState {
            device_id: id,
            ward: "Abbey & Castle".into(),
            stream: stream.into(),
            lat,
            lon,
            capacity_l: 240.0,
            fill_pct: 80.0,
            fill_rate_pct_h: None,
            observed_ms: 0,
            fire: false,
            tilt: false,
        },
        reasons: vec![Reason::MustVisit],
        fill_at_visit_pct: 80.0,
        demand_l: 192.0,
    }
}

/// A round's trips' stops, metres east and north of [`DEPOT`].
type Trips = Vec<Vec<(f64, f64)>>;

/// A plan made by hand: per round its stream and its trips' stops (metres east and
/// north of [`DEPOT`]), with made-up distances with decimals in them.
fn plan_of(rounds: &[(&str, Trips)]) -> Plan {
    let rounds = rounds
        .iter()
        .enumerate()
        .map(|(v, (stream, trips))| {
            let trips: Vec<Trip> = trips
                .iter()
                .enumerate()
                .map(|(t, stops)| Trip {
                    stops: stops
                        .iter()
                        .enumerate()
                        .map(|(i, &(e, n))| Stop {
                            bin: bin(
                                format!("v{v}-t{t}-{i}"),
                                stream,
                                DEPOT.lat + n / 111_195.0,
                                DEPOT.lon + e / 68_080.0,
                            ),
                            arrival_ms: 30 * H + i as i64 * 60_000,
                            load_l: 192.0 * (i + 1) as f64,
                        })
                        .collect(),
                    distance_m: 1_234.56 * (v + 1) as f64
                        + 987.65 * t as f64
                        + 49.0 * stops.len() as f64,
                    load_l: 192.0 * stops.len() as f64,
                })
                .collect();
            let distance_m = trips.iter().map(|t| t.distance_m).sum::<f64>() + 850.0;
            Round {
                vehicle: v + 1,
                stream: (*stream).to_owned(),
                trips,
                start_ms: 30 * H,
                end_ms: 36 * H,
                distance_m,
            }
        })
        .collect();
    Plan {
        rounds,
        unassigned: Vec::new(),
        solver_cost_m: 0,
    }
}

/// A point `m` metres east and north of [`DEPOT`].
fn near(e: f64, n: f64) -> LatLon {
    LatLon {
        lat: DEPOT.lat + n / 111_195.0,
        lon: DEPOT.lon + e / 68_080.0,
    }
}

/// A ring of `n` stops `r` metres around (`e`, `n`).
fn ring(n: usize, r: f64, (e, no): (f64, f64)) -> Vec<(f64, f64)> {
    (0..n)
        .map(|i| {
            let a = i as f64 / n as f64 * std::f64::consts::TAU;
            (e + r * a.cos(), no + r * a.sin())
        })
        .collect()
}

/// 40 bins of the test town, every other one recycling, planned by the solver.
fn two_streams() -> (Plan, LatLon, LatLon) {
    let mut bins = town(40, 70.0, 240.0);
    for b in bins.iter_mut().skip(1).step_by(2) {
        b.stream = "recycling".into();
    }
    let selection = select(&bins, 30 * H, &SelectionConfig::default());
    let fleet = fleet();
    let inputs = PlanInputs {
        fleet: &fleet,
        matrix: None,
        start_ms: 30 * H,
        seconds: 0.4,
        seed: 1,
    };
    let p = plan_by_stream(&selection, &inputs, |_| {}).unwrap();
    (p, fleet.depot, fleet.tip.unwrap())
}

/// Three streams, their rounds interleaved, depot and tip 10 m apart among the bins.
fn crowded() -> (Plan, LatLon, LatLon) {
    let p = plan_of(&[
        (
            "general",
            vec![ring(8, 25.0, (0.0, 0.0)), ring(5, 400.0, (300.0, 0.0))],
        ),
        ("food", vec![ring(6, 15.0, (5.0, 5.0))]),
        ("general", vec![ring(7, 60.0, (-200.0, 100.0))]),
        (
            "garden",
            vec![
                ring(4, 800.0, (0.0, 0.0)),
                ring(3, 30.0, (10.0, 0.0)),
                ring(2, 5.0, (0.0, 0.0)),
            ],
        ),
    ]);
    (p, near(0.0, 0.0), near(8.0, 6.0))
}

// ---- Tests ----

#[test]
fn a_panel_per_stream_each_with_the_depot_the_tip_and_its_own_trips() {
    let (p, depot, tip) = two_streams();
    let svg = to_svg(&p, depot, tip);
    if let Ok(path) = std::env::var("KERBSIDE_SVG_EXAMPLE") {
        std::fs::write(path, &svg).unwrap();
    }
    for (p, depot, tip) in [(p, depot, tip), crowded()] {
        let els = parse(&to_svg(&p, depot, tip)).unwrap();
        let mut streams: Vec<&str> = p.rounds.iter().map(|r| r.stream.as_str()).collect();
        streams.sort_unstable();
        streams.dedup();
        let panels = panels(&els);
        let names: Vec<&str> = panels
            .iter()
            .map(|&i| els[i].attr("data-stream").unwrap())
            .collect();
        assert_eq!(names, streams, "a panel per stream, by name");
        for (&i, stream) in panels.iter().zip(&streams) {
            let inside = |class: &str| {
                (0..els.len())
                    .filter(|&j| els[j].has_class(class) && panel_of(&els, j) == Some(i))
                    .count()
            };
            let rounds = p.rounds.iter().filter(|r| r.stream == *stream);
            let trips: usize = rounds.clone().map(|r| r.trips.len()).sum();
            let stops: usize = rounds.flat_map(|r| &r.trips).map(|t| t.stops.len()).sum();
            assert_eq!(inside("trip"), trips, "{stream}'s trips and none else");
            assert_eq!(inside("stop"), stops, "{stream}'s bins and none else");
            assert_eq!((inside("depot"), inside("tip")), (1, 1), "{stream}");
            let titled = (0..els.len()).any(|j| {
                els[j].has_class("title") && els[j].text == *stream && panel_of(&els, j) == Some(i)
            });
            assert!(titled, "{stream}'s panel is titled");
        }
    }
}

#[test]
fn the_legend_lists_every_trip_with_its_km_and_stops() {
    let (p, depot, tip) = two_streams();
    // Enough trips in one stream for a second legend column.
    let many = plan_of(
        &(0..9)
            .map(|v| {
                (
                    "general",
                    (0..2)
                        .map(|t| ring(2 + v + t, 300.0 + 50.0 * v as f64, (0.0, 0.0)))
                        .collect(),
                )
            })
            .collect::<Vec<_>>(),
    );
    for (p, depot, tip) in [(p, depot, tip), crowded(), (many, DEPOT, near(500.0, 0.0))] {
        let els = parse(&to_svg(&p, depot, tip)).unwrap();
        for i in panels(&els) {
            let stream = els[i].attr("data-stream").unwrap();
            let mut want: Vec<[String; 4]> = Vec::new();
            for r in p.rounds.iter().filter(|r| r.stream == stream) {
                for (n, t) in r.trips.iter().enumerate() {
                    let km = (t.distance_m / 100.0).round() / 10.0;
                    want.push([
                        r.vehicle.to_string(),
                        (n + 1).to_string(),
                        format!("{km:.1}"),
                        t.stops.len().to_string(),
                    ]);
                }
            }
            let rows: Vec<[String; 4]> = (0..els.len())
                .filter(|&j| els[j].has_class("legend-row") && panel_of(&els, j) == Some(i))
                .map(|j| {
                    let cells: Vec<String> = els
                        .iter()
                        .filter(|e| e.parent == Some(j) && e.name == "text")
                        .map(|e| e.text.clone())
                        .collect();
                    cells.try_into().unwrap()
                })
                .collect();
            assert_eq!(rows, want, "{stream}");
        }
    }
}

#[test]
fn no_two_texts_overlap_and_no_label_covers_a_marker() {
    let (p, depot, tip) = two_streams();
    assert_texts_apart(&to_svg(&p, depot, tip));
    let (p, depot, tip) = crowded();
    assert_texts_apart(&to_svg(&p, depot, tip));
    // The depot at the map's edge: its label must go inwards.
    let east = plan_of(&[("general", vec![ring(12, 500.0, (2_000.0, 0.0))])]);
    assert_texts_apart(&to_svg(&east, DEPOT, near(4_000.0, 0.0)));
    // The tip swept around the depot in 10 m steps out to 800 m (2 px steps on this
    // map): whatever the distance, with and without the far-side rule for close sites,
    // the depot's label must not run into the tip's marker or label, nor the reverse.
    let ring_of_bins = plan_of(&[("general", vec![ring(12, 1_000.0, (0.0, 0.0))])]);
    for k in 0..16 {
        let a = k as f64 / 16.0 * std::f64::consts::TAU;
        for m in (1..=80).map(|i| 10.0 * i as f64) {
            let tip = near(m * a.cos(), m * a.sin());
            assert_texts_apart(&to_svg(&ring_of_bins, DEPOT, tip));
        }
    }
    // Nothing planned: one panel, still labelled.
    let empty = plan_of(&[]);
    assert_texts_apart(&to_svg(&empty, DEPOT, near(600.0, 0.0)));
}

#[test]
fn depot_and_tip_10_m_apart_get_two_labels_that_do_not_touch() {
    let p = plan_of(&[(
        "general",
        vec![ring(10, 20.0, (0.0, 0.0)), ring(10, 1_500.0, (0.0, 0.0))],
    )]);
    let (depot, tip) = (DEPOT, near(6.0, 8.0));
    assert!((crate::plan::haversine_m(depot, tip) - 10.0).abs() < 0.1);
    let svg = to_svg(&p, depot, tip);
    let els = parse(&svg).unwrap();
    let Boxes {
        labels, markers, ..
    } = boxes(&els);
    let texts: Vec<&str> = labels.iter().map(|(_, _, t)| t.as_str()).collect();
    assert_eq!(texts, ["depot", "tip"]);
    assert_eq!(markers.len(), 2);
    assert!(
        overlap(markers[0].1, markers[1].1),
        "10 m apart, the markers do touch"
    );
    assert!(!overlap(labels[0].1, labels[1].1), "{labels:?}");
    assert_texts_apart(&svg);
}

#[test]
fn depot_and_tip_in_one_place_get_one_marker_and_one_label() {
    let p = plan_of(&[("general", vec![ring(10, 300.0, (0.0, 0.0))])]);
    let els = parse(&to_svg(&p, DEPOT, DEPOT)).unwrap();
    let Boxes {
        labels, markers, ..
    } = boxes(&els);
    let texts: Vec<&str> = labels.iter().map(|(_, _, t)| t.as_str()).collect();
    assert_eq!(texts, ["depot & tip"]);
    assert_eq!(markers.len(), 1);
}

#[test]
fn the_map_is_well_formed_xml_whatever_the_names() {
    let mut p = plan_of(&[
        ("<paper & \"card\">", vec![ring(4, 200.0, (0.0, 0.0))]),
        ("glass\u{1}", vec![ring(3, 200.0, (0.0, 0.0))]),
    ]);
    p.rounds[0].trips[0].stops[0].bin.bin.device_id = "bin <1> & 'two'".into();
    p.unassigned = vec![vec![bin(
        "late & lost".into(),
        "<paper & \"card\">",
        52.201,
        0.121,
    )]];
    let svg = to_svg(&p, DEPOT, near(100.0, 0.0));
    let els = parse(&svg).unwrap();
    assert_eq!(els[0].name, "svg");
    assert_eq!(els[0].attr("xmlns"), Some("http://www.w3.org/2000/svg"));
    let names: Vec<&str> = panels(&els)
        .iter()
        .map(|&i| els[i].attr("data-stream").unwrap())
        .collect();
    assert_eq!(names, ["<paper & \"card\">", "glass\u{fffd}"]);
    assert!(els.iter().any(|e| e.text == "bin <1> & 'two'"));
    assert!(els.iter().any(|e| e.has_class("unassigned")));
    assert_eq!(svg.matches("http").count(), 1, "no links but the namespace");
    assert!(!svg.contains("<script") && !svg.contains("@font-face") && !svg.contains("href"));
    assert_texts_apart(&svg);
    // The reader does reject what is not XML.
    for bad in [
        "<a><b></a></b>",
        "<a>&</a>",
        "<a x=\"<\"/>",
        "<a x=1/>",
        "<a/><b/>",
        "<a>",
        "<a>\u{1}</a>",
        "<a x=\"1\" x=\"2\"/>",
    ] {
        assert!(parse(bad).is_err(), "{bad}");
    }
}

#[test]
fn the_same_plan_gives_the_same_bytes() {
    let (p, depot, tip) = crowded();
    let svg = to_svg(&p, depot, tip);
    assert_eq!(to_svg(&p, depot, tip), svg);
    assert_eq!(to_svg(&p.clone(), depot, tip), svg);
    let (p, depot, tip) = two_streams();
    assert_eq!(to_svg(&p, depot, tip), to_svg(&p.clone(), depot, tip));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Wherever the depot, the tip and the bins are, no label covers another or a
    /// marker and no text another.
    #[test]
    fn labels_never_collide_wherever_the_sites_and_bins_are(
        tip in (-600.0..600.0f64, -600.0..600.0f64),
        bins in proptest::collection::vec((-300.0..300.0f64, -300.0..300.0f64), 1..40),
        split in 0usize..40,
    ) {
        let split = split.min(bins.len());
        let (a, b) = bins.split_at(split);
        let mut rounds = vec![("general", vec![a.to_vec()])];
        if !b.is_empty() {
            rounds.push(("recycling", vec![b.to_vec()]));
        }
        if a.is_empty() {
            rounds.remove(0);
        }
        let p = plan_of(&rounds);
        assert_texts_apart(&to_svg(&p, DEPOT, near(tip.0, tip.1)));
    }
}
