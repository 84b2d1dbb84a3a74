//! The pictures of a sweep and its evaluation, each as PNG and SVG (crate `plotters`).
//!
//! Every plot is one generic `draw_*` function over a plotters backend, rendered by
//! [`render`] to SVG, and the SVG rasterised (resvg) to a PNG at twice its size, sharp
//! enough to paste into a thesis. The font (DejaVu Sans) is compiled in, so the
//! pictures look the same on a machine without fonts.

use crate::score::{DeltaKind, ScoreRule};
use crate::metrics::{Metrics, PrCurve};
use crate::train::EpochRecord;
use plotters::coord::Shift;
use plotters::prelude::*;
use std::error::Error;
use std::path::{Path, PathBuf};

type DrawResult = Result<(), Box<dyn Error>>;

const FONT: &str = "sans-serif";
static DEJAVU: &[u8] = include_bytes!("../assets/fonts/DejaVuSans.ttf");

fn register_font() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // The font is compiled in and known to parse; a failure would only mean no text.
        let _ = plotters::style::register_font(FONT, FontStyle::Normal, DEJAVU);
    });
}

#[derive(Debug, thiserror::Error)]
#[error("{path}: cannot draw the plot: {message}")]
pub struct PlotError {
    pub path: PathBuf,
    pub message: String,
}

/// Colours that stay apart for up to 10 series (Tableau 10).
pub const PALETTE: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

fn colour(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

/// PNGs are the SVG rasterised at this scale: a 900-pixel-wide plot is 1800 pixels.
pub const PNG_SCALE: f32 = 2.0;

/// Renders `draw` to `<stem>.svg`, then that to `<stem>.png` at [`PNG_SCALE`]; returns
/// both paths.
macro_rules! render {
    ($stem:expr, $size:expr, $draw:ident ( $($arg:expr),* )) => {{
        register_font();
        let stem: &Path = $stem;
        let png = stem.with_extension("png");
        let svg = stem.with_extension("svg");
        if let Some(dir) = stem.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| PlotError { path: dir.into(), message: e.to_string() })?;
        }
        {
            let root = SVGBackend::new(&svg, $size).into_drawing_area();
            $draw(&root, $($arg),*).and_then(|_| root.present().map_err(|e| e.into()))
                .map_err(|e| PlotError { path: svg.clone(), message: e.to_string() })?;
        }
        svg_to_png(&svg, &png)?;
        Ok::<Vec<PathBuf>, PlotError>(vec![png, svg])
    }};
}

/// Rasterises an SVG written by [`render`] with the compiled-in font.
fn svg_to_png(svg: &Path, png: &Path) -> Result<(), PlotError> {
    use resvg::{tiny_skia, usvg};
    let fail = |path: &Path, message: String| PlotError { path: path.into(), message };
    let data = std::fs::read(svg).map_err(|e| fail(svg, e.to_string()))?;
    let mut opt = usvg::Options::default();
    {
        let db = opt.fontdb_mut();
        db.load_font_data(DEJAVU.to_vec());
        db.set_sans_serif_family("DejaVu Sans");
    }
    let tree = usvg::Tree::from_data(&data, &opt).map_err(|e| fail(svg, e.to_string()))?;
    let size = tree.size().to_int_size().scale_by(PNG_SCALE).ok_or_else(|| fail(png, "empty picture".into()))?;
    let mut pixmap = tiny_skia::Pixmap::new(size.width(), size.height()).ok_or_else(|| fail(png, "empty picture".into()))?;
    pixmap.fill(tiny_skia::Color::WHITE);
    resvg::render(&tree, tiny_skia::Transform::from_scale(PNG_SCALE, PNG_SCALE), &mut pixmap.as_mut());
    pixmap.save_png(png).map_err(|e| fail(png, e.to_string()))
}

fn text_style(size: u32) -> TextStyle<'static> {
    (FONT, size).into_font().color(&BLACK)
}

// ---------------------------------------------------------------- class balance

pub fn class_balance(stem: &Path, names: &[String], parts: &[(&str, Vec<usize>)]) -> Result<Vec<PathBuf>, PlotError> {
    render!(stem, (900, 520), draw_class_balance(names, parts))
}

