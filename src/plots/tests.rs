use super::*;
use crate::score::ScoreRule;

/// Segments (x1, y1, x2, y2) of the SVG's lines of one stroke colour, in pixels.
fn segments(svg: &str, stroke: &str) -> Vec<(f64, f64, f64, f64)> {
    let doc = roxmltree::Document::parse(svg).unwrap();
    let mut out = Vec::new();
    for n in doc
        .descendants()
        .filter(|n| n.has_tag_name("polyline") && n.attribute("stroke") == Some(stroke))
    {
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
    let p = |id: &str, rung: i64, score: f64, promoted: bool| RungPoint {
        bracket: 0,
        config_id: id.into(),
        rung,
        resource: 5 * 3i64.pow(rung as u32),
        race: false,
        score,
        promoted,
        finished: false,
    };
    let points = vec![
        p("a", 0, 0.40, true),
        p("a", 1, 0.45, true),
        p("a", 2, 0.47, false),
        p("b", 0, 0.42, true),
        p("b", 1, 0.44, false),
        p("c", 0, 0.30, false),
        p("d", 0, 0.35, false),
    ];
    let dir = std::env::temp_dir().join(format!("gridsweep-rungplot-{}", std::process::id()));
    let files = rungs(&dir.join("rungs"), &points, Some("a")).unwrap();
    let svg = std::fs::read_to_string(
        files
            .iter()
            .find(|f| f.extension().unwrap() == "svg")
            .unwrap(),
    )
    .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let doc = roxmltree::Document::parse(&svg).unwrap();
    let lines = doc.descendants().filter(|n| {
        n.has_tag_name("polyline")
            && n.attribute("stroke-width")
                .is_some_and(|w| w != "1" || n.attribute("stroke") != Some("#000000"))
    });
    // One line per configuration (a one-point line for those pruned at rung 0).
    let red: Vec<_> = lines
        .filter(|n| n.attribute("stroke") == Some("#FF0000"))
        .collect();
    assert_eq!(red.len(), 1, "{svg}");
    assert_eq!(
        red[0]
            .attribute("points")
            .unwrap()
            .split_whitespace()
            .count(),
        3
    );
    let circles = doc
        .descendants()
        .filter(|n| n.has_tag_name("circle"))
        .count();
    assert_eq!(circles, points.len());
    assert!(svg.contains("rung 2 (45 ep.)"), "{svg}");
}

/// Configurations that reached their configured epochs are finished, not pruned: a
/// one-rung Hyperband bracket's are all drawn as dark squares, none as the pruned
/// ones' light dots (issue 29.6).
#[test]
fn finished_configurations_are_not_drawn_as_pruned() {
    let p = |b: i64, id: &str, rung: i64, score: f64, promoted: bool, finished: bool| RungPoint {
        bracket: b,
        config_id: id.into(),
        rung,
        resource: 5 * 3i64.pow(rung as u32),
        race: false,
        score,
        promoted,
        finished,
    };
    let points = vec![
        // Bracket 0: a went on and finished at rung 1, b was pruned at rung 0.
        p(0, "a", 0, 0.40, true, false),
        p(0, "a", 1, 0.45, false, true),
        p(0, "b", 0, 0.38, false, false),
        // Bracket 1: one rung, at the full epochs: both finished there.
        p(1, "c", 0, 0.44, false, true),
        p(1, "d", 0, 0.41, false, true),
    ];
    let dir = std::env::temp_dir().join(format!(
        "gridsweep-rungplot-finished-{}",
        std::process::id()
    ));
    let files = rungs(&dir.join("rungs"), &points, None).unwrap();
    let svg = std::fs::read_to_string(
        files
            .iter()
            .find(|f| f.extension().unwrap() == "svg")
            .unwrap(),
    )
    .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let doc = roxmltree::Document::parse(&svg).unwrap();
    let translucent = |n: &roxmltree::Node| {
        n.attribute("fill-opacity")
            .is_some_and(|o| o.parse::<f64>().unwrap() < 1.0)
            || n.attribute("opacity")
                .is_some_and(|o| o.parse::<f64>().unwrap() < 1.0)
    };
    // One light dot: b's. Three squares (a at rung 1, c, d), all opaque.
    let light: Vec<_> = doc
        .descendants()
        .filter(|n| n.has_tag_name("circle") && translucent(n))
        .collect();
    assert_eq!(light.len(), 1, "{svg}");
    let squares: Vec<_> = doc
        .descendants()
        .filter(|n| n.has_tag_name("rect") && n.attribute("width") == Some("8"))
        .collect();
    assert_eq!(squares.len(), 3, "{svg}");
    assert!(squares.iter().all(|n| !translucent(n)), "{svg}");
}

#[test]
fn clipping_keeps_the_slope() {
    // A line from inside to far outside the box: the clipped end is on the border,
    // on the same line.
    let ((ax, ay), (bx, by)) =
        clip_segment((0.0, 0.0), (4.0, 2.0), (-1.0, 1.0), (-1.0, 1.0)).unwrap();
    assert_eq!((ax, ay), (0.0, 0.0));
    assert!((bx - 1.0).abs() < 1e-12 && (by - 0.5).abs() < 1e-12);
    assert!(clip_segment((2.0, 2.0), (3.0, 5.0), (-1.0, 1.0), (-1.0, 1.0)).is_none());
    let ((ax, ay), (bx, by)) =
        clip_segment((-3.0, -3.0), (3.0, 3.0), (-1.0, 1.0), (-2.0, 2.0)).unwrap();
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
            ConfigPoint {
                delta_accuracy: d,
                val_accuracy: v,
                score: rule.score(v + d, v),
                stopped_at: None,
            }
        })
        .collect();
    let chosen = 17;
    let dir = std::env::temp_dir().join(format!("gridsweep-plots-{}", std::process::id()));
    let files = hpo_scatter(&dir.join("scatter"), &points, Some(chosen), &rule).unwrap();
    let svg = std::fs::read_to_string(&files[1]).unwrap();
    let png = std::fs::read(&files[0]).unwrap();
    // 2× PNG: the IHDR width is 1800 for the 900-pixel plot.
    assert_eq!(
        u32::from_be_bytes([png[16], png[17], png[18], png[19]]),
        1800
    );
    let _ = std::fs::remove_dir_all(&dir);

    let grey = segments(&svg, "#A0A0A0");
    assert!(
        grey.len() > 20,
        "dashes of the equal-score lines: {}",
        grey.len()
    );
    // Dashes are a few pixels long, rounded to whole pixels: measure each run of
    // dashes that continue one another (the next starts a gap after the last ends).
    let mut runs: Vec<Vec<(f64, f64, f64, f64)>> = Vec::new();
    for s in grey {
        match runs.last_mut() {
            Some(run)
                if {
                    let l = run.last().unwrap();
                    let continues = (s.0 - l.2).hypot(s.1 - l.3) < 8.0;
                    let same_way = (s.3 - s.1) * (l.3 - l.1) >= 0.0;
                    continues && same_way
                } =>
            {
                run.push(s)
            }
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
    let (lo, hi) = slopes.iter().fold((f64::INFINITY, 0.0f64), |(lo, hi), &s| {
        (lo.min(s), hi.max(s))
    });
    assert!(
        hi - lo < 0.03 * hi,
        "slopes from {lo} to {hi}: not parallel ({slopes:?})"
    );

    let doc = roxmltree::Document::parse(&svg).unwrap();
    let dot = doc
        .descendants()
        .find(|n| {
            n.has_tag_name("circle")
                && n.attribute("fill") == Some("#FF0000")
                && n.attribute("r") == Some("6")
        })
        .expect("the chosen point");
    let (cx, cy): (f64, f64) = (
        dot.attribute("cx").unwrap().parse().unwrap(),
        dot.attribute("cy").unwrap().parse().unwrap(),
    );
    let red = segments(&svg, "#FF0000");
    assert!(!red.is_empty(), "the chosen configuration's line");
    // The distance from the point to the line through the dash nearest it, on the
    // same side of the bend.
    let s = red
        .iter()
        .filter(|s| (s.2 - s.0).abs() > 1.0)
        .min_by(|a, b| {
            (a.0 - cx)
                .abs()
                .min((a.2 - cx).abs())
                .total_cmp(&(b.0 - cx).abs().min((b.2 - cx).abs()))
        })
        .unwrap();
    let (dx, dy) = (s.2 - s.0, s.3 - s.1);
    let dist = ((cx - s.0) * dy - (cy - s.1) * dx).abs() / (dx * dx + dy * dy).sqrt();
    assert!(dist < 1.5, "the chosen point is {dist:.1} px off its line");
}

/// An equal-score line's label is not put on a point, nor in the legend's corner: it
/// moves left along its line (issue 29).
#[test]
fn score_labels_keep_clear_of_points_and_the_legend() {
    let rule = ScoreRule::default();
    let (xs, ys) = ((0.0, 0.1), (0.5, 0.7));
    let line_y = |s: f64, x: f64| (2.0 * s - rule.w1 * (1.0 - x)) / rule.w2;
    let s = 0.5 * (rule.w1 * (1.0 - 0.05) + rule.w2 * 0.6);
    // Nothing in the way: the rightmost place, on the line.
    let (x, y) = label_place(s, &rule, &[], xs, ys).unwrap();
    assert!((x - 0.084).abs() < 1e-12 && (y - line_y(s, x)).abs() < 1e-12);
    // A point just right of that anchor on the line: the label moves left.
    let p = ConfigPoint {
        delta_accuracy: 0.086,
        val_accuracy: line_y(s, 0.086),
        score: s,
        stopped_at: None,
    };
    let (x2, _) = label_place(s, &rule, &[p], xs, ys).unwrap();
    assert!(x2 < 0.08, "{x2}");
    // A line low at the right edge runs through the legend's corner there and lower
    // still to the left: its label is left out rather than put under the legend.
    let low = 0.5 * (rule.w1 * (1.0 - 0.084) + rule.w2 * 0.52);
    assert_eq!(label_place(low, &rule, &[], xs, ys), None);
}
