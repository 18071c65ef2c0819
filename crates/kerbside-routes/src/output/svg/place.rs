//! Boxes on the page, the text metric, and where a map label goes so that it covers no
//! other label and no marker.
//!
//! **Text metric.** A text's box is estimated, not measured (the SVG carries no font):
//! each character is [`EM_W`] × font-size wide and the line reaches [`ASCENT`] ×
//! font-size above its baseline and [`DESCENT`] × font-size below it; `text-anchor`
//! `end` moves the box left by its width. Common sans-serif lowercase letters are
//! narrower than 0.62 em; digits can be a little wider (0.64 em in DejaVu Sans), which
//! the [`MARGIN`] kept around labels and the legend's spacing absorb.
//!
//! **Placing a label** ([`Placer::place`]). Markers (the depot, the tip) and labels
//! already placed are *hard* obstacles, bins' dots are *soft* ones, and a label stays
//! inside its map. The label is tried at eight positions around its marker in a fixed
//! order (right, left, above, below, then the four corners; or, when the caller gives
//! a direction to point in, e.g. away from a site close by, the positions nearest that
//! direction first), and the first that is free is taken:
//!
//! 1. next to the marker, clear of hard and soft obstacles;
//! 2. next to the marker, then one, two, ... line heights further out (up to
//!    [`RINGS`]), clear of hard obstacles (a leader line then joins it to its marker);
//! 3. anywhere on the map, on an 8 px grid, nearest first, clear of hard obstacles.
//!
//! "Clear" means the label's box grown by [`MARGIN`] on every side overlaps no
//! obstacle. With the few labels a map has (the depot and the tip), step 3 always
//! finds room; were it ever not to, the label goes right of everything placed.

/// A character's width, em.
pub(super) const EM_W: f64 = 0.62;
/// From the baseline up to a line's top, em.
pub(super) const ASCENT: f64 = 1.0;
/// From the baseline down to a line's bottom, em.
pub(super) const DESCENT: f64 = 0.3;
/// Space kept around a label, px.
pub(super) const MARGIN: f64 = 2.0;
/// From a marker's edge to its label's, px.
const GAP: f64 = 3.0;
/// How many rings of positions around a marker are tried before the whole map is.
pub(super) const RINGS: usize = 6;
/// The whole-map search's step, px.
const GRID: f64 = 8.0;

/// A box, px: `x0 ≤ x1`, `y0 ≤ y1`, y down.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Rect {
    pub(super) x0: f64,
    pub(super) y0: f64,
    pub(super) x1: f64,
    pub(super) y1: f64,
}

impl Rect {
    /// A `w` × `h` box with its top left at (`x`, `y`).
    pub(super) fn at(x: f64, y: f64, w: f64, h: f64) -> Self {
        Self {
            x0: x,
            y0: y,
            x1: x + w,
            y1: y + h,
        }
    }

    /// A box of half-size `r` around (`x`, `y`).
    pub(super) fn around(x: f64, y: f64, r: f64) -> Self {
        Self::at(x - r, y - r, 2.0 * r, 2.0 * r)
    }

    /// Whether the two boxes share more than an edge.
    pub(super) fn overlaps(&self, o: &Rect) -> bool {
        self.x0 < o.x1 && o.x0 < self.x1 && self.y0 < o.y1 && o.y0 < self.y1
    }

    /// Whether `self` lies within `o`.
    pub(super) fn inside(&self, o: &Rect) -> bool {
        self.x0 >= o.x0 && self.x1 <= o.x1 && self.y0 >= o.y0 && self.y1 <= o.y1
    }

    /// The box grown by `d` on every side.
    pub(super) fn grown(&self, d: f64) -> Self {
        Self {
            x0: self.x0 - d,
            y0: self.y0 - d,
            x1: self.x1 + d,
            y1: self.y1 + d,
        }
    }

    fn w(&self) -> f64 {
        self.x1 - self.x0
    }

    fn h(&self) -> f64 {
        self.y1 - self.y0
    }

    pub(super) fn centre(&self) -> (f64, f64) {
        ((self.x0 + self.x1) / 2.0, (self.y0 + self.y1) / 2.0)
    }

    /// The point of the box nearest to (`x`, `y`).
    pub(super) fn nearest(&self, x: f64, y: f64) -> (f64, f64) {
        (x.clamp(self.x0, self.x1), y.clamp(self.y0, self.y1))
    }
}