fn draw_class_balance<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, names: &[String], parts: &[(&str, Vec<usize>)]) -> DrawResult
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE)?;
    let k = names.len();
    let totals: Vec<usize> = (0..k).map(|c| parts.iter().map(|p| p.1[c]).sum()).collect();
    let all: usize = totals.iter().sum();
    let top = *totals.iter().max().unwrap_or(&1) as f64 * 1.15;
    let mut chart = ChartBuilder::on(root)
        .caption(format!("Class balance ({all} rows)"), text_style(24))
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(70)
        .build_cartesian_2d(-0.5f64..k as f64 - 0.5, 0f64..top.max(1.0))?;
    chart
        .configure_mesh()
        .light_line_style(TRANSPARENT)
        .disable_x_mesh()
        .x_labels(k + 1)
        .x_label_formatter(&|v| label_at(names, *v))
        .y_label_formatter(&|v| format!("{v:.0}"))
        .y_desc("rows")
        .x_desc("class")
        .label_style(text_style(15))
        .axis_desc_style(text_style(16))
        .draw()?;
    // Stacked bars: one segment per part.
    for (pi, (part, counts)) in parts.iter().enumerate() {
        let below: Vec<usize> = (0..k).map(|c| parts[..pi].iter().map(|p| p.1[c]).sum()).collect();
        chart
            .draw_series((0..k).map(|c| {
                let x = c as f64;
                Rectangle::new([(x - 0.35, below[c] as f64), (x + 0.35, (below[c] + counts[c]) as f64)], colour(pi).filled())
            }))?
            .label(format!("{part} ({})", counts.iter().sum::<usize>()))
            .legend(move |(x, y)| Rectangle::new([(x, y - 6), (x + 14, y + 6)], colour(pi).filled()));
    }
    chart.draw_series((0..k).map(|c| {
        let share = 100.0 * totals[c] as f64 / all.max(1) as f64;
        Text::new(format!("{} ({share:.1} %)", totals[c]), (c as f64 - 0.3, totals[c] as f64 + top * 0.06), text_style(14))
    }))?;
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .label_font(text_style(15))
        .draw()?;
    Ok(())
}

/// The class name at integer positions of a categorical axis, nothing between.
fn label_at(names: &[String], v: f64) -> String {
    let i = v.round();
    if (v - i).abs() < 1e-6 && i >= 0.0 && (i as usize) < names.len() {
        names[i as usize].clone()
    } else {
        String::new()
    }
}

// ---------------------------------------------------------------- learning curves

pub fn learning_curves(stem: &Path, history: &[EpochRecord], kept_epoch: u32) -> Result<Vec<PathBuf>, PlotError> {
    render!(stem, (1200, 500), draw_learning_curves(history, kept_epoch))
}

fn draw_learning_curves<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, history: &[EpochRecord], kept: u32) -> DrawResult
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE)?;
    let root = root.titled("Final training: learning curves (dashed grey: learning-rate drops; red: kept epoch)", text_style(20))?;
    let panels = root.split_evenly((1, 2));
    let epochs = history.len().max(1) as f64;
    // Epochs at which the learning rate changed (the new rate starts there).
    let drops: Vec<(f64, f64)> = history
        .windows(2)
        .filter(|w| w[1].learning_rate < w[0].learning_rate)
        .map(|w| (w[1].epoch as f64, w[1].learning_rate))
        .collect();
    type Getter = fn(&EpochRecord) -> Option<f64>;
    let specs: [(&str, &str, Getter, Getter); 2] = [
        ("loss", "cross-entropy loss", |r| Some(r.loss), |r| r.val_loss),
        ("accuracy", "accuracy", |r| Some(r.accuracy), |r| r.val_accuracy),
    ];
    for (panel, (title, ydesc, train, val)) in panels.iter().zip(specs) {
        let values: Vec<f64> = history.iter().flat_map(|r| [train(r), val(r)]).flatten().filter(|v| v.is_finite()).collect();
        let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let (lo, hi) = if lo.is_finite() && hi > lo { (lo, hi) } else { (0.0, 1.0) };
        let pad = (hi - lo) * 0.08;
        let mut chart = ChartBuilder::on(panel)
            .caption(title, text_style(18))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d(0.5f64..epochs + 0.5, (lo - pad)..(hi + pad))?;
        chart
            .configure_mesh()
        .light_line_style(TRANSPARENT)
            .x_desc("epoch")
            .x_label_formatter(&|v| format!("{v:.0}"))
            .y_label_formatter(&|v| format!("{v:.2}"))
            .y_desc(ydesc)
            .label_style(text_style(13))
            .axis_desc_style(text_style(14))
            .draw()?;
        for (i, &(e, _)) in drops.iter().enumerate() {
            let series = chart.draw_series(DashedLineSeries::new(vec![(e, lo - pad), (e, hi + pad)], 6, 4, RGBColor(150, 150, 150).stroke_width(1)))?;
            if i == 0 {
                let rates: Vec<String> = drops.iter().take(4).map(|d| format!("{:.1e}", d.1)).collect();
                let more = if drops.len() > 4 { ", …" } else { "" };
                series
                    .label(format!("learning rate drops to {}{more}", rates.join(", ")))
                    .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], RGBColor(150, 150, 150).stroke_width(1)));
            }
        }
        if kept > 0 {
            chart
                .draw_series(std::iter::once(PathElement::new(vec![(kept as f64, lo - pad), (kept as f64, hi + pad)], RED.stroke_width(1))))?
                .label(format!("weights kept: epoch {kept}"))
                .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], RED.stroke_width(1)));
        }
        chart
            .draw_series(LineSeries::new(history.iter().filter_map(|r| train(r).map(|v| (r.epoch as f64, v))), colour(0).stroke_width(2)))?
            .label("training part")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], colour(0).stroke_width(2)));
        if history.iter().any(|r| val(r).is_some()) {
            chart
                .draw_series(LineSeries::new(history.iter().filter_map(|r| val(r).map(|v| (r.epoch as f64, v))), colour(1).stroke_width(2)))?
                .label("validation part")
                .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], colour(1).stroke_width(2)));
        }
        chart
            .configure_series_labels()
            .position(if title == "loss" { SeriesLabelPosition::UpperRight } else { SeriesLabelPosition::LowerRight })
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK)
            .label_font(text_style(15))
            .draw()?;
    }
    Ok(())
}

