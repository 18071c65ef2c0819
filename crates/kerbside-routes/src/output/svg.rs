//! The SVG map of the day ([`to_svg`]): a panel per waste stream, laid out in a grid.
//!
//! Each panel (`<g class="panel" data-stream="...">`) has
//!
//! - a title: the stream, its vehicles, trips, km (depot to depot) and stops;
//! - a map at its own scale, fitted to the stream's bins, the depot and the tip: each
//!   trip a line in its vehicle's colour (a vehicle's later trips dashed), each bin a
//!   dot, bins of trips no shift had room for as red rings, the depot a square and the
//!   tip a triangle (one square, "depot & tip", when they are one place), and labels
//!   placed so that none covers another or a marker ([`place`]);
//! - a scale bar (north is up);
//! - a legend: a row per trip (`<g class="legend-row">`) with its swatch, vehicle,
//!   trip number, km and stops, then the km driven back to the depot and what was left
//!   unassigned.
//!
//! Every text's size is estimated by the metric of [`place`] (0.62 em a character, 1
//! em above the baseline, 0.3 em below) and the layout keeps those boxes apart. The
//! file is self-contained (a generic `sans-serif`, no scripts, no links), its text
//! escaped, and the same plan always gives the same bytes.

use std::collections::BTreeMap;

use super::trip_start;
use crate::plan::{LatLon, Plan, Round, haversine_m};
use crate::select::Selected;

mod place;
#[cfg(test)]
mod tests;

use place::{Anchor, Placer, Rect, text_box};

/// Vehicles' colours, in a panel's order of vehicles (readable on white).
const COLOURS: [&str; 10] = [
    "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2",
    "#7f7f7f", "#bcbd22",
];
/// A vehicle's trips' dash patterns, first trip solid.
const DASHES: [&str; 4] = ["", "7 4", "2 3", "9 3 2 3"];

/// The map's ground (and its labels').
const MAP_FILL: &str = "#f7f7f4";
/// Around the page, px.
const MARGIN: f64 = 20.0;
/// Between panels, px.
const GAP: f64 = 20.0;
/// A panel's width, px.
const PANEL_W: f64 = 600.0;
/// Inside a panel, px.
const PAD: f64 = 16.0;
/// The map's size, px.
const MAP_W: f64 = PANEL_W - 2.0 * PAD;
const MAP_H: f64 = 440.0;
/// Points are kept this far inside the map's edge, px (room for labels).
const INSET: f64 = 40.0;
/// A map shows at least this much ground, metres (a stream of one bin is not drawn at
/// street level).
const MIN_SPAN_M: f64 = 300.0;
/// Metres per degree of latitude.
const M_PER_DEG: f64 = 111_195.0;
/// Font sizes, px.
const HEAD_FONT: f64 = 18.0;
const TITLE_FONT: f64 = 16.0;
const TEXT_FONT: f64 = 12.0;
const SMALL_FONT: f64 = 11.0;
const LABEL_FONT: f64 = 12.0;
/// A legend row's height, px.
const ROW_H: f64 = 16.0;
/// Legend rows in one column before a second is started.
const ROWS_PER_COLUMN: usize = 12;
/// From one legend column to the next, px.
const LEGEND_COL_W: f64 = 270.0;
/// Markers' half-sizes, px.
const DEPOT_R: f64 = 5.0;
const TIP_R: f64 = 6.0;
const DOT_R: f64 = 3.0;
/// Depot and tip markers closer than this have their labels on their far sides, px.
const NEAR_PX: f64 = 48.0;
/// Depot and tip closer than this are one place, metres.
const SAME_PLACE_M: f64 = 1.0;

/// One stream's share of the plan.
struct Panel<'a> {
    stream: &'a str,
    rounds: Vec<&'a Round>,
    unassigned: Vec<&'a [Selected]>,
}

