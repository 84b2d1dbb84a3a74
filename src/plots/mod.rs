//! The pictures of a sweep and its evaluation, each as PNG and SVG (crate `plotters`).
//!
//! Every plot is one generic `draw_*` function over a plotters backend, rendered by
//! [`render`] to SVG, and the SVG rasterised (resvg) to a PNG at twice its size, sharp
//! enough to paste into a thesis. The font (DejaVu Sans) is compiled in, so the
//! pictures look the same on a machine without fonts.

use crate::fold::EpochRecord;
use crate::metrics::{Metrics, PrCurve};
use plotters::coord::Shift;
use plotters::prelude::*;
use std::error::Error;
use std::path::{Path, PathBuf};

type DrawResult = Result<(), Box<dyn Error>>;

const FONT: &str = "sans-serif";
static DEJAVU: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");

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

/// Renders `draw` to an SVG document in memory (for `serve`, which sends it as it is).
/// Text is escaped by plotters' SVG backend.
macro_rules! render_svg {
    ($size:expr, $draw:ident ( $($arg:expr),* )) => {{
        register_font();
        let mut svg = String::new();
        {
            let root = SVGBackend::with_string(&mut svg, $size).into_drawing_area();
            $draw(&root, $($arg),*).and_then(|_| root.present().map_err(|e| e.into()))
                .map_err(|e| PlotError { path: PathBuf::from("(in memory)"), message: e.to_string() })?;
        }
        Ok::<String, PlotError>(svg)
    }};
}

/// Rasterises an SVG written by [`render`] with the compiled-in font.
fn svg_to_png(svg: &Path, png: &Path) -> Result<(), PlotError> {
    use resvg::{tiny_skia, usvg};
    let fail = |path: &Path, message: String| PlotError {
        path: path.into(),
        message,
    };
    let data = std::fs::read(svg).map_err(|e| fail(svg, e.to_string()))?;
    let mut opt = usvg::Options::default();
    {
        let db = opt.fontdb_mut();
        db.load_font_data(DEJAVU.to_vec());
        db.set_sans_serif_family("DejaVu Sans");
    }
    let tree = usvg::Tree::from_data(&data, &opt).map_err(|e| fail(svg, e.to_string()))?;
    let size = tree
        .size()
        .to_int_size()
        .scale_by(PNG_SCALE)
        .ok_or_else(|| fail(png, "empty picture".into()))?;
    let mut pixmap = tiny_skia::Pixmap::new(size.width(), size.height())
        .ok_or_else(|| fail(png, "empty picture".into()))?;
    pixmap.fill(tiny_skia::Color::WHITE);
    resvg::render(
        &tree,
        tiny_skia::Transform::from_scale(PNG_SCALE, PNG_SCALE),
        &mut pixmap.as_mut(),
    );
    pixmap.save_png(png).map_err(|e| fail(png, e.to_string()))
}

fn text_style(size: u32) -> TextStyle<'static> {
    (FONT, size).into_font().color(&BLACK)
}

// ---------------------------------------------------------------- class balance

pub fn class_balance(
    stem: &Path,
    names: &[String],
    parts: &[(&str, Vec<usize>)],
) -> Result<Vec<PathBuf>, PlotError> {
    render!(stem, (900, 520), draw_class_balance(names, parts))
}