// ---------------------------------------------------------------- confusion matrix

pub fn confusion(stem: &Path, title: &str, m: &Metrics) -> Result<Vec<PathBuf>, PlotError> {
    render!(stem, (760, 680), draw_confusion(title, m))
}

fn draw_confusion<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, title: &str, m: &Metrics) -> DrawResult
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE)?;
    let names: Vec<String> = m.classes.iter().map(|c| c.name.clone()).collect();
    let k = names.len();
    let mut chart = ChartBuilder::on(root)
        .caption(format!("{title}: confusion matrix (accuracy {:.1} %)", 100.0 * m.accuracy), text_style(20))
        .margin(15)
        .x_label_area_size(50)
        .y_label_area_size(100)
        // y runs top to bottom: row 0 at the top, as printed matrices.
        .build_cartesian_2d(-0.5f64..k as f64 - 0.5, k as f64 - 0.5..-0.5f64)?;
    chart
        .configure_mesh()
        .light_line_style(TRANSPARENT)
        .disable_mesh()
        .x_labels(k + 1)
        .y_labels(k + 1)
        .x_label_formatter(&|v| label_at(&names, *v))
        .y_label_formatter(&|v| label_at(&names, *v))
        .x_desc("predicted class")
        .y_desc("true class")
        .label_style(text_style(14))
        .axis_desc_style(text_style(15))
        .draw()?;
    for t in 0..k {
        for p in 0..k {
            let share = m.confusion_normalized[t][p];
            // White to dark blue by the row share (recall profile).
            let shade = |c: u8| (255.0 - share * (255.0 - c as f64)) as u8;
            let fill = RGBColor(shade(8), shade(69), shade(148));
            let (x, y) = (p as f64, t as f64);
            chart.draw_series(std::iter::once(Rectangle::new([(x - 0.5, y - 0.5), (x + 0.5, y + 0.5)], fill.filled())))?;
            let ink = if share > 0.45 { WHITE } else { BLACK };
            let count = m.confusion[t][p];
            let count = if (count - count.round()).abs() < 1e-9 { format!("{}", count as i64) } else { format!("{count:.1}") };
            let style = text_style(14).color(&ink).pos(plotters::style::text_anchor::Pos::new(
                plotters::style::text_anchor::HPos::Center,
                plotters::style::text_anchor::VPos::Center,
            ));
            chart.draw_series([
                Text::new(count, (x, y - 0.13), style.clone()),
                Text::new(format!("{:.0} %", 100.0 * share), (x, y + 0.15), style.clone()),
            ])?;
        }
    }
    Ok(())
}

// ---------------------------------------------------------------- PR curves

pub fn pr_curves(stem: &Path, title: &str, curves: &[PrCurve]) -> Result<Vec<PathBuf>, PlotError> {
    render!(stem, (820, 640), draw_pr_curves(title, curves))
}

fn draw_pr_curves<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, title: &str, curves: &[PrCurve]) -> DrawResult
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(root)
        .caption(format!("{title}: precision-recall per class (one vs rest)"), text_style(20))
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(60)
        .build_cartesian_2d(0f64..1.0, 0f64..1.05)?;
    chart
        .configure_mesh()
        .light_line_style(TRANSPARENT)
        .x_desc("recall")
        .y_desc("precision")
        .x_label_formatter(&|v| format!("{v:.1}"))
        .y_label_formatter(&|v| format!("{v:.1}"))
        .label_style(text_style(13))
        .axis_desc_style(text_style(15))
        .draw()?;
    for (i, c) in curves.iter().enumerate() {
        let col = colour(i);
        chart
            .draw_series(LineSeries::new(c.recall.iter().copied().zip(c.precision.iter().copied()), col.stroke_width(2)))?
            .label(format!("{} (PR-AUC {:.3})", c.class, c.auc))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], col.stroke_width(2)));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerLeft)
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .label_font(text_style(15))
        .draw()?;
    Ok(())
}

// ---------------------------------------------------------------- HPO scatter

