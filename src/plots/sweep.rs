//! The sweep's own pictures: every configuration's score against Δacc and validation
//! accuracy (the study's Figure 3, with equal-score lines), the score by each varying
//! hyperparameter, and successive halving's rungs. Configurations a search stopped
//! early are drawn too, as rings, at the epochs they reached.

use super::{colour, label_at, register_font, svg_to_png, text_style, DrawResult, PlotError};
use crate::score::{DeltaKind, ScoreRule};
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::{Path, PathBuf};

// ---------------------------------------------------------------- HPO scatter

/// Where a staged search stopped a configuration, ordered by how far it went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Stop {
    /// Successive halving stopped it at these epochs (its numbers are of them).
    Epochs(i64),
    /// A race dropped it after these folds (its numbers are over them).
    Folds(i64),
}

impl Stop {
    /// The legend's words for it.
    pub fn label(&self) -> String {
        match self {
            Stop::Epochs(e) => format!("stopped at {e} epochs"),
            Stop::Folds(f) => format!("dropped after {f} folds"),
        }
    }
}

/// One configuration of the sweep: complete, or stopped early by a staged search
/// (then its numbers are those of the epochs or folds it reached).
#[derive(Debug, Clone)]
pub struct ConfigPoint {
    pub delta_accuracy: f64,
    pub val_accuracy: f64,
    pub score: f64,
    /// Where a staged search stopped it; None: complete.
    pub stopped_at: Option<Stop>,
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
fn stop_epochs(stops: impl Iterator<Item = Option<Stop>>) -> Vec<Stop> {
    let mut e: Vec<Stop> = stops.flatten().collect();
    e.sort_unstable();
    e.dedup();
    e
}

pub fn hpo_scatter(
    stem: &Path,
    points: &[ConfigPoint],
    chosen: Option<usize>,
    rule: &ScoreRule,
) -> Result<Vec<PathBuf>, PlotError> {
    render!(stem, (900, 640), draw_hpo_scatter(points, chosen, rule))
}

/// The part of the segment a–b inside the rectangle [x0, x1] × [y0, y1]
/// (Liang–Barsky), or None when it misses it. Clipping keeps the segment's slope,
/// where clamping its end points would not.
pub fn clip_segment(
    a: (f64, f64),
    b: (f64, f64),
    (x0, x1): (f64, f64),
    (y0, y1): (f64, f64),
) -> Option<((f64, f64), (f64, f64))> {
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let (mut t0, mut t1) = (0.0f64, 1.0f64);
    for (p, q) in [
        (-dx, a.0 - x0),
        (dx, x1 - a.0),
        (-dy, a.1 - y0),
        (dy, y1 - a.1),
    ] {
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
    (t0 <= t1).then_some((
        (a.0 + t0 * dx, a.1 + t0 * dy),
        (a.0 + t1 * dx, a.1 + t1 * dy),
    ))
}

/// The equal-score line of score `s` over [x0, x1], as straight pieces: with |Δacc| in
/// the score, v = (2s − w1·(1 − |Δ|)) / w2 bends at Δ = 0.
pub fn iso_score_pieces(
    s: f64,
    rule: &ScoreRule,
    (x0, x1): (f64, f64),
) -> Vec<((f64, f64), (f64, f64))> {
    let v = |d: f64| (2.0 * s - rule.w1 * (1.0 - d.abs())) / rule.w2;
    let mut xs = vec![x0];
    if x0 < 0.0 && x1 > 0.0 {
        xs.push(0.0);
    }
    xs.push(x1);
    xs.windows(2)
        .map(|w| ((w[0], v(w[0])), (w[1], v(w[1]))))
        .collect()
}

fn draw_hpo_scatter<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    points: &[ConfigPoint],
    chosen: Option<usize>,
    rule: &ScoreRule,
) -> DrawResult
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
            format!(
                "{}: validation accuracy vs overfitting",
                completeness(
                    points.iter().filter(|p| p.stopped_at.is_none()).count(),
                    points.len()
                )
            ),
            text_style(20),
        )
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(65)
        .build_cartesian_2d(x0..x1, y0..y1)?;
    let x_desc = match rule.delta {
        DeltaKind::Absolute => "Δacc = mean train accuracy − mean validation accuracy",
        DeltaKind::Relative => {
            "Δacc = (mean train accuracy − mean validation accuracy) / mean validation accuracy"
        }
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
        let scores: Vec<f64> = points
            .iter()
            .map(|p| p.score)
            .filter(|s| s.is_finite())
            .collect();
        let (s0, s1) = (
            scores.iter().copied().fold(f64::INFINITY, f64::min),
            scores.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        );
        if s0.is_finite() && s1 > s0 {
            for i in 0..5 {
                let s = s0 + (s1 - s0) * i as f64 / 4.0;
                for (a, b) in iso_score_pieces(s, rule, (x0, x1)) {
                    if let Some((a, b)) = clip_segment(a, b, (x0, x1), (y0, y1)) {
                        chart.draw_series(DashedLineSeries::new(
                            vec![a, b],
                            5,
                            4,
                            RGBColor(160, 160, 160).stroke_width(1),
                        ))?;
                    }
                }
                // Label on the line, right of centre where it can: not over a point and
                // not under the legend (lower right).
                if let Some((xl, y)) = label_place(s, rule, points, (x0, x1), (y0, y1)) {
                    chart.draw_series(std::iter::once(Text::new(
                        format!("score {s:.3}"),
                        (xl, y),
                        text_style(13),
                    )))?;
                }
            }
        }
        // The chosen configuration's own equal-score line, through its point.
        if let Some(c) = chosen
            .and_then(|c| points.get(c))
            .filter(|c| c.score.is_finite())
        {
            for (a, b) in iso_score_pieces(c.score, rule, (x0, x1)) {
                if let Some((a, b)) = clip_segment(a, b, (x0, x1), (y0, y1)) {
                    chart.draw_series(DashedLineSeries::new(
                        vec![a, b],
                        5,
                        4,
                        RED.mix(0.7).stroke_width(1),
                    ))?;
                }
            }
        }
    }
    // Those successive halving stopped early, as rings, one colour per epochs reached.
    for (i, e) in stop_epochs(points.iter().map(|p| p.stopped_at))
        .into_iter()
        .enumerate()
    {
        let c = colour(i + 1);
        chart
            .draw_series(
                points
                    .iter()
                    .filter(|p| p.stopped_at == Some(e))
                    .map(|p| Circle::new((p.delta_accuracy, p.val_accuracy), 4, c.stroke_width(2))),
            )?
            .label(e.label())
            .legend(move |(x, y)| Circle::new((x + 8, y), 4, c.stroke_width(2)));
    }
    let complete: Vec<&ConfigPoint> = points
        .iter()
        .enumerate()
        .filter(|(i, p)| Some(*i) != chosen && p.stopped_at.is_none())
        .map(|(_, p)| p)
        .collect();
    let series = chart.draw_series(complete.iter().map(|p| {
        Circle::new(
            (p.delta_accuracy, p.val_accuracy),
            3,
            colour(0).mix(0.6).filled(),
        )
    }))?;
    // In the legend only where there are such points (not beside the chosen one alone).
    if !complete.is_empty() {
        series
            .label("complete configuration")
            .legend(|(x, y)| Circle::new((x + 8, y), 4, colour(0).filled()));
    }
    if let Some(c) = chosen.and_then(|c| points.get(c)) {
        chart
            .draw_series(std::iter::once(Circle::new(
                (c.delta_accuracy, c.val_accuracy),
                6,
                RED.filled(),
            )))?
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

/// Where an equal-score line's label goes: the first of a few places along the line,
/// from the right, that is inside the plot, clear of the legend's corner (lower right)
/// and clear of every point (the label runs right of its anchor, about a tenth of the
/// width and a thirtieth of the height). None when no place is clear.
pub(super) fn label_place(
    s: f64,
    rule: &ScoreRule,
    points: &[ConfigPoint],
    xs: (f64, f64),
    ys: (f64, f64),
) -> Option<(f64, f64)> {
    let (w, h) = (xs.1 - xs.0, ys.1 - ys.0);
    [0.84, 0.7, 0.56, 0.42, 0.28, 0.14]
        .into_iter()
        .find_map(|f| {
            let x = xs.0 + w * f;
            let y = (2.0 * s - rule.w1 * (1.0 - x.abs())) / rule.w2;
            let fy = (y - ys.0) / h;
            let inside = fy > 0.04 && fy < 0.96;
            let legend = f > 0.6 && fy < 0.22;
            let on_point = points.iter().any(|p| {
                let (dx, dy) = ((p.delta_accuracy - x) / w, (p.val_accuracy - y) / h);
                (-0.02..0.13).contains(&dx) && dy.abs() < 0.045
            });
            (inside && !legend && !on_point).then_some((x, y))
        })
}

pub(super) fn padded(values: impl Iterator<Item = f64>) -> (f64, f64) {
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
pub type ScoreGroup = (String, Vec<(f64, Option<Stop>)>);

/// Scores of the configurations for each value of one hyperparameter (values in axis
/// order).
pub fn score_vs_param(
    stem: &Path,
    key: &str,
    groups: &[ScoreGroup],
    chosen: Option<(usize, usize)>,
) -> Result<Vec<PathBuf>, PlotError> {
    render!(stem, (760, 480), draw_score_vs_param(key, groups, chosen))
}

fn draw_score_vs_param<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    key: &str,
    groups: &[ScoreGroup],
    chosen: Option<(usize, usize)>,
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE)?;
    let names: Vec<String> = groups.iter().map(|g| g.0.clone()).collect();
    let k = groups.len().max(1);
    let (y0, y1) = padded(groups.iter().flat_map(|g| g.1.iter().map(|p| p.0)));
    let all = groups.iter().map(|g| g.1.len()).sum::<usize>();
    let complete = groups
        .iter()
        .map(|g| g.1.iter().filter(|p| p.1.is_none()).count())
        .sum::<usize>();
    let caption = if complete == all {
        format!("Score by {key}")
    } else {
        format!("Score by {key} ({complete} of {all} complete)")
    };
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
        chart.draw_series(
            scores
                .iter()
                .filter(|p| p.1.is_none())
                .map(|p| Circle::new((gi as f64, p.0), 4, colour(0).mix(0.35).filled())),
        )?;
        for (i, e) in stops.iter().enumerate() {
            chart.draw_series(
                scores
                    .iter()
                    .filter(|p| p.1 == Some(*e))
                    .map(|p| Circle::new((gi as f64, p.0), 4, colour(i + 1).stroke_width(2))),
            )?;
        }
        // The bar: the best complete score of the value.
        if let Some(best) = scores
            .iter()
            .filter(|p| p.1.is_none())
            .map(|p| p.0)
            .filter(|s| s.is_finite())
            .reduce(f64::max)
        {
            chart.draw_series(std::iter::once(PathElement::new(
                vec![(gi as f64 - 0.3, best), (gi as f64 + 0.3, best)],
                BLACK.stroke_width(2),
            )))?;
        }
    }
    if let Some((g, j)) = chosen {
        if let Some(s) = groups.get(g).and_then(|grp| grp.1.get(j)) {
            chart.draw_series(std::iter::once(Circle::new(
                (g as f64, s.0),
                6,
                RED.filled(),
            )))?;
        }
    }
    Ok(())
}