/// A panel per stream, by name; one empty panel for an empty plan.
fn panels(plan: &Plan) -> Vec<Panel<'_>> {
    let mut by: BTreeMap<&str, Panel<'_>> = BTreeMap::new();
    let empty = |stream| Panel {
        stream,
        rounds: Vec::new(),
        unassigned: Vec::new(),
    };
    for r in &plan.rounds {
        let s = r.stream.as_str();
        by.entry(s).or_insert_with(|| empty(s)).rounds.push(r);
    }
    for t in &plan.unassigned {
        if let Some(first) = t.first() {
            let s = first.bin.stream.as_str();
            by.entry(s).or_insert_with(|| empty(s)).unassigned.push(t);
        }
    }
    if by.is_empty() {
        return vec![empty("")];
    }
    by.into_values().collect()
}

fn at(s: &Selected) -> LatLon {
    LatLon {
        lat: s.bin.lat,
        lon: s.bin.lon,
    }
}

/// XML text or attribute value: markup escaped, characters XML 1.0 forbids replaced.
fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\t' | '\n' | '\r' => out.push(' '),
            c if u32::from(c) < 0x20 || c == '\u{fffe}' || c == '\u{ffff}' => {
                out.push('\u{fffd}');
            }
            c => out.push(c),
        }
    }
    out
}

/// `n thing` or `n things`.
fn count(n: usize, thing: &str) -> String {
    if n == 1 {
        format!("1 {thing}")
    } else {
        format!("{n} {thing}s")
    }
}

/// At most `max` characters of `s` (an ellipsis for the rest).
fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        s.chars().take(max.saturating_sub(1)).chain(['…']).collect()
    }
}

/// How a text is set.
struct Style {
    /// Font size, px.
    size: f64,
    anchor: Anchor,
    fill: &'static str,
}

const fn style(size: f64, anchor: Anchor, fill: &'static str) -> Style {
    Style { size, anchor, fill }
}

const HEADING: Style = style(HEAD_FONT, Anchor::Start, "#222");
const NOTE: Style = style(TEXT_FONT, Anchor::Start, "#444");
const WARNING: Style = style(TEXT_FONT, Anchor::Start, "#c00000");
const TITLE: Style = style(TITLE_FONT, Anchor::Start, "#222");
const LEGEND_HEAD: Style = style(SMALL_FONT, Anchor::Start, "#666");
const LEGEND_HEAD_END: Style = style(SMALL_FONT, Anchor::End, "#666");
const CELL: Style = style(SMALL_FONT, Anchor::Start, "#222");
const CELL_END: Style = style(SMALL_FONT, Anchor::End, "#222");
const SMALL_NOTE: Style = style(SMALL_FONT, Anchor::Start, "#444");
const SMALL_WARNING: Style = style(SMALL_FONT, Anchor::Start, "#c00000");
const SCALE: Style = style(SMALL_FONT, Anchor::Start, "#333");
const NORTH: Style = style(SMALL_FONT, Anchor::End, "#666");

/// Writes a `<text>` of class `class` with its anchor at (`x`, baseline `y`).
fn text(out: &mut String, class: &str, (x, y): (f64, f64), st: &Style, s: &str) {
    let (size, fill) = (st.size, st.fill);
    let anchor = match st.anchor {
        Anchor::Start => "",
        Anchor::End => " text-anchor=\"end\"",
    };
    out.push_str(&format!(
        "<text class=\"{class}\" x=\"{x:.1}\" y=\"{y:.1}\" font-size=\"{size}\"{anchor} fill=\"{fill}\">{}</text>\n",
        xml_escape(s)
    ));
}

/// A panel's totals: vehicles, trips, km depot to depot, stops.
fn totals<'a>(rounds: impl IntoIterator<Item = &'a Round>) -> (usize, usize, f64, usize) {
    rounds.into_iter().fold((0, 0, 0.0, 0), |(v, t, m, s), r| {
        (
            v + 1,
            t + r.trips.len(),
            m + r.distance_m,
            s + r.trips.iter().map(|t| t.stops.len()).sum::<usize>(),
        )
    })
}

fn summary(v: usize, t: usize, m: f64, s: usize) -> String {
    format!(
        "{}, {}, {:.1} km, {}",
        count(v, "vehicle"),
        count(t, "trip"),
        m / 1000.0,
        count(s, "stop")
    )
}