/// One configuration of the sweep: complete, or stopped early by successive halving
/// (then its numbers are those of the epochs it reached).
#[derive(Debug, Clone)]
pub struct ConfigPoint {
    pub delta_accuracy: f64,
    pub val_accuracy: f64,
    pub score: f64,
    /// The epochs it reached when successive halving stopped it; None: complete.
    pub stopped_at: Option<i64>,
}

/// "All 12 configurations" or "1 of 9 configurations complete" for a title.
pub fn completeness(complete: usize, all: usize) -> String {
    if complete == all {
        format!("All {all} configurations")
    } else {
        format!("{complete} of {all} configurations complete")
    }
}

/// The distinct epochs at which configurations were stopped early, ascending: each
/// gets a colour of its own (after the complete ones' colour 0).
fn stop_epochs(stops: impl Iterator<Item = Option<i64>>) -> Vec<i64> {
    let mut e: Vec<i64> = stops.flatten().collect();
    e.sort_unstable();
    e.dedup();
    e
}

pub fn hpo_scatter(stem: &Path, points: &[ConfigPoint], chosen: Option<usize>, rule: &ScoreRule) -> Result<Vec<PathBuf>, PlotError> {
    render!(stem, (900, 640), draw_hpo_scatter(points, chosen, rule))
}

/// The part of the segment a–b inside the rectangle [x0, x1] × [y0, y1]
/// (Liang–Barsky), or None when it misses it. Clipping keeps the segment's slope,
/// where clamping its end points would not.
pub fn clip_segment(a: (f64, f64), b: (f64, f64), (x0, x1): (f64, f64), (y0, y1): (f64, f64)) -> Option<((f64, f64), (f64, f64))> {
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let (mut t0, mut t1) = (0.0f64, 1.0f64);
    for (p, q) in [(-dx, a.0 - x0), (dx, x1 - a.0), (-dy, a.1 - y0), (dy, y1 - a.1)] {
        if p == 0.0 {
            if q < 0.0 {
                return None;
            }
        } else {
            let r = q / p;
            if p < 0.0 {
                t0 = t0.max(r);
            } else {
                t1 = t1.min(r);
            }
        }
    }
    (t0 <= t1).then_some(((a.0 + t0 * dx, a.1 + t0 * dy), (a.0 + t1 * dx, a.1 + t1 * dy)))
}

/// The equal-score line of score `s` over [x0, x1], as straight pieces: with |Δacc| in
/// the score, v = (2s − w1·(1 − |Δ|)) / w2 bends at Δ = 0.
pub fn iso_score_pieces(s: f64, rule: &ScoreRule, (x0, x1): (f64, f64)) -> Vec<((f64, f64), (f64, f64))> {
    let v = |d: f64| (2.0 * s - rule.w1 * (1.0 - d.abs())) / rule.w2;
    let mut xs = vec![x0];
    if x0 < 0.0 && x1 > 0.0 {
        xs.push(0.0);
    }
    xs.push(x1);
    xs.windows(2).map(|w| ((w[0], v(w[0])), (w[1], v(w[1])))).collect()
}