/// Where `text`, `size` px, anchored `anchor` at (`x`, baseline `y`), is taken to be.
pub(super) fn text_box(x: f64, y: f64, size: f64, anchor: Anchor, text: &str) -> Rect {
    let w = EM_W * size * text.chars().count() as f64;
    let x0 = match anchor {
        Anchor::Start => x,
        Anchor::End => x - w,
    };
    Rect {
        x0,
        y0: y - ASCENT * size,
        x1: x0 + w,
        y1: y + DESCENT * size,
    }
}

/// A text's `text-anchor`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Anchor {
    Start,
    End,
}

/// A label's place: its box, and whether it is far enough from its marker to need a
/// leader line.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Placed {
    pub(super) rect: Rect,
    pub(super) leader: bool,
}

/// The obstacles of one map, and its labels' places so far.
#[derive(Debug)]
pub(super) struct Placer {
    bounds: Rect,
    hard: Vec<Rect>,
    soft: Vec<Rect>,
}

impl Placer {
    /// Labels go inside `bounds`.
    pub(super) fn new(bounds: Rect) -> Self {
        Self {
            bounds,
            hard: Vec::new(),
            soft: Vec::new(),
        }
    }

    /// A marker: no label covers it.
    pub(super) fn marker(&mut self, r: Rect) {
        self.hard.push(r);
    }

    /// A bin's dot: labels avoid it where they can.
    pub(super) fn dot(&mut self, r: Rect) {
        self.soft.push(r);
    }

    fn fits(&self, r: &Rect, soft_too: bool) -> bool {
        let g = r.grown(MARGIN);
        r.inside(&self.bounds)
            && !self.hard.iter().any(|h| g.overlaps(h))
            && !(soft_too && self.soft.iter().any(|s| g.overlaps(s)))
    }

    /// Places a `w` × `h` label for the marker `at` (see the module's docs), trying
    /// first the positions pointing `away` if given, and keeps it as an obstacle for
    /// the next.
    pub(super) fn place(&mut self, at: Rect, w: f64, h: f64, away: Option<(f64, f64)>) -> Placed {
        let placed = self.find(at, w, h, away);
        self.hard.push(placed.rect);
        placed
    }

    fn find(&self, at: Rect, w: f64, h: f64, away: Option<(f64, f64)>) -> Placed {
        if let Some(rect) = around(at, w, h, 1, away).find(|r| self.fits(r, true)) {
            return Placed {
                rect,
                leader: false,
            };
        }
        for ring in 1..=RINGS {
            if let Some(rect) = around(at, w, h, ring, away).find(|r| self.fits(r, false)) {
                return Placed {
                    rect,
                    leader: ring > 1,
                };
            }
        }
        let (cx, cy) = at.centre();
        let b = self.bounds;
        let (nx, ny) = ((b.w() - w) / GRID, (b.h() - h) / GRID);
        let mut grid: Vec<(f64, Rect)> = (0..=ny.max(0.0) as usize)
            .flat_map(|j| (0..=nx.max(0.0) as usize).map(move |i| (i, j)))
            .map(|(i, j)| {
                let r = Rect::at(b.x0 + i as f64 * GRID, b.y0 + j as f64 * GRID, w, h);
                let (rx, ry) = r.nearest(cx, cy);
                ((rx - cx).hypot(ry - cy), r)
            })
            .collect();
        // Nearest first; ties top to bottom, then left to right (a stable sort keeps
        // the grid's order).
        grid.sort_by(|a, b| a.0.total_cmp(&b.0));
        if let Some(&(_, rect)) = grid.iter().find(|(_, r)| self.fits(r, false)) {
            return Placed { rect, leader: true };
        }
        let right = self.hard.iter().map(|r| r.x1).fold(at.x1, f64::max);
        Placed {
            rect: Rect::at(right + GAP + MARGIN, cy - h / 2.0, w, h),
            leader: true,
        }
    }
}