/// An SVG map of the day: a panel per waste stream, each at its own scale with the
/// depot and the tip, its trips in their vehicles' colours and a legend of them (see
/// the module's docs).
pub fn to_svg(plan: &Plan, depot: LatLon, tip: LatLon) -> String {
    let panels = panels(plan);
    let cols = (panels.len() as f64).sqrt().ceil() as usize;
    let width = 2.0 * MARGIN + cols as f64 * PANEL_W + (cols - 1) as f64 * GAP;
    let unassigned: Vec<&Vec<Selected>> =
        plan.unassigned.iter().filter(|t| !t.is_empty()).collect();

    let mut body = String::new();
    let head_h = MARGIN + if unassigned.is_empty() { 52.0 } else { 70.0 };
    text(
        &mut body,
        "heading",
        (MARGIN, MARGIN + HEAD_FONT),
        &HEADING,
        "Collection rounds",
    );
    let (v, t, m, s) = totals(&plan.rounds);
    let line = format!("{}: {}", count(panels.len(), "stream"), summary(v, t, m, s));
    text(&mut body, "heading", (MARGIN, MARGIN + 40.0), &NOTE, &line);
    if !unassigned.is_empty() {
        let bins: usize = unassigned.iter().map(|t| t.len()).sum();
        let line = format!(
            "{} ({}) no shift had room for: add a vehicle or a shift",
            count(unassigned.len(), "trip"),
            count(bins, "bin")
        );
        text(
            &mut body,
            "heading warning",
            (MARGIN, MARGIN + 58.0),
            &WARNING,
            &line,
        );
    }

    let mut y = head_h;
    for (row, chunk) in panels.chunks(cols).enumerate() {
        let mut row_h: f64 = 0.0;
        for (col, panel) in chunk.iter().enumerate() {
            let x = MARGIN + col as f64 * (PANEL_W + GAP);
            let index = row * cols + col;
            row_h = row_h.max(draw_panel(&mut body, panel, index, x, y, depot, tip));
        }
        y += row_h + GAP;
    }
    let height = y - GAP + MARGIN;
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" font-family=\"sans-serif\">\n\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n{body}</svg>\n"
    )
}

/// Where a panel's points go on its map: an equirectangular projection, fitted.
struct Frame {
    kx: f64,
    mid: (f64, f64),
    scale: f64,
    map: Rect,
}

impl Frame {
    fn fit(points: &[LatLon], map: Rect) -> Self {
        let (mut lat0, mut lat1) = (f64::MAX, f64::MIN);
        for p in points.iter().filter(|p| p.lat.is_finite()) {
            lat0 = lat0.min(p.lat);
            lat1 = lat1.max(p.lat);
        }
        let kx = ((lat0 + lat1) / 2.0).to_radians().cos().max(0.01);
        let m = |p: &LatLon| (p.lon * kx * M_PER_DEG, p.lat * M_PER_DEG);
        let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
        for (x, y) in points
            .iter()
            .map(m)
            .filter(|(x, y)| x.is_finite() && y.is_finite())
        {
            (x0, x1, y0, y1) = (x0.min(x), x1.max(x), y0.min(y), y1.max(y));
        }
        let span_x = (x1 - x0).max(MIN_SPAN_M);
        let span_y = (y1 - y0).max(MIN_SPAN_M);
        let scale = ((MAP_W - 2.0 * INSET) / span_x).min((MAP_H - 2.0 * INSET) / span_y);
        Self {
            kx,
            mid: ((x0 + x1) / 2.0, (y0 + y1) / 2.0),
            scale,
            map,
        }
    }

    fn xy(&self, p: LatLon) -> (f64, f64) {
        let (cx, cy) = self.map.centre();
        (
            cx + (p.lon * self.kx * M_PER_DEG - self.mid.0) * self.scale,
            cy - (p.lat * M_PER_DEG - self.mid.1) * self.scale,
        )
    }
}

