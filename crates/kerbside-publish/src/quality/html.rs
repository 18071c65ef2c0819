//! `quality.html`: the scorecard as one self-contained page (no script, no link, no
//! font to fetch) with the charts a person would rather look at than read:
//! completeness by ward, refusals over time, and the worst twenty devices.

use std::fmt::Write as _;

use super::{GroupScore, Scorecard, rfc3339};
use crate::period::iso;

/// Text for HTML content and attributes.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

fn pct(v: Option<f64>) -> String {
    v.map_or_else(|| "–".to_owned(), |v| format!("{v:.1} %"))
}

/// Horizontal bars: one per ward, its mean completeness.
fn completeness_chart(wards: &[GroupScore]) -> String {
    let (row, label_w, bar_w) = (22, 140, 420);
    let h = row * wards.len().max(1) + 30;
    let mut svg = format!(
        r#"<svg id="completeness-by-ward" role="img" aria-label="Completeness by ward" width="{}" height="{h}" viewBox="0 0 {} {h}">"#,
        label_w + bar_w + 70,
        label_w + bar_w + 70
    );
    for (i, w) in wards.iter().enumerate() {
        let y = i * row + 4;
        let v = w.completeness_pct.unwrap_or(0.0);
        let len = (v / 100.0 * bar_w as f64).round();
        let colour = if v >= 95.0 {
            "#2e7d32"
        } else if v >= 80.0 {
            "#f9a825"
        } else {
            "#c62828"
        };
        let _ = write!(
            svg,
            r#"<text x="{}" y="{}" text-anchor="end" font-size="12">{}</text><rect class="bar" x="{label_w}" y="{y}" width="{len}" height="{}" fill="{colour}"/><text x="{}" y="{}" font-size="12">{}</text>"#,
            label_w - 6,
            y + 13,
            esc(&w.name),
            row - 6,
            label_w as f64 + len + 6.0,
            y + 13,
            pct(w.completeness_pct)
        );
    }
    svg.push_str("</svg>");
    svg
}

/// Vertical bars: refused messages per hour over the period.
fn refusals_chart(card: &Scorecard) -> String {
    let hours = (card.period.days * 24) as usize;
    let (w, h, top) = (720.0, 160.0, 10.0);
    let max = card
        .refused_by_hour
        .values()
        .copied()
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let step = w / hours.max(1) as f64;
    let mut svg = format!(
        r##"<svg id="refusals-over-time" role="img" aria-label="Refused messages per hour" width="{}" height="{}" viewBox="0 0 {} {}"><line x1="40" y1="{}" x2="{}" y2="{}" stroke="#888"/>"##,
        w + 50.0,
        h + 30.0,
        w + 50.0,
        h + 30.0,
        h + top,
        w + 40.0,
        h + top
    );
    let _ = write!(
        svg,
        r#"<text x="36" y="{}" text-anchor="end" font-size="11">{max:.0}</text><text x="36" y="{}" text-anchor="end" font-size="11">0</text>"#,
        top + 10.0,
        h + top
    );
    let from = card.period.from_ms();
    for (at, n) in &card.refused_by_hour {
        let i = ((at - from) / 3_600_000) as f64;
        let bar = (*n as f64 / max * h).max(1.0);
        let _ = write!(
            svg,
            r##"<rect class="bar" x="{:.1}" y="{:.1}" width="{:.1}" height="{bar:.1}" fill="#6a1b9a"><title>{} {n}</title></rect>"##,
            40.0 + i * step,
            h + top - bar,
            (step - 1.0).max(1.0),
            rfc3339(*at)
        );
    }
    for d in 0..=card.period.days {
        let x = 40.0 + f64::from(d) * 24.0 * step;
        // The last date ends at the axis's end rather than running off it.
        let anchor = if d == card.period.days {
            "end"
        } else {
            "start"
        };
        let _ = write!(
            svg,
            r#"<text x="{x:.1}" y="{}" font-size="11" text-anchor="{anchor}">{}</text>"#,
            h + top + 16.0,
            iso(card.period.first + time::Duration::days(i64::from(d)))
        );
    }
    svg.push_str("</svg>");
    svg
}

/// The page.
pub fn html(card: &Scorecard, title: &str) -> String {
    let wards = card.groups(false);
    let kinds = card.groups(true);
    let silent = card.devices.iter().filter(|d| d.readings == 0).count();
    let mut page = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{t}: data quality</title>\
         <style>body{{font-family:sans-serif;margin:2em;color:#222}}table{{border-collapse:collapse}}\
         td,th{{border:1px solid #ccc;padding:3px 8px;text-align:right;white-space:nowrap}}td:first-child,th:first-child{{text-align:left}}\
         h2{{margin-top:1.6em}}</style></head><body>\n<h1>{t}: data quality, {} to {}</h1>\n\
         <p id=\"summary\">{} devices, {silent} silent the whole period.</p>\n",
        iso(card.period.first),
        iso(card.period.last()),
        card.devices.len(),
        t = esc(title)
    );
    page.push_str("<h2>Completeness by ward</h2>\n");
    page.push_str(&completeness_chart(&wards));
    page.push_str("\n<h2>Refused messages per hour</h2>\n");
    page.push_str(&refusals_chart(card));
    page.push_str(
        "\n<h2>The worst twenty devices</h2>\n<table id=\"worst\"><tr><th>device</th><th>kind</th>\
         <th>ward</th><th>score</th><th>completeness</th><th>refused</th><th>seq gaps</th>\
         <th>battery</th><th>days to empty</th><th>last seen</th></tr>\n",
    );
    for d in card.devices.iter().take(20) {
        let _ = writeln!(
            page,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{:.1}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&d.id),
            esc(&d.kind),
            esc(&d.ward),
            d.score,
            pct(d.completeness_pct),
            d.refused,
            d.seq_gaps,
            d.battery_v
                .map_or_else(String::new, |v| format!("{v:.2} V")),
            d.days_to_empty
                .map_or_else(String::new, |v| format!("{v:.0}")),
            d.last_seen_ms.map_or_else(|| "never".to_owned(), rfc3339),
        );
    }
    page.push_str("</table>\n<h2>By kind</h2>\n<table id=\"kinds\"><tr><th>kind</th><th>devices</th><th>silent</th><th>completeness</th><th>refused</th><th>score</th></tr>\n");
    for k in &kinds {
        let _ = writeln!(
            page,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.1}</td></tr>",
            esc(&k.name),
            k.devices,
            k.silent,
            pct(k.completeness_pct),
            k.refused,
            k.score
        );
    }
    page.push_str("</table>\n</body></html>\n");
    page
}