fn draw_hpo_scatter<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, points: &[ConfigPoint], chosen: Option<usize>, rule: &ScoreRule) -> DrawResult
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE)?;
    let xs = points.iter().map(|p| p.delta_accuracy);
    let ys = points.iter().map(|p| p.val_accuracy);
    let (x0, x1) = padded(xs);
    let (y0, y1) = padded(ys);
    let mut chart = ChartBuilder::on(root)
        .caption(
            format!("{}: validation accuracy vs overfitting", completeness(points.iter().filter(|p| p.stopped_at.is_none()).count(), points.len())),
            text_style(20),
        )
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(65)
        .build_cartesian_2d(x0..x1, y0..y1)?;
    let x_desc = match rule.delta {
        DeltaKind::Absolute => "Δacc = mean train accuracy − mean validation accuracy",
        DeltaKind::Relative => "Δacc = (mean train accuracy − mean validation accuracy) / mean validation accuracy",
    };
    chart
        .configure_mesh()
        .light_line_style(TRANSPARENT)
        .x_desc(x_desc)
        .y_desc("mean validation accuracy (CV)")
        .x_label_formatter(&|v| format!("{v:.3}"))
        .y_label_formatter(&|v| format!("{v:.3}"))
        .label_style(text_style(13))
        .axis_desc_style(text_style(15))
        .draw()?;
    // Equal-score lines, clipped to the plot area.
    if rule.w2 != 0.0 {
        let scores: Vec<f64> = points.iter().map(|p| p.score).filter(|s| s.is_finite()).collect();
        let (s0, s1) = (scores.iter().copied().fold(f64::INFINITY, f64::min), scores.iter().copied().fold(f64::NEG_INFINITY, f64::max));
        if s0.is_finite() && s1 > s0 {
            for i in 0..5 {
                let s = s0 + (s1 - s0) * i as f64 / 4.0;
                for (a, b) in iso_score_pieces(s, rule, (x0, x1)) {
                    if let Some((a, b)) = clip_segment(a, b, (x0, x1), (y0, y1)) {
                        chart.draw_series(DashedLineSeries::new(vec![a, b], 5, 4, RGBColor(160, 160, 160).stroke_width(1)))?;
                    }
                }
                // Label on the line near the right edge, if inside.
                let xl = x1 - (x1 - x0) * 0.14;
                let y = (2.0 * s - rule.w1 * (1.0 - xl.abs())) / rule.w2;
                if y > y0 && y < y1 {
                    chart.draw_series(std::iter::once(Text::new(format!("score {s:.3}"), (xl, y), text_style(13))))?;
                }
            }
        }
        // The chosen configuration's own equal-score line, through its point.
        if let Some(c) = chosen.and_then(|c| points.get(c)).filter(|c| c.score.is_finite()) {
            for (a, b) in iso_score_pieces(c.score, rule, (x0, x1)) {
                if let Some((a, b)) = clip_segment(a, b, (x0, x1), (y0, y1)) {
                    chart.draw_series(DashedLineSeries::new(vec![a, b], 5, 4, RED.mix(0.7).stroke_width(1)))?;
                }
            }
        }
    }
    // Those successive halving stopped early, as rings, one colour per epochs reached.
    for (i, e) in stop_epochs(points.iter().map(|p| p.stopped_at)).into_iter().enumerate() {
        let c = colour(i + 1);
        chart
            .draw_series(points.iter().filter(|p| p.stopped_at == Some(e)).map(|p| {
                Circle::new((p.delta_accuracy, p.val_accuracy), 4, c.stroke_width(2))
            }))?
            .label(format!("stopped at {e} epochs"))
            .legend(move |(x, y)| Circle::new((x + 8, y), 4, c.stroke_width(2)));
    }
    chart
        .draw_series(points.iter().enumerate().filter(|(i, p)| Some(*i) != chosen && p.stopped_at.is_none()).map(|(_, p)| {
            Circle::new((p.delta_accuracy, p.val_accuracy), 3, colour(0).mix(0.6).filled())
        }))?
        .label("complete configuration")
        .legend(|(x, y)| Circle::new((x + 8, y), 4, colour(0).filled()));
    if let Some(c) = chosen.and_then(|c| points.get(c)) {
        chart
            .draw_series(std::iter::once(Circle::new((c.delta_accuracy, c.val_accuracy), 6, RED.filled())))?
            .label(format!("chosen (score {:.4})", c.score))
            .legend(|(x, y)| Circle::new((x + 8, y), 5, RED.filled()));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .label_font(text_style(15))
        .draw()?;
    Ok(())
}

fn padded(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let v: Vec<f64> = values.filter(|v| v.is_finite()).collect();
    let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    let pad = ((hi - lo) * 0.08).max(0.005);
    (lo - pad, hi + pad)
}

// ---------------------------------------------------------------- score vs hyperparameter

/// One value of a hyperparameter as the axis shows it, and its configurations' scores,
/// each with the epochs successive halving stopped it at (None: complete).
pub type ScoreGroup = (String, Vec<(f64, Option<i64>)>);

/// Scores of the configurations for each value of one hyperparameter (values in axis
/// order).
pub fn score_vs_param(stem: &Path, key: &str, groups: &[ScoreGroup], chosen: Option<(usize, usize)>) -> Result<Vec<PathBuf>, PlotError> {
    render!(stem, (760, 480), draw_score_vs_param(key, groups, chosen))
}