/// Draws a panel with its top left at (`x`, `y`); returns its height.
fn draw_panel(
    out: &mut String,
    panel: &Panel<'_>,
    index: usize,
    x: f64,
    y: f64,
    depot: LatLon,
    tip: LatLon,
) -> f64 {
    let legend_rows: usize = panel.rounds.iter().map(|r| r.trips.len()).sum();
    let legend_cols = if legend_rows > ROWS_PER_COLUMN { 2 } else { 1 };
    let per_col = legend_rows.div_ceil(legend_cols);
    let back_m: f64 = panel
        .rounds
        .iter()
        .map(|r| r.distance_m - r.trips.iter().map(|t| t.distance_m).sum::<f64>())
        .sum();
    let footer = usize::from(!panel.rounds.is_empty()) + usize::from(!panel.unassigned.is_empty());
    let map = Rect::at(x + PAD, y + 48.0, MAP_W, MAP_H);
    let legend_y = map.y1 + 28.0;
    let header_rows = usize::from(legend_rows > 0);
    let height = legend_y - y + ROW_H * (header_rows + per_col + footer) as f64 + 8.0;

    out.push_str(&format!(
        "<g class=\"panel\" id=\"panel-{index}\" data-stream=\"{}\">\n\
         <rect class=\"frame\" x=\"{x}\" y=\"{y}\" width=\"{PANEL_W}\" height=\"{height}\" rx=\"6\" fill=\"none\" stroke=\"#d0d0d0\"/>\n",
        xml_escape(panel.stream)
    ));

    // Title.
    let (v, t, m, s) = totals(panel.rounds.iter().copied());
    let name = match (
        panel.stream,
        panel.rounds.is_empty() && panel.unassigned.is_empty(),
    ) {
        (_, true) => "no rounds planned".to_owned(),
        ("", false) => "(no stream)".to_owned(),
        (s, false) => s.to_owned(),
    };
    let max_chars = (MAP_W / (place::EM_W * TITLE_FONT)) as usize;
    text(
        out,
        "title",
        (x + PAD, y + 22.0),
        &TITLE,
        &clip(&name, max_chars),
    );
    text(
        out,
        "summary",
        (x + PAD, y + 40.0),
        &NOTE,
        &summary(v, t, m, s),
    );

    // Map.
    let mut points = vec![depot, tip];
    for r in &panel.rounds {
        points.extend(r.trips.iter().flat_map(|t| &t.stops).map(|s| at(&s.bin)));
    }
    points.extend(panel.unassigned.iter().flat_map(|t| t.iter()).map(at));
    let frame = Frame::fit(&points, map);
    out.push_str(&format!(
        "<rect class=\"map\" x=\"{:.1}\" y=\"{:.1}\" width=\"{MAP_W}\" height=\"{MAP_H}\" fill=\"{MAP_FILL}\" stroke=\"#c8c8c8\"/>\n",
        map.x0, map.y0
    ));
    let mut placer = Placer::new(map.grown(-2.0));
    for (k, r) in panel.rounds.iter().enumerate() {
        let colour = COLOURS[k % COLOURS.len()];
        for (n, trip) in r.trips.iter().enumerate() {
            let mut line = vec![frame.xy(trip_start(n, depot, tip))];
            line.extend(trip.stops.iter().map(|s| frame.xy(at(&s.bin))));
            line.push(frame.xy(tip));
            let d: Vec<String> = line.iter().map(|(x, y)| format!("{x:.1},{y:.1}")).collect();
            let dash = match DASHES[n % DASHES.len()] {
                "" => String::new(),
                d => format!(" stroke-dasharray=\"{d}\""),
            };
            out.push_str(&format!(
                "<polyline class=\"trip\" points=\"{}\" fill=\"none\" stroke=\"{colour}\" stroke-width=\"2\"{dash} opacity=\"0.85\"><title>vehicle {} trip {}</title></polyline>\n",
                d.join(" "),
                r.vehicle,
                n + 1
            ));
            for s in &trip.stops {
                let (cx, cy) = frame.xy(at(&s.bin));
                placer.dot(Rect::around(cx, cy, DOT_R));
                out.push_str(&format!(
                    "<circle class=\"stop\" cx=\"{cx:.1}\" cy=\"{cy:.1}\" r=\"{DOT_R}\" fill=\"{colour}\" stroke=\"white\" stroke-width=\"0.8\"><title>{}</title></circle>\n",
                    xml_escape(&s.bin.bin.device_id)
                ));
            }
        }
    }
    for s in panel.unassigned.iter().flat_map(|t| t.iter()) {
        let (cx, cy) = frame.xy(at(s));
        placer.dot(Rect::around(cx, cy, DOT_R + 1.0));
        out.push_str(&format!(
            "<circle class=\"unassigned\" cx=\"{cx:.1}\" cy=\"{cy:.1}\" r=\"{}\" fill=\"none\" stroke=\"#c00000\" stroke-width=\"1.5\"><title>{} (unassigned)</title></circle>\n",
            DOT_R + 0.5,
            xml_escape(&s.bin.device_id)
        ));
    }
    draw_sites(out, &mut placer, &frame, depot, tip);
    draw_scale_bar(out, &frame);

    // Legend.
    if legend_rows > 0 {
        for c in 0..legend_cols {
            let cx = map.x0 + c as f64 * LEGEND_COL_W;
            let by = legend_y + 12.0;
            out.push_str("<g class=\"legend-header\">\n");
            for (label, dx, style) in [
                ("vehicle", 32.0, &LEGEND_HEAD),
                ("trip", 92.0, &LEGEND_HEAD),
                ("km", 180.0, &LEGEND_HEAD_END),
                ("stops", 230.0, &LEGEND_HEAD_END),
            ] {
                text(out, "legend", (cx + dx, by), style, label);
            }
            out.push_str("</g>\n");
        }
    }
    let mut row = 0;
    for (k, r) in panel.rounds.iter().enumerate() {
        let colour = COLOURS[k % COLOURS.len()];
        for (n, trip) in r.trips.iter().enumerate() {
            let (c, i) = (row / per_col.max(1), row % per_col.max(1));
            let cx = map.x0 + c as f64 * LEGEND_COL_W;
            let by = legend_y + 12.0 + ROW_H * (i + 1) as f64;
            let dash = match DASHES[n % DASHES.len()] {
                "" => String::new(),
                d => format!(" stroke-dasharray=\"{d}\""),
            };
            out.push_str(&format!(
                "<g class=\"legend-row\">\n<line x1=\"{cx:.1}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" stroke=\"{colour}\" stroke-width=\"3\"{dash}/>\n",
                by - 4.0,
                cx + 24.0,
                by - 4.0
            ));
            text(
                out,
                "legend cell-vehicle",
                (cx + 32.0, by),
                &CELL,
                &r.vehicle.to_string(),
            );
            text(
                out,
                "legend cell-trip",
                (cx + 92.0, by),
                &CELL,
                &(n + 1).to_string(),
            );
            let km = format!("{:.1}", trip.distance_m / 1000.0);
            text(out, "legend cell-km", (cx + 180.0, by), &CELL_END, &km);
            let stops = trip.stops.len().to_string();
            text(
                out,
                "legend cell-stops",
                (cx + 230.0, by),
                &CELL_END,
                &stops,
            );
            out.push_str("</g>\n");
            row += 1;
        }
    }
    let mut fy = legend_y + 12.0 + ROW_H * (header_rows + per_col) as f64;
    if !panel.rounds.is_empty() {
        let line = format!("+ {:.1} km driving back to the depot", back_m / 1000.0);
        text(out, "legend back", (map.x0, fy), &SMALL_NOTE, &line);
        fy += ROW_H;
    }
    if !panel.unassigned.is_empty() {
        let bins: usize = panel.unassigned.iter().map(|t| t.len()).sum();
        let line = format!(
            "red rings: {} ({}) no shift had room for",
            count(panel.unassigned.len(), "trip"),
            count(bins, "bin")
        );
        text(
            out,
            "legend unassigned",
            (map.x0, fy),
            &SMALL_WARNING,
            &line,
        );
    }
    out.push_str("</g>\n");
    height
}