// ---------------------------------------------------------------- successive halving's rungs

/// One configuration's score at one complete rung of successive halving, or at one
/// stage (barrier) of a race.
#[derive(Debug, Clone, PartialEq)]
pub struct RungPoint {
    /// Its bracket (0 for plain successive halving and a race).
    pub bracket: i64,
    pub config_id: String,
    /// The rung, or the race's stage.
    pub rung: i64,
    /// What the rung had trained: its epochs; a race's stage: the folds each
    /// configuration had run.
    pub resource: i64,
    /// A race's stage (`resource` is folds), not a rung of successive halving.
    pub race: bool,
    pub score: f64,
    /// It went on to the next rung.
    pub promoted: bool,
    /// Its numbers here are its final ones: the rung's epochs are its configured
    /// epochs (it was not pruned; a one-rung Hyperband bracket's are all so), or it was
    /// still in the race when the race ended (the tie set's).
    pub finished: bool,
}

/// Score per configuration per rung: each configuration a line over the rungs it was
/// trained in; those that went on from a rung drawn dark, those that finished there
/// (reached their configured epochs) as dark squares, the pruned light, the evaluated
/// configuration in red. Hyperband's brackets each get a panel (two to a row).
pub fn rungs(
    stem: &Path,
    points: &[RungPoint],
    chosen: Option<&str>,
) -> Result<Vec<PathBuf>, PlotError> {
    let brackets = points
        .iter()
        .map(|p| p.bracket)
        .max()
        .map_or(1, |b| b as u32 + 1);
    let (cols, rows) = if brackets == 1 {
        (1, 1)
    } else {
        (2, brackets.div_ceil(2))
    };
    render!(stem, (760 * cols, 480 * rows), draw_rungs(points, chosen))
}