fn draw_score_vs_param<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, key: &str, groups: &[ScoreGroup], chosen: Option<(usize, usize)>) -> DrawResult
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE)?;
    let names: Vec<String> = groups.iter().map(|g| g.0.clone()).collect();
    let k = groups.len().max(1);
    let (y0, y1) = padded(groups.iter().flat_map(|g| g.1.iter().map(|p| p.0)));
    let all = groups.iter().map(|g| g.1.len()).sum::<usize>();
    let complete = groups.iter().map(|g| g.1.iter().filter(|p| p.1.is_none()).count()).sum::<usize>();
    let caption = if complete == all { format!("Score by {key}") } else { format!("Score by {key} ({complete} of {all} complete)") };
    let stops = stop_epochs(groups.iter().flat_map(|g| g.1.iter().map(|p| p.1)));
    let mut chart = ChartBuilder::on(root)
        .caption(caption, text_style(20))
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(65)
        .build_cartesian_2d(-0.5f64..k as f64 - 0.5, y0..y1)?;
    chart
        .configure_mesh()
        .light_line_style(TRANSPARENT)
        .disable_x_mesh()
        .x_labels(k + 1)
        .x_label_formatter(&|v| label_at(&names, *v))
        .x_desc(key)
        .y_desc("weighted score")
        .y_label_formatter(&|v| format!("{v:.3}"))
        .label_style(text_style(13))
        .axis_desc_style(text_style(15))
        .draw()?;
    for (gi, (_, scores)) in groups.iter().enumerate() {
        // At the value's own position (no jitter on an axis that may be numeric);
        // translucent, so that equal scores show as a darker point. Those stopped
        // early are rings in their epochs' colour (as in the scatter).
        chart.draw_series(scores.iter().filter(|p| p.1.is_none()).map(|p| Circle::new((gi as f64, p.0), 4, colour(0).mix(0.35).filled())))?;
        for (i, e) in stops.iter().enumerate() {
            chart.draw_series(scores.iter().filter(|p| p.1 == Some(*e)).map(|p| Circle::new((gi as f64, p.0), 4, colour(i + 1).stroke_width(2))))?;
        }
        // The bar: the best complete score of the value.
        if let Some(best) = scores.iter().filter(|p| p.1.is_none()).map(|p| p.0).filter(|s| s.is_finite()).reduce(f64::max) {
            chart.draw_series(std::iter::once(PathElement::new(vec![(gi as f64 - 0.3, best), (gi as f64 + 0.3, best)], BLACK.stroke_width(2))))?;
        }
    }
    if let Some((g, j)) = chosen {
        if let Some(s) = groups.get(g).and_then(|grp| grp.1.get(j)) {
            chart.draw_series(std::iter::once(Circle::new((g as f64, s.0), 6, RED.filled())))?;
        }
    }
    Ok(())
}

// ---------------------------------------------------------------- successive halving's rungs

/// One configuration's score at one complete rung of successive halving.
#[derive(Debug, Clone, PartialEq)]
pub struct RungPoint {
    pub config_id: String,
    pub rung: i64,
    /// The rung's epochs.
    pub epochs: i64,
    pub score: f64,
    /// It went on to the next rung.
    pub promoted: bool,
}

/// Score per configuration per rung: each configuration a line over the rungs it was
/// trained in; those that went on from a rung drawn dark, the pruned light, the
/// evaluated configuration in red.
pub fn rungs(stem: &Path, points: &[RungPoint], chosen: Option<&str>) -> Result<Vec<PathBuf>, PlotError> {
    render!(stem, (760, 480), draw_rungs(points, chosen))
}

fn draw_rungs<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, points: &[RungPoint], chosen: Option<&str>) -> DrawResult
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE)?;
    let last = points.iter().map(|p| p.rung).max().unwrap_or(0);
    let mut epochs = vec![0i64; last as usize + 1];
    for p in points {
        epochs[p.rung as usize] = epochs[p.rung as usize].max(p.epochs);
    }
    let names: Vec<String> = epochs.iter().enumerate().map(|(r, e)| format!("rung {r} ({e} ep.)")).collect();
    let (y0, y1) = padded(points.iter().map(|p| p.score).filter(|s| s.is_finite()));
    let mut chart = ChartBuilder::on(root)
        .caption("Successive halving: score per configuration per rung", text_style(20))
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(65)
        .build_cartesian_2d(-0.3f64..last as f64 + 0.3, y0..y1)?;
    chart
        .configure_mesh()
        .light_line_style(TRANSPARENT)
        .disable_x_mesh()
        .x_labels(last as usize + 2)
        .x_label_formatter(&|v| label_at(&names, *v))
        .x_desc("rung (epochs trained)")
        .y_desc("weighted score at the rung")
        .y_label_formatter(&|v| format!("{v:.3}"))
        .label_style(text_style(13))
        .axis_desc_style(text_style(15))
        .draw()?;
    let mut by_config: std::collections::BTreeMap<&str, Vec<&RungPoint>> = Default::default();
    for p in points.iter().filter(|p| p.score.is_finite()) {
        by_config.entry(&p.config_id).or_default().push(p);
    }
    // Pruned ones first, so that survivors are drawn over them.
    let mut lines: Vec<(&str, Vec<&RungPoint>)> = by_config.into_iter().map(|(k, mut v)| {
        v.sort_by_key(|p| p.rung);
        (k, v)
    }).collect();
    lines.sort_by_key(|(_, v)| v.len());
    for (id, ps) in &lines {
        let survived = ps.len() > 1 || ps.iter().any(|p| p.promoted);
        let style = if Some(*id) == chosen {
            RED.stroke_width(3)
        } else if survived {
            colour(0).stroke_width(2)
        } else {
            colour(0).mix(0.25).stroke_width(1)
        };
        chart.draw_series(std::iter::once(PathElement::new(ps.iter().map(|p| (p.rung as f64, p.score)).collect::<Vec<_>>(), style)))?;
        chart.draw_series(ps.iter().map(|p| {
            let fill = if Some(*id) == chosen { RED.filled() } else if p.promoted { colour(0).filled() } else { colour(0).mix(0.3).filled() };
            Circle::new((p.rung as f64, p.score), if p.promoted { 4 } else { 3 }, fill)
        }))?;
    }
    Ok(())
}