/// The eight positions of ring `ring` (from 1) around `at` for a `w` × `h` label:
/// right, left, above, below, then upper right, lower right, upper left, lower left;
/// or, given a direction `away` to point in, those nearest to it first (ties in that
/// order).
fn around(
    at: Rect,
    w: f64,
    h: f64,
    ring: usize,
    away: Option<(f64, f64)>,
) -> impl Iterator<Item = Rect> {
    let d = GAP + MARGIN + (ring - 1) as f64 * h;
    let (cx, cy) = at.centre();
    let (e, wx, n, s) = (at.x1 + d, at.x0 - d - w, at.y0 - d - h, at.y1 + d);
    let mut spots = [
        ((1.0, 0.0), (e, cy - h / 2.0)),
        ((-1.0, 0.0), (wx, cy - h / 2.0)),
        ((0.0, -1.0), (cx - w / 2.0, n)),
        ((0.0, 1.0), (cx - w / 2.0, s)),
        ((1.0, -1.0), (e, n)),
        ((1.0, 1.0), (e, s)),
        ((-1.0, -1.0), (wx, n)),
        ((-1.0, 1.0), (wx, s)),
    ];
    if let Some((ax, ay)) = away.filter(|(ax, ay)| ax.hypot(*ay) > 0.0) {
        let score = |(dx, dy): (f64, f64)| -(dx * ax + dy * ay) / f64::hypot(dx, dy);
        // A stable sort: equally good directions keep the fixed order.
        spots.sort_by(|a, b| score(a.0).total_cmp(&score(b.0)));
    }
    spots
        .into_iter()
        .map(move |(_, (x, y))| Rect::at(x, y, w, h))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAP: Rect = Rect {
        x0: 0.0,
        y0: 0.0,
        x1: 400.0,
        y1: 300.0,
    };

    #[test]
    fn a_label_goes_right_of_its_marker_when_nothing_is_there() {
        let mut p = Placer::new(MAP);
        let m = Rect::around(100.0, 100.0, 5.0);
        p.marker(m);
        let placed = p.place(m, 40.0, 15.0, None);
        assert!(!placed.leader);
        assert!(placed.rect.x0 > m.x1 && placed.rect.x0 < m.x1 + 10.0);
        assert!(placed.rect.y0 < 100.0 && placed.rect.y1 > 100.0);
    }

    #[test]
    fn a_label_avoids_bins_where_it_can_and_stays_on_the_map() {
        let mut p = Placer::new(MAP);
        // A marker at the map's right edge with a bin just left of it.
        let m = Rect::around(390.0, 150.0, 5.0);
        p.marker(m);
        let bin = Rect::around(370.0, 150.0, 3.0);
        p.dot(bin);
        let placed = p.place(m, 40.0, 15.0, None);
        assert!(placed.rect.inside(&MAP));
        assert!(!placed.rect.overlaps(&bin) && !placed.rect.overlaps(&m));
        assert!(!placed.leader, "above or below is still next to it");
    }

    #[test]
    fn a_label_points_away_from_a_site_close_by_when_asked() {
        let mut p = Placer::new(MAP);
        let m = Rect::around(100.0, 100.0, 5.0);
        p.marker(m);
        // The other site is up and to the right: the label goes down and to the left.
        let placed = p.place(m, 40.0, 15.0, Some((-3.0, 4.0)));
        assert!(placed.rect.x1 < m.x0 && placed.rect.y0 > m.y1, "{placed:?}");
    }

    #[test]
    fn thirty_labels_on_one_spot_all_find_room_of_their_own() {
        let mut p = Placer::new(MAP);
        let m = Rect::around(200.0, 150.0, 5.0);
        p.marker(m);
        let boxes: Vec<Rect> = (0..30).map(|_| p.place(m, 50.0, 15.0, None).rect).collect();
        for (i, a) in boxes.iter().enumerate() {
            assert!(a.inside(&MAP) && !a.overlaps(&m), "{a:?}");
            for b in &boxes[i + 1..] {
                assert!(!a.overlaps(b), "{a:?} and {b:?}");
            }
        }
    }

    #[test]
    fn the_text_metric_moves_the_box_with_the_anchor() {
        let s = text_box(100.0, 50.0, 10.0, Anchor::Start, "abcd");
        let want = Rect::at(100.0, 40.0, 24.8, 13.0);
        for (a, b) in [
            (s.x0, want.x0),
            (s.y0, want.y0),
            (s.x1, want.x1),
            (s.y1, want.y1),
        ] {
            assert!((a - b).abs() < 1e-9, "{s:?}");
        }
        let e = text_box(100.0, 50.0, 10.0, Anchor::End, "abcd");
        assert!((e.x1 - 100.0).abs() < 1e-9 && (e.x0 - 75.2).abs() < 1e-9);
    }
}