/// [`rungs`] as an SVG document.
pub fn rungs_svg(points: &[RungPoint], chosen: Option<&str>) -> Result<String, PlotError> {
    let brackets = points
        .iter()
        .map(|p| p.bracket)
        .max()
        .map_or(1, |b| b as u32 + 1);
    let (cols, rows) = if brackets == 1 {
        (1, 1)
    } else {
        (2, brackets.div_ceil(2))
    };
    render_svg!((760 * cols, 480 * rows), draw_rungs(points, chosen))
}

fn draw_rungs<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    points: &[RungPoint],
    chosen: Option<&str>,
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE)?;
    let brackets = points
        .iter()
        .map(|p| p.bracket)
        .max()
        .map_or(1, |b| b as usize + 1);
    if points.iter().any(|p| p.race) {
        return draw_rung_panel(
            root,
            points,
            chosen,
            "Race: score per configuration per stage".into(),
        );
    }
    if brackets == 1 {
        return draw_rung_panel(
            root,
            points,
            chosen,
            "Successive halving: score per configuration per rung".into(),
        );
    }
    let panels = root.split_evenly((brackets.div_ceil(2), 2));
    for (b, area) in panels.iter().enumerate().take(brackets) {
        let of: Vec<RungPoint> = points
            .iter()
            .filter(|p| p.bracket == b as i64)
            .cloned()
            .collect();
        let start = of
            .iter()
            .filter(|p| p.rung == 0)
            .map(|p| p.resource)
            .max()
            .unwrap_or(0);
        draw_rung_panel(
            area,
            &of,
            chosen,
            format!("Hyperband bracket {b} (from {start} epochs): score per rung"),
        )?;
    }
    Ok(())
}

