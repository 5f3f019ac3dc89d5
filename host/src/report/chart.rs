//! The frame every chart is drawn in: an SVG (scaled to the page's width by its `viewBox`), the
//! plot area inside its margins, the linear scales from data to pixels, and axes with ticks,
//! gridlines and labels. Values on hover come from SVG `<title>` elements, not script.

use std::fmt::Write as _;

use super::format;
use super::html::escape;
use super::ticks::{AmountTicks, DateTick};
use super::time;

/// Width of every chart in SVG units (the page scales it to its column).
pub const WIDTH: f64 = 920.0;

/// A linear map from a data interval onto a pixel interval.
#[derive(Debug, Clone, Copy)]
pub struct Scale {
    domain: (f64, f64),
    range: (f64, f64),
}

impl Scale {
    pub fn new(domain: (f64, f64), range: (f64, f64)) -> Scale {
        // A domain of one point maps to the middle of the range rather than dividing by zero.
        Scale { domain, range }
    }

    pub fn at(&self, value: f64) -> f64 {
        let (d0, d1) = self.domain;
        let (r0, r1) = self.range;
        if d1 == d0 {
            return (r0 + r1) / 2.0;
        }
        r0 + (r1 - r0) * (value - d0) / (d1 - d0)
    }
}

/// The margins of a plot, in SVG units.
#[derive(Debug, Clone, Copy)]
pub struct Margins {
    pub left: f64,
    pub right: f64,
    pub top: f64,
    pub bottom: f64,
}

/// Margins for a chart with amounts on the left and days below.
pub const TIME_MARGINS: Margins = Margins { left: 64.0, right: 24.0, top: 24.0, bottom: 36.0 };

pub struct Plot {
    pub height: f64,
    pub margins: Margins,
    pub x: Scale,
    pub y: Scale,
}

impl Plot {
    /// A plot of `height` whose x runs over `x_domain` and y over `y_domain` (upwards).
    pub fn new(height: f64, margins: Margins, x_domain: (f64, f64), y_domain: (f64, f64)) -> Plot {
        let x = Scale::new(x_domain, (margins.left, WIDTH - margins.right));
        let y = Scale::new(y_domain, (height - margins.bottom, margins.top));
        Plot { height, margins, x, y }
    }

    pub fn left(&self) -> f64 {
        self.margins.left
    }

    pub fn right(&self) -> f64 {
        WIDTH - self.margins.right
    }

    pub fn top(&self) -> f64 {
        self.margins.top
    }

    pub fn bottom(&self) -> f64 {
        self.height - self.margins.bottom
    }

    /// A data point as SVG coordinates `x,y`, for a `points` attribute.
    pub fn point(&self, x: f64, y: f64) -> String {
        format!("{:.1},{:.1}", self.x.at(x), self.y.at(y))
    }

    /// Opens the `<svg>`: `id` for links and tests, `label` for screen readers.
    pub fn open(&self, page: &mut String, id: &str, label: &str) {
        let _ = write!(
            page,
            "<svg id=\"{id}\" class=\"chart\" role=\"img\" aria-label=\"{}\" viewBox=\"0 0 {WIDTH} {h}\" \
             preserveAspectRatio=\"xMinYMin meet\" width=\"{WIDTH}\" height=\"{h}\">",
            escape(label),
            h = self.height,
        );
    }

    /// Amount gridlines across the plot with compact labels at the left, and the currency above them.
    pub fn amount_axis(&self, page: &mut String, ticks: &AmountTicks, currency: &str) {
        for value in ticks.values() {
            let y = self.y.at(value);
            let class = if value == 0.0 { "axis" } else { "grid" };
            let _ = write!(
                page,
                "<line class=\"{class}\" x1=\"{:.1}\" x2=\"{:.1}\" y1=\"{y:.1}\" y2=\"{y:.1}\"/>\
                 <text class=\"tick\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
                self.left(),
                self.right(),
                self.left() - 8.0,
                y + 4.0,
                format::compact(value),
            );
        }
        let _ = write!(
            page,
            "<text class=\"unit\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            self.left() - 8.0,
            self.top() - 10.0,
            escape(currency)
        );
    }

    /// Day ticks along the bottom (at `offset` days into each day: 0.5 centres them on a bar).
    pub fn date_axis(&self, page: &mut String, ticks: &[DateTick], offset: f64) {
        let _ = write!(
            page,
            "<line class=\"axis\" x1=\"{:.1}\" x2=\"{:.1}\" y1=\"{b:.1}\" y2=\"{b:.1}\"/>",
            self.left(),
            self.right(),
            b = self.bottom()
        );
        for tick in ticks {
            let x = self.x.at(tick.day as f64 + offset);
            let _ = write!(
                page,
                "<line class=\"tickmark\" x1=\"{x:.1}\" x2=\"{x:.1}\" y1=\"{b:.1}\" y2=\"{:.1}\"/>\
                 <text class=\"tick\" x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
                self.bottom() + 5.0,
                self.bottom() + 18.0,
                escape(&tick.label),
                b = self.bottom(),
            );
        }
    }

    /// Gridlines up the plot for a horizontal amount axis, labelled along the bottom.
    pub fn amount_axis_below(&self, page: &mut String, ticks: &[(f64, String)]) {
        for (value, label) in ticks {
            let x = self.x.at(*value);
            let _ = write!(
                page,
                "<line class=\"grid\" x1=\"{x:.1}\" x2=\"{x:.1}\" y1=\"{:.1}\" y2=\"{:.1}\"/>\
                 <text class=\"tick\" x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
                self.top(),
                self.bottom(),
                self.bottom() + 16.0,
                escape(label),
            );
        }
    }

    /// A dashed horizontal reference line (a budget) with its label at the right end.
    pub fn reference_line(&self, page: &mut String, class: &str, value: f64, label: &str, hover: &str) {
        let y = self.y.at(value);
        let _ = write!(
            page,
            "<g class=\"{class}\"><line x1=\"{:.1}\" x2=\"{:.1}\" y1=\"{y:.1}\" y2=\"{y:.1}\"><title>{}</title></line>\
             <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text></g>",
            self.left(),
            self.right(),
            escape(hover),
            self.right() - 4.0,
            y - 6.0,
            escape(label),
        );
    }
}

/// A day for a tooltip: `30 Nov 2026` (the day number's date).
pub fn day_label(day: i64) -> String {
    time::from_number(day).map(time::long).unwrap_or_default()
}

/// The colours of series (accounts, capabilities): Tableau's ten, told apart by most eyes, in
/// an order that keeps red (anomalies, the budget, overage) last.
pub const PALETTE: [&str; 9] =
    ["#4E79A7", "#F28E2B", "#59A14F", "#B07AA1", "#76B7B2", "#EDC948", "#FF9DA7", "#9C755F", "#E15759"];

/// The colour of what has none of its own ("other capabilities").
pub const OTHER_COLOUR: &str = "#C3CAD2";

pub fn colour(index: usize) -> &'static str {
    PALETTE[index % PALETTE.len()]
}