// ---------------------------------------------------------------- accuracy comparison

pub fn accuracy_comparison(stem: &Path, models: &[(String, f64)]) -> Result<Vec<PathBuf>, PlotError> {
    render!(stem, (860, 480), draw_accuracy_comparison(models))
}

fn draw_accuracy_comparison<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, models: &[(String, f64)]) -> DrawResult
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE)?;
    let names: Vec<String> = models.iter().map(|m| m.0.clone()).collect();
    let k = models.len().max(1);
    let top = models.iter().map(|m| m.1).fold(0.0, f64::max).max(0.01) * 100.0 * 1.15;
    let mut chart = ChartBuilder::on(root)
        .caption("Test accuracy: dense net and baselines", text_style(20))
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(65)
        .build_cartesian_2d(-0.5f64..k as f64 - 0.5, 0f64..top.min(100.0))?;
    chart
        .configure_mesh()
        .light_line_style(TRANSPARENT)
        .disable_x_mesh()
        .x_labels(k + 1)
        .x_label_formatter(&|v| label_at(&names, *v))
        .y_label_formatter(&|v| format!("{v:.0}"))
        .y_desc("test accuracy (%)")
        .label_style(text_style(13))
        .axis_desc_style(text_style(15))
        .draw()?;
    chart.draw_series(models.iter().enumerate().map(|(i, (_, acc))| {
        let x = i as f64;
        Rectangle::new([(x - 0.35, 0.0), (x + 0.35, acc * 100.0)], colour(i).filled())
    }))?;
    let centre = plotters::style::text_anchor::Pos::new(
        plotters::style::text_anchor::HPos::Center,
        plotters::style::text_anchor::VPos::Bottom,
    );
    chart.draw_series(models.iter().enumerate().map(|(i, (_, acc))| {
        Text::new(format!("{:.2} %", acc * 100.0), (i as f64, acc * 100.0 + top * 0.01), text_style(14).pos(centre))
    }))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Segments (x1, y1, x2, y2) of the SVG's lines of one stroke colour, in pixels.
    fn segments(svg: &str, stroke: &str) -> Vec<(f64, f64, f64, f64)> {
        let doc = roxmltree::Document::parse(svg).unwrap();
        let mut out = Vec::new();
        for n in doc.descendants().filter(|n| n.has_tag_name("polyline") && n.attribute("stroke") == Some(stroke)) {
            let pts: Vec<(f64, f64)> = n
                .attribute("points")
                .unwrap_or("")
                .split_whitespace()
                .filter_map(|p| p.split_once(','))
                .map(|(x, y)| (x.parse().unwrap(), y.parse().unwrap()))
                .collect();
            out.extend(pts.windows(2).map(|w| (w[0].0, w[0].1, w[1].0, w[1].1)));
        }
        out
    }

    /// The rung plot has one line per configuration over the rungs it was trained in,
    /// and the evaluated configuration's line in red through its points.
    #[test]
    fn the_rung_plot_draws_each_configuration_over_its_rungs() {
        let p = |id: &str, rung: i64, score: f64, promoted: bool| RungPoint { config_id: id.into(), rung, epochs: 5 * 3i64.pow(rung as u32), score, promoted };
        let points = vec![
            p("a", 0, 0.40, true), p("a", 1, 0.45, true), p("a", 2, 0.47, false),
            p("b", 0, 0.42, true), p("b", 1, 0.44, false),
            p("c", 0, 0.30, false), p("d", 0, 0.35, false),
        ];
        let dir = std::env::temp_dir().join(format!("gridsweep-rungplot-{}", std::process::id()));
        let files = rungs(&dir.join("rungs"), &points, Some("a")).unwrap();
        let svg = std::fs::read_to_string(files.iter().find(|f| f.extension().unwrap() == "svg").unwrap()).unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        let doc = roxmltree::Document::parse(&svg).unwrap();
        let lines = doc.descendants().filter(|n| n.has_tag_name("polyline") && n.attribute("stroke-width").is_some_and(|w| w != "1" || n.attribute("stroke") != Some("#000000")));
        // One line per configuration (a one-point line for those pruned at rung 0).
        let red: Vec<_> = lines.filter(|n| n.attribute("stroke") == Some("#FF0000")).collect();
        assert_eq!(red.len(), 1, "{svg}");
        assert_eq!(red[0].attribute("points").unwrap().split_whitespace().count(), 3);
        let circles = doc.descendants().filter(|n| n.has_tag_name("circle")).count();
        assert_eq!(circles, points.len());
        assert!(svg.contains("rung 2 (45 ep.)"), "{svg}");
    }

    #[test]
    fn clipping_keeps_the_slope() {
        // A line from inside to far outside the box: the clipped end is on the border,
        // on the same line.
        let ((ax, ay), (bx, by)) = clip_segment((0.0, 0.0), (4.0, 2.0), (-1.0, 1.0), (-1.0, 1.0)).unwrap();
        assert_eq!((ax, ay), (0.0, 0.0));
        assert!((bx - 1.0).abs() < 1e-12 && (by - 0.5).abs() < 1e-12);
        assert!(clip_segment((2.0, 2.0), (3.0, 5.0), (-1.0, 1.0), (-1.0, 1.0)).is_none());
        let ((ax, ay), (bx, by)) = clip_segment((-3.0, -3.0), (3.0, 3.0), (-1.0, 1.0), (-2.0, 2.0)).unwrap();
        assert_eq!((ax, ay, bx, by), (-1.0, -1.0, 1.0, 1.0));
    }

    /// The scatter's equal-score lines, drawn as the SVG has them: every dash of every
    /// line has the same steepness (|slope| = w1/w2 in data units, on either side of
    /// Δ = 0), also where lines leave the plot area, and the chosen configuration's
    /// own line passes through its point.
    #[test]
    fn equal_score_lines_are_parallel_and_through_the_chosen_point() {
        let rule = ScoreRule::default();
        let points: Vec<ConfigPoint> = (0..40)
            .map(|i| {
                let d = -0.03 + 0.2 * (i as f64 / 39.0).powi(2);
                let v = 0.55 + 0.11 * ((i * 7 % 40) as f64 / 39.0);
                ConfigPoint { delta_accuracy: d, val_accuracy: v, score: rule.score(v + d, v), stopped_at: None }
            })
            .collect();
        let chosen = 17;
        let dir = std::env::temp_dir().join(format!("gridsweep-plots-{}", std::process::id()));
        let files = hpo_scatter(&dir.join("scatter"), &points, Some(chosen), &rule).unwrap();
        let svg = std::fs::read_to_string(&files[1]).unwrap();
        let png = std::fs::read(&files[0]).unwrap();
        // 2× PNG: the IHDR width is 1800 for the 900-pixel plot.
        assert_eq!(u32::from_be_bytes([png[16], png[17], png[18], png[19]]), 1800);
        let _ = std::fs::remove_dir_all(&dir);

        let grey = segments(&svg, "#A0A0A0");
        assert!(grey.len() > 20, "dashes of the equal-score lines: {}", grey.len());
        // Dashes are a few pixels long, rounded to whole pixels: measure each run of
        // dashes that continue one another (the next starts a gap after the last ends).
        let mut runs: Vec<Vec<(f64, f64, f64, f64)>> = Vec::new();
        for s in grey {
            match runs.last_mut() {
                Some(run) if {
                    let l = run.last().unwrap();
                    let continues = (s.0 - l.2).hypot(s.1 - l.3) < 8.0;
                    let same_way = (s.3 - s.1) * (l.3 - l.1) >= 0.0;
                    continues && same_way
                } => run.push(s),
                _ => runs.push(vec![s]),
            }
        }
        let slopes: Vec<f64> = runs
            .iter()
            .filter_map(|r| {
                let (a, b) = (r[0], r[r.len() - 1]);
                ((b.2 - a.0).abs() > 80.0).then(|| ((b.3 - a.1) / (b.2 - a.0)).abs())
            })
            .collect();
        assert!(slopes.len() >= 4, "long runs: {}", slopes.len());
        let (lo, hi) = slopes.iter().fold((f64::INFINITY, 0.0f64), |(lo, hi), &s| (lo.min(s), hi.max(s)));
        assert!(hi - lo < 0.03 * hi, "slopes from {lo} to {hi}: not parallel ({slopes:?})");

        let doc = roxmltree::Document::parse(&svg).unwrap();
        let dot = doc
            .descendants()
            .find(|n| n.has_tag_name("circle") && n.attribute("fill") == Some("#FF0000") && n.attribute("r") == Some("6"))
            .expect("the chosen point");
        let (cx, cy): (f64, f64) = (dot.attribute("cx").unwrap().parse().unwrap(), dot.attribute("cy").unwrap().parse().unwrap());
        let red = segments(&svg, "#FF0000");
        assert!(!red.is_empty(), "the chosen configuration's line");
        // The distance from the point to the line through the dash nearest it, on the
        // same side of the bend.
        let s = red
            .iter()
            .filter(|s| (s.2 - s.0).abs() > 1.0)
            .min_by(|a, b| (a.0 - cx).abs().min((a.2 - cx).abs()).total_cmp(&(b.0 - cx).abs().min((b.2 - cx).abs())))
            .unwrap();
        let (dx, dy) = (s.2 - s.0, s.3 - s.1);
        let dist = ((cx - s.0) * dy - (cy - s.1) * dx).abs() / (dx * dx + dy * dy).sqrt();
        assert!(dist < 1.5, "the chosen point is {dist:.1} px off its line");
    }
}