/// The depot and the tip (or one marker for both), their labels placed by `placer`.
fn draw_sites(out: &mut String, placer: &mut Placer, frame: &Frame, depot: LatLon, tip: LatLon) {
    let (dx, dy) = frame.xy(depot);
    let mut sites = Vec::new();
    if haversine_m(depot, tip) < SAME_PLACE_M {
        let r = Rect::around(dx, dy, DEPOT_R + 1.0);
        out.push_str(&format!(
            "<rect class=\"marker depot tip\" x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"black\"/>\n\
             <polygon points=\"{:.1},{:.1} {:.1},{:.1} {:.1},{:.1}\" fill=\"white\"/>\n",
            r.x0,
            r.y0,
            r.x1 - r.x0,
            r.y1 - r.y0,
            dx - 3.5,
            dy + 3.0,
            dx + 3.5,
            dy + 3.0,
            dx,
            dy - 3.5
        ));
        sites.push((r, "depot & tip", None));
    } else {
        let (tx, ty) = frame.xy(tip);
        let d = Rect::around(dx, dy, DEPOT_R);
        let t = Rect::around(tx, ty, TIP_R);
        out.push_str(&format!(
            "<rect class=\"marker depot\" x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"black\"/>\n\
             <polygon class=\"marker tip\" points=\"{:.1},{:.1} {:.1},{:.1} {:.1},{:.1}\" fill=\"#5a3a1a\" stroke=\"white\" stroke-width=\"0.8\"/>\n",
            d.x0,
            d.y0,
            d.x1 - d.x0,
            d.y1 - d.y0,
            t.x0,
            t.y1,
            t.x1,
            t.y1,
            tx,
            t.y0
        ));
        // Sites drawn close together each get their label on the far side from the
        // other, so that neither reads as the other's.
        let near = (tx - dx).hypot(ty - dy) < NEAR_PX;
        sites.push((d, "depot", near.then_some((dx - tx, dy - ty))));
        sites.push((t, "tip", near.then_some((tx - dx, ty - dy))));
    }
    for (r, _, _) in &sites {
        placer.marker(*r);
    }
    for (r, label, away) in sites {
        let b = text_box(0.0, 0.0, LABEL_FONT, Anchor::Start, label);
        let placed = placer.place(r, b.x1 - b.x0, b.y1 - b.y0, away);
        let l = placed.rect;
        if placed.leader {
            let (mx, my) = r.centre();
            let (lx, ly) = l.nearest(mx, my);
            let (ax, ay) = r.nearest(lx, ly);
            out.push_str(&format!(
                "<line class=\"leader\" x1=\"{ax:.1}\" y1=\"{ay:.1}\" x2=\"{lx:.1}\" y2=\"{ly:.1}\" stroke=\"#555\" stroke-width=\"0.8\"/>\n"
            ));
        }
        let baseline = l.y0 + place::ASCENT * LABEL_FONT;
        out.push_str(&format!(
            "<rect class=\"label-ground\" x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" rx=\"2\" fill=\"{MAP_FILL}\" opacity=\"0.9\"/>\n\
             <text class=\"label\" x=\"{:.1}\" y=\"{baseline:.1}\" font-size=\"{LABEL_FONT}\" fill=\"#111\">{}</text>\n",
            l.x0 - 1.0,
            l.y0 + 0.1 * LABEL_FONT,
            l.x1 - l.x0 + 2.0,
            l.y1 - l.y0 - 0.1 * LABEL_FONT,
            l.x0,
            xml_escape(label)
        ));
    }
}

/// A bar of a round length (1, 2 or 5 × 10ⁿ m) below the map's left corner, and
/// "north up" below its right.
fn draw_scale_bar(out: &mut String, frame: &Frame) {
    let max_px = (MAP_W - 2.0 * INSET) / 4.0;
    let mut metres = 1.0;
    for e in 0..7 {
        for k in [1.0, 2.0, 5.0] {
            let m = k * 10f64.powi(e);
            if m * frame.scale <= max_px {
                metres = m;
            }
        }
    }
    let px = metres * frame.scale;
    let (x0, y) = (frame.map.x0, frame.map.y1 + 12.0);
    out.push_str(&format!(
        "<path class=\"scale-bar\" d=\"M{x0:.1},{:.1} V{y:.1} H{:.1} V{:.1}\" fill=\"none\" stroke=\"#333\" stroke-width=\"1.5\"/>\n",
        y - 4.0,
        x0 + px,
        y - 4.0
    ));
    let label = if metres >= 1000.0 {
        format!("{} km", metres / 1000.0)
    } else {
        format!("{metres} m")
    };
    text(out, "scale", (x0 + px + 6.0, y + 4.0), &SCALE, &label);
    text(out, "scale", (frame.map.x1, y + 4.0), &NORTH, "north up");
}
