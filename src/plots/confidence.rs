//! The pictures of `analyze` in the report: who wins as the score's weights change,
//! and the Pareto front of validation accuracy and |Δacc| over every configuration.

use super::{colour, register_font, svg_to_png, text_style, DrawResult, PlotError};
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::{Path, PathBuf};

/// A range of w = w1 / (w1 + w2) and its winner: (from, to, label).
pub type WeightBand = (f64, f64, String);

/// The winners over w ∈ [0, 1] as bands, the sweep's own w as a red line.
pub fn weight_bands(stem: &Path, bands: &[WeightBand], w: f64) -> Result<Vec<PathBuf>, PlotError> {
    render!(stem, (900, 230), draw_weight_bands(bands, w))
}

/// [`weight_bands`] as an SVG document.
pub fn weight_bands_svg(bands: &[WeightBand], w: f64) -> Result<String, PlotError> {
    render_svg!((900, 230), draw_weight_bands(bands, w))
}

fn draw_weight_bands<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    bands: &[WeightBand],
    w: f64,
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(root)
        .caption("Who wins as the weights change", text_style(20))
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(10)
        .build_cartesian_2d(0.0..1.0, 0.0..1.0)?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .disable_y_axis()
        .light_line_style(TRANSPARENT)
        .x_desc("w = w1 / (w1 + w2): 0 ranks by val accuracy only, 1 by 1 − |Δacc| only")
        .x_label_formatter(&|v| format!("{v:.1}"))
        .label_style(text_style(13))
        .axis_desc_style(text_style(14))
        .draw()?;
    for (i, (from, to, label)) in bands.iter().enumerate() {
        let c = colour(i);
        chart.draw_series(std::iter::once(Rectangle::new(
            [(*from, 0.15), (*to, 0.85)],
            c.mix(0.45).filled(),
        )))?;
        chart.draw_series(std::iter::once(Rectangle::new(
            [(*from, 0.15), (*to, 0.85)],
            c.stroke_width(1),
        )))?;
        // The label where the band is wide enough to hold it.
        if to - from > 0.07 {
            let y = if i % 2 == 0 { 0.62 } else { 0.38 };
            chart.draw_series(std::iter::once(Text::new(
                label.clone(),
                (from + 0.005, y),
                text_style(12),
            )))?;
        }
    }
    chart.draw_series(std::iter::once(PathElement::new(
        vec![(w, 0.0), (w, 1.0)],
        RED.stroke_width(3),
    )))?;
    chart.draw_series(std::iter::once(Text::new(
        format!("this sweep: w = {w:.3}"),
        (w + 0.005, 0.93),
        text_style(12).color(&RED),
    )))?;
    Ok(())
}

/// One configuration for the front's picture.
#[derive(Debug, Clone, Copy)]
pub struct FrontPoint {
    pub abs_delta: f64,
    pub val_accuracy: f64,
    pub on_front: bool,
    pub chosen: bool,
}

/// Every configuration's val accuracy against |Δacc| (the study's Figure 3 with the
/// gap's size), the Pareto front joined, the chosen one red.
pub fn pareto(stem: &Path, points: &[FrontPoint]) -> Result<Vec<PathBuf>, PlotError> {
    render!(stem, (900, 640), draw_pareto(points))
}

/// [`pareto`] as an SVG document.
pub fn pareto_svg(points: &[FrontPoint]) -> Result<String, PlotError> {
    render_svg!((900, 640), draw_pareto(points))
}

fn draw_pareto<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    points: &[FrontPoint],
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE)?;
    let (x0, x1) = super::sweep::padded(points.iter().map(|p| p.abs_delta));
    let (y0, y1) = super::sweep::padded(points.iter().map(|p| p.val_accuracy));
    let mut chart = ChartBuilder::on(root)
        .caption(
            format!(
                "Pareto front: {} of {} configurations no other beats on both",
                points.iter().filter(|p| p.on_front).count(),
                points.len()
            ),
            text_style(20),
        )
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(65)
        .build_cartesian_2d(x0..x1, y0..y1)?;
    chart
        .configure_mesh()
        .light_line_style(TRANSPARENT)
        .x_desc("|Δacc| (smaller: less overfitting)")
        .y_desc("mean validation accuracy (CV)")
        .x_label_formatter(&|v| format!("{v:.3}"))
        .y_label_formatter(&|v| format!("{v:.3}"))
        .label_style(text_style(13))
        .axis_desc_style(text_style(15))
        .draw()?;
    chart
        .draw_series(points.iter().filter(|p| !p.on_front).map(|p| {
            Circle::new(
                (p.abs_delta, p.val_accuracy),
                3,
                colour(7).mix(0.5).filled(),
            )
        }))?
        .label("configuration")
        .legend(|(x, y)| Circle::new((x + 8, y), 4, colour(7).filled()));
    let mut front: Vec<(f64, f64)> = points
        .iter()
        .filter(|p| p.on_front)
        .map(|p| (p.abs_delta, p.val_accuracy))
        .collect();
    front.sort_by(|a, b| a.0.total_cmp(&b.0));
    // The front as a staircase: each step holds until the next better accuracy.
    let mut stairs = Vec::new();
    for (i, p) in front.iter().enumerate() {
        if i > 0 {
            stairs.push((p.0, front[i - 1].1));
        }
        stairs.push(*p);
    }
    chart.draw_series(std::iter::once(PathElement::new(
        stairs,
        colour(0).stroke_width(2),
    )))?;
    chart
        .draw_series(front.iter().map(|&p| Circle::new(p, 4, colour(0).filled())))?
        .label("Pareto front")
        .legend(|(x, y)| Circle::new((x + 8, y), 4, colour(0).filled()));
    if let Some(c) = points.iter().find(|p| p.chosen) {
        chart
            .draw_series(std::iter::once(Circle::new(
                (c.abs_delta, c.val_accuracy),
                6,
                RED.filled(),
            )))?
            .label("chosen")
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