fn draw_class_balance<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    names: &[String],
    parts: &[(&str, Vec<usize>)],
) -> DrawResult
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
        let below: Vec<usize> = (0..k)
            .map(|c| parts[..pi].iter().map(|p| p.1[c]).sum())
            .collect();
        chart
            .draw_series((0..k).map(|c| {
                let x = c as f64;
                Rectangle::new(
                    [
                        (x - 0.35, below[c] as f64),
                        (x + 0.35, (below[c] + counts[c]) as f64),
                    ],
                    colour(pi).filled(),
                )
            }))?
            .label(format!("{part} ({})", counts.iter().sum::<usize>()))
            .legend(move |(x, y)| {
                Rectangle::new([(x, y - 6), (x + 14, y + 6)], colour(pi).filled())
            });
    }
    chart.draw_series((0..k).map(|c| {
        let share = 100.0 * totals[c] as f64 / all.max(1) as f64;
        Text::new(
            format!("{} ({share:.1} %)", totals[c]),
            (c as f64 - 0.3, totals[c] as f64 + top * 0.06),
            text_style(14),
        )
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

pub fn learning_curves(
    stem: &Path,
    history: &[EpochRecord],
    kept_epoch: u32,
) -> Result<Vec<PathBuf>, PlotError> {
    render!(stem, (1200, 500), draw_learning_curves(history, kept_epoch))
}

fn draw_learning_curves<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    history: &[EpochRecord],
    kept: u32,
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE)?;
    let root = root.titled(
        "Final training: learning curves (dashed grey: learning-rate drops; red: kept epoch)",
        text_style(20),
    )?;
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
        (
            "loss",
            "cross-entropy loss",
            |r| Some(r.loss),
            |r| r.val_loss,
        ),
        (
            "accuracy",
            "accuracy",
            |r| Some(r.accuracy),
            |r| r.val_accuracy,
        ),
    ];
    for (panel, (title, ydesc, train, val)) in panels.iter().zip(specs) {
        let values: Vec<f64> = history
            .iter()
            .flat_map(|r| [train(r), val(r)])
            .flatten()
            .filter(|v| v.is_finite())
            .collect();
        let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let (lo, hi) = if lo.is_finite() && hi > lo {
            (lo, hi)
        } else {
            (0.0, 1.0)
        };
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
            let series = chart.draw_series(DashedLineSeries::new(
                vec![(e, lo - pad), (e, hi + pad)],
                6,
                4,
                RGBColor(150, 150, 150).stroke_width(1),
            ))?;
            if i == 0 {
                let rates: Vec<String> = drops
                    .iter()
                    .take(4)
                    .map(|d| format!("{:.1e}", d.1))
                    .collect();
                let more = if drops.len() > 4 { ", …" } else { "" };
                series
                    .label(format!("learning rate drops to {}{more}", rates.join(", ")))
                    .legend(|(x, y)| {
                        PathElement::new(
                            vec![(x, y), (x + 20, y)],
                            RGBColor(150, 150, 150).stroke_width(1),
                        )
                    });
            }
        }
        if kept > 0 {
            chart
                .draw_series(std::iter::once(PathElement::new(
                    vec![(kept as f64, lo - pad), (kept as f64, hi + pad)],
                    RED.stroke_width(1),
                )))?
                .label(format!("weights kept: epoch {kept}"))
                .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], RED.stroke_width(1)));
        }
        chart
            .draw_series(LineSeries::new(
                history
                    .iter()
                    .filter_map(|r| train(r).map(|v| (r.epoch as f64, v))),
                colour(0).stroke_width(2),
            ))?
            .label("training part")
            .legend(|(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], colour(0).stroke_width(2))
            });
        if history.iter().any(|r| val(r).is_some()) {
            chart
                .draw_series(LineSeries::new(
                    history
                        .iter()
                        .filter_map(|r| val(r).map(|v| (r.epoch as f64, v))),
                    colour(1).stroke_width(2),
                ))?
                .label("validation part")
                .legend(|(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], colour(1).stroke_width(2))
                });
        }
        chart
            .configure_series_labels()
            .position(if title == "loss" {
                SeriesLabelPosition::UpperRight
            } else {
                SeriesLabelPosition::LowerRight
            })
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

fn draw_confusion<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    m: &Metrics,
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE)?;
    let names: Vec<String> = m.classes.iter().map(|c| c.name.clone()).collect();
    let k = names.len();
    let mut chart = ChartBuilder::on(root)
        .caption(
            format!(
                "{title}: confusion matrix (accuracy {:.1} %)",
                100.0 * m.accuracy
            ),
            text_style(20),
        )
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
            chart.draw_series(std::iter::once(Rectangle::new(
                [(x - 0.5, y - 0.5), (x + 0.5, y + 0.5)],
                fill.filled(),
            )))?;
            let ink = if share > 0.45 { WHITE } else { BLACK };
            let count = m.confusion[t][p];
            let count = if (count - count.round()).abs() < 1e-9 {
                format!("{}", count as i64)
            } else {
                format!("{count:.1}")
            };
            let style = text_style(14)
                .color(&ink)
                .pos(plotters::style::text_anchor::Pos::new(
                    plotters::style::text_anchor::HPos::Center,
                    plotters::style::text_anchor::VPos::Center,
                ));
            chart.draw_series([
                Text::new(count, (x, y - 0.13), style.clone()),
                Text::new(
                    format!("{:.0} %", 100.0 * share),
                    (x, y + 0.15),
                    style.clone(),
                ),
            ])?;
        }
    }
    Ok(())
}

// ---------------------------------------------------------------- PR curves

pub fn pr_curves(stem: &Path, title: &str, curves: &[PrCurve]) -> Result<Vec<PathBuf>, PlotError> {
    render!(stem, (820, 640), draw_pr_curves(title, curves))
}

fn draw_pr_curves<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    curves: &[PrCurve],
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(root)
        .caption(
            format!("{title}: precision-recall per class (one vs rest)"),
            text_style(20),
        )
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
            .draw_series(LineSeries::new(
                c.recall.iter().copied().zip(c.precision.iter().copied()),
                col.stroke_width(2),
            ))?
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

// ---------------------------------------------------------------- accuracy comparison

pub fn accuracy_comparison(
    stem: &Path,
    models: &[(String, f64)],
) -> Result<Vec<PathBuf>, PlotError> {
    render!(stem, (860, 480), draw_accuracy_comparison(models))
}

fn draw_accuracy_comparison<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    models: &[(String, f64)],
) -> DrawResult
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
        Rectangle::new(
            [(x - 0.35, 0.0), (x + 0.35, acc * 100.0)],
            colour(i).filled(),
        )
    }))?;
    let centre = plotters::style::text_anchor::Pos::new(
        plotters::style::text_anchor::HPos::Center,
        plotters::style::text_anchor::VPos::Bottom,
    );
    chart.draw_series(models.iter().enumerate().map(|(i, (_, acc))| {
        Text::new(
            format!("{:.2} %", acc * 100.0),
            (i as f64, acc * 100.0 + top * 0.01),
            text_style(14).pos(centre),
        )
    }))?;
    Ok(())
}

mod confidence;
mod sweep;
pub use confidence::*;
pub use sweep::*;

#[cfg(test)]
mod tests;