/// One bracket's rungs.
fn draw_rung_panel<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    points: &[RungPoint],
    chosen: Option<&str>,
    caption: String,
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let last = points.iter().map(|p| p.rung).max().unwrap_or(0);
    let race = points.iter().any(|p| p.race);
    let mut resource = vec![0i64; last as usize + 1];
    for p in points {
        resource[p.rung as usize] = resource[p.rung as usize].max(p.resource);
    }
    let names: Vec<String> = resource
        .iter()
        .enumerate()
        .map(|(r, e)| {
            if race {
                format!("stage {r} ({e} folds)")
            } else {
                format!("rung {r} ({e} ep.)")
            }
        })
        .collect();
    let (x_desc, y_desc) = if race {
        (
            "stage (folds run)",
            "score of the mean accuracies at the stage",
        )
    } else {
        ("rung (epochs trained)", "weighted score at the rung")
    };
    let (y0, y1) = padded(points.iter().map(|p| p.score).filter(|s| s.is_finite()));
    let mut chart = ChartBuilder::on(root)
        .caption(caption, text_style(20))
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
        .x_desc(x_desc)
        .y_desc(y_desc)
        .y_label_formatter(&|v| format!("{v:.3}"))
        .label_style(text_style(13))
        .axis_desc_style(text_style(15))
        .draw()?;
    let mut by_config: std::collections::BTreeMap<&str, Vec<&RungPoint>> = Default::default();
    for p in points.iter().filter(|p| p.score.is_finite()) {
        by_config.entry(&p.config_id).or_default().push(p);
    }
    // Pruned ones first, so that survivors are drawn over them.
    let mut lines: Vec<(&str, Vec<&RungPoint>)> = by_config
        .into_iter()
        .map(|(k, mut v)| {
            v.sort_by_key(|p| p.rung);
            (k, v)
        })
        .collect();
    lines.sort_by_key(|(_, v)| v.len());
    for (id, ps) in &lines {
        let survived = ps.len() > 1 || ps.iter().any(|p| p.promoted || p.finished);
        let style = if Some(*id) == chosen {
            RED.stroke_width(3)
        } else if survived {
            colour(0).stroke_width(2)
        } else {
            colour(0).mix(0.25).stroke_width(1)
        };
        chart.draw_series(std::iter::once(PathElement::new(
            ps.iter()
                .map(|p| (p.rung as f64, p.score))
                .collect::<Vec<_>>(),
            style,
        )))?;
        chart.draw_series(ps.iter().filter(|p| !p.finished).map(|p| {
            let fill = if Some(*id) == chosen {
                RED.filled()
            } else if p.promoted {
                colour(0).filled()
            } else {
                colour(0).mix(0.3).filled()
            };
            Circle::new(
                (p.rung as f64, p.score),
                if p.promoted { 4 } else { 3 },
                fill,
            )
        }))?;
        // Finished: a dark square, never the pruned ones' light dot.
        chart.draw_series(ps.iter().filter(|p| p.finished).map(|p| {
            let fill = if Some(*id) == chosen {
                RED.filled()
            } else {
                colour(0).filled()
            };
            EmptyElement::at((p.rung as f64, p.score)) + Rectangle::new([(-4, -4), (4, 4)], fill)
        }))?;
    }
    Ok(())
}
