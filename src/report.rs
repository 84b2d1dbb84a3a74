//! `gridsweep report`: one HTML page with everything a write-up of the sweep needs.
//!
//! The page is plain, well-formed XHTML-style HTML with inline CSS and no scripts, so
//! it opens from disk without network access; pictures are files beside it (`img/`,
//! PNG shown, SVG linked). Being well-formed lets the test suite parse it as XML and
//! check its structure.

use crate::domain::Counts;
use crate::evaluate::Evaluation;
use crate::export::display_value;
use crate::metrics::Metrics;
use crate::plots::{self, ConfigPoint, PlotError};
use crate::rank::Ranked;
use crate::spec::Spec;
use crate::text::shell_word;
use serde_json::Value;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// What the page shows.
pub struct ReportInput<'a> {
    pub spec: &'a Spec,
    pub db: &'a crate::store::DbLocation,
    pub dataset_fingerprint: &'a str,
    pub counts: Counts,
    pub created_at: f64,
    pub updated_at: f64,
    /// Sum of the recorded folds' training time.
    pub fit_seconds: f64,
    /// Every complete configuration, ranked.
    pub ranked: &'a [Ranked],
    pub configurations: usize,
    pub varying: &'a [String],
    /// The chosen configuration's evaluation; None for an imported sweep (no data, no
    /// model) or one not evaluated yet: the sections that need one are left out.
    pub evaluation: Option<&'a Evaluation>,
    /// The configuration the page is about (the evaluated one).
    pub chosen: &'a str,
    /// How the configurations are ranked.
    pub rule: crate::score::ScoreRule,
    /// Top configurations listed in the table.
    pub top: usize,
    /// Successive halving's rung scores (empty for other sweeps).
    pub rungs: &'a [plots::RungPoint],
    /// Configurations successive halving stopped before their end, ranked by their
    /// scores at the epochs they reached: (ranking entry, epochs reached, pruned).
    pub partial: &'a [crate::rank::PartialRanked],
    /// The sweep is a race: `partial` are the configurations it dropped, after the folds
    /// they ran.
    pub race: bool,
    /// Successive halving's rungs that ranked unlike the rung before them, as advice.
    pub weak_rungs: &'a [String],
    /// What `analyze` says of the sweep (the section "How sure is the choice?").
    pub analysis: Option<&'a crate::analyze::Analysis>,
    /// The tie set of the complete configurations, where there are fold scores; k of
    /// the k-fold (to say when one repeat decides little).
    pub tie_set: Option<&'a crate::tieset::TieSet>,
    pub k: usize,
    /// The sweep was imported (results made elsewhere: no data, no model here).
    pub imported: bool,
    /// Done folds per device label (the CPU's kernel path included).
    pub devices: &'a [(String, i64)],
}

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error(transparent)]
    Plot(#[from] PlotError),
    #[error("{path}: cannot write: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Escapes text for HTML element content and attribute values.
pub use crate::text::esc;

fn slug(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect()
}

fn pct(v: f64) -> String {
    format!("{:.2}&#8239;%", 100.0 * v)
}

/// A figure: the PNG shown, the SVG linked.
fn figure(html: &mut String, files: &[PathBuf], out: &Path, caption: &str) {
    let rel = |p: &PathBuf| {
        p.strip_prefix(out)
            .unwrap_or(p)
            .to_string_lossy()
            .replace('\\', "/")
    };
    let png = files
        .iter()
        .find(|p| p.extension().is_some_and(|e| e == "png"));
    let svg = files
        .iter()
        .find(|p| p.extension().is_some_and(|e| e == "svg"));
    if let Some(png) = png {
        let _ = writeln!(
            html,
            "<figure><img src=\"{}\" alt=\"{}\" /><figcaption>{}{}</figcaption></figure>",
            esc(&rel(png)),
            esc(caption),
            esc(caption),
            svg.map(|s| format!(" (<a href=\"{}\">SVG</a>)", esc(&rel(s))))
                .unwrap_or_default()
        );
    }
}

fn metrics_table(html: &mut String, m: &Metrics) {
    html.push_str("<table class=\"metrics\"><thead><tr><th>class</th><th>precision</th><th>recall</th><th>F1</th><th>support</th><th>PR-AUC</th><th>average precision</th></tr></thead><tbody>\n");
    for (i, c) in m.classes.iter().enumerate() {
        let auc = m
            .pr_curves
            .get(i)
            .map(|p| format!("{:.4}", p.auc))
            .unwrap_or_default();
        let ap = m
            .pr_curves
            .get(i)
            .and_then(|p| p.average_precision)
            .map(|a| format!("{a:.4}"))
            .unwrap_or_default();
        let _ = writeln!(
            html,
            "<tr><td>{}</td><td>{:.4}</td><td>{:.4}</td><td>{:.4}</td><td>{}</td><td>{auc}</td><td>{ap}</td></tr>",
            esc(&c.name),
            c.precision,
            c.recall,
            c.f1,
            c.support
        );
    }
    let support: usize = m.classes.iter().map(|c| c.support).sum();
    for (name, a) in [
        ("macro avg", &m.macro_avg),
        ("weighted avg", &m.weighted_avg),
    ] {
        let _ = writeln!(
            html,
            "<tr class=\"avg\"><td>{name}</td><td>{:.4}</td><td>{:.4}</td><td>{:.4}</td><td>{support}</td><td></td></tr>",
            a.precision, a.recall, a.f1
        );
    }
    let _ = writeln!(
        html,
        "</tbody></table>\n<p>Accuracy: <strong>{}</strong> of {support} test rows.</p>",
        pct(m.accuracy)
    );
}

const CSS: &str = "body{font-family:'DejaVu Sans',Helvetica,Arial,sans-serif;max-width:1180px;margin:2em auto;padding:0 1em;color:#222;line-height:1.45}
h1{font-size:1.7em;margin-bottom:.2em}h2{border-bottom:2px solid #1f77b4;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;margin:.8em 0;font-size:.92em}th,td{border:1px solid #ccc;padding:.25em .6em;text-align:right}
th{background:#eef3f8}td:first-child,th:first-child{text-align:left}tr.avg td{background:#f6f6f6}tr.chosen td{background:#fde9e9}
dl.facts{display:grid;grid-template-columns:max-content auto;gap:.2em 1.2em}dl.facts dt{font-weight:bold}dl.facts dd{margin:0}
figure{display:inline-block;margin:.6em .6em .6em 0;vertical-align:top}figure img{max-width:100%;border:1px solid #ddd}
figcaption{font-size:.85em;color:#555}pre{background:#f4f4f4;padding:.8em;overflow-x:auto;font-size:.88em}
.gallery figure{max-width:48%}.note{color:#555;font-size:.9em}.warning{background:#fff4e5;border-left:4px solid #e67e22;padding:.4em .8em}";

/// Writes the plots and `index.html` into `out`; returns the page's path.
pub fn write(input: &ReportInput, out: &Path) -> Result<PathBuf, ReportError> {
    let img = out.join("img");
    let spec = input.spec;
    let mut html = String::new();
    let title = format!("gridsweep report: {}", spec.name);
    let _ = write!(
        html,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\" />\n<title>{}</title>\n<style>\n{CSS}\n</style>\n</head>\n<body>\n<h1>{}</h1>\n",
        esc(&title),
        esc(&title)
    );
    if let Some(d) = &spec.description {
        let _ = writeln!(html, "<p class=\"lead\">{}</p>", esc(d));
    }

    summary_section(&mut html, input, &img, out)?;
    top_section(&mut html, input, &img, out)?;
    if let Some(a) = input.analysis {
        confidence_section(&mut html, input, a, &img, out)?;
    }
    if let Some(e) = input.evaluation {
        evaluation_section(&mut html, input, e, &img, out)?;
        baselines_section(&mut html, input, e, &img, out)?;
        reproduce_section(&mut html, input, e, &img, out)?;
    } else if !input.imported {
        let _ = writeln!(
            html,
            "<section id=\"not-evaluated\">\n<h2>Not evaluated yet</h2>\n<p>Configuration {} has no evaluation on the test part yet; <code>gridsweep evaluate {} --config {} --db {}</code> trains it on the sweep's split, tests it and fits the baselines, and the report made after it shows them.</p>\n</section>",
            esc(input.chosen),
            esc(&shell_word(&input.spec.name)),
            esc(input.chosen),
            db_word(input)
        );
    } else {
        let _ = writeln!(
            html,
            "<section id=\"imported\">\n<h2>Imported results</h2>\n<p>This sweep was imported from {}: it has no data or model of its own here, so there is no evaluation on a test part and no baseline. <code>gridsweep rerun {} --top K --repeats R --spec SPEC --db {}</code> trains its best again on the data a spec names.</p>\n</section>",
            esc(&input.spec.dataset.path.display().to_string()),
            esc(&shell_word(&input.spec.name)),
            db_word(input)
        );
    }
    let _ = writeln!(
        html,
        "<footer class=\"note\">Made by gridsweep {} on {}.</footer>\n</body>\n</html>",
        env!("CARGO_PKG_VERSION"),
        crate::text::utc(crate::store::now())
    );
    let page = out.join("index.html");
    std::fs::write(&page, html).map_err(|source| ReportError::Io {
        path: page.clone(),
        source,
    })?;
    Ok(page)
}

/// The page written into `out` as one file: each picture inlined as its SVG (a
/// `data:` URI; the PNG where there is no SVG) and the links to the separate SVG files
/// dropped. What `serve` hands out as the report's download.
pub fn self_contained(out: &Path) -> Result<String, ReportError> {
    use base64::Engine as _;
    let read = |p: &Path| {
        std::fs::read(p).map_err(|source| ReportError::Io {
            path: p.to_path_buf(),
            source,
        })
    };
    let page = out.join("index.html");
    let html = String::from_utf8_lossy(&read(&page)?).into_owned();
    let mut inlined = String::with_capacity(html.len());
    let mut rest = html.as_str();
    while let Some(i) = rest.find("src=\"img/") {
        let start = i + "src=\"".len();
        let Some(len) = rest[start..].find('"') else {
            break;
        };
        let rel = &rest[start..start + len];
        let png = out.join(rel);
        let svg = png.with_extension("svg");
        let (mime, bytes) = if svg.exists() {
            ("image/svg+xml", read(&svg)?)
        } else {
            ("image/png", read(&png)?)
        };
        inlined.push_str(&rest[..start]);
        let _ = write!(
            inlined,
            "data:{mime};base64,{}",
            base64::engine::general_purpose::STANDARD.encode(bytes)
        );
        rest = &rest[start + len..];
    }
    inlined.push_str(rest);
    // figure()'s " (<a href=\"img/….svg\">SVG</a>)": the picture is the SVG now.
    let mut out_html = String::with_capacity(inlined.len());
    let mut rest = inlined.as_str();
    while let Some(i) = rest.find(" (<a href=\"img/") {
        let Some(end) = rest[i..].find("</a>)") else {
            break;
        };
        out_html.push_str(&rest[..i]);
        rest = &rest[i + end + "</a>)".len()..];
    }
    out_html.push_str(rest);
    Ok(out_html)
}

/// How sure is the choice: the winners over the weights, the Pareto front, what
/// mattered per sub-grid, and the runners-up tested against the winner.
fn confidence_section(
    html: &mut String,
    input: &ReportInput,
    a: &crate::analyze::Analysis,
    img: &Path,
    out: &Path,
) -> Result<(), ReportError> {
    let short = |id: &str| crate::domain::short_id(id).to_string();
    let chosen = input.chosen;
    html.push_str("<section id=\"confidence\">\n<h2>How sure is the choice?</h2>\n");
    if let Some(s) = &a.sensitivity {
        let cur = &s.intervals[s.current];
        let w2 = input.spec.score.w2;
        let _ = writeln!(
            html,
            "<p>The score ranks like w·(1 − |Δacc|) + (1 − w)·val with w = w1 / (w1 + w2) = {:.3} here. <strong>{}</strong> (rank {}) wins for w from {:.3} to {:.3} (w1 from {} to {} at w2 = {w2}): the weights can move {:.3} down and {:.3} up before another configuration wins. {} configurations win somewhere in [0, 1].</p>",
            s.w,
            esc(&short(&cur.config_id)),
            cur.rank,
            cur.from,
            cur.to,
            crate::analyze::sensitivity::w1_text(cur.from, w2),
            crate::analyze::sensitivity::w1_text(cur.to, w2),
            s.margin_down,
            s.margin_up,
            s.intervals.len()
        );
        let bands: Vec<plots::WeightBand> = s
            .intervals
            .iter()
            .map(|i| {
                (
                    i.from,
                    i.to,
                    format!("{} (#{})", short(&i.config_id), i.rank),
                )
            })
            .collect();
        html.push_str("<div class=\"gallery\">\n");
        let files = plots::weight_bands(&img.join("weights"), &bands, s.w)?;
        figure(
            html,
            &files,
            out,
            "The winner for every weighting; red: this sweep's weights",
        );
        let on_front: std::collections::HashSet<&str> =
            a.pareto.iter().map(|p| p.config_id.as_str()).collect();
        let points: Vec<plots::FrontPoint> = input
            .ranked
            .iter()
            .map(|r| plots::FrontPoint {
                abs_delta: r.summary.delta_accuracy.abs(),
                val_accuracy: r.summary.mean_val_accuracy,
                on_front: on_front.contains(r.config_id.as_str()),
                chosen: r.config_id == chosen,
            })
            .collect();
        let files = plots::pareto(&img.join("pareto"), &points)?;
        figure(html, &files, out, "Validation accuracy against |Δacc|: every weighting picks its winner from the front (blue); the evaluated one in red");
        html.push_str("</div>\n");
    }
    html.push_str("<h3>What mattered (fANOVA importance of the score; share of its variance)</h3>\n<table><thead><tr><th>configurations</th><th>n</th><th>most important hyperparameters</th></tr></thead><tbody>\n");
    for g in &a.groups {
        let Some(t) = g.importance.iter().find(|t| t.target == "score") else {
            continue;
        };
        let top: Vec<String> = t
            .importances
            .iter()
            .take(5)
            .map(|i| format!("{} {:.2}", esc(&i.param), i.importance))
            .collect();
        let name = if g.name == "all" {
            "the whole sweep".to_string()
        } else {
            format!("sub-grid {}", esc(&g.name))
        };
        let _ = writeln!(
            html,
            "<tr><td>{name}</td><td>{}</td><td style=\"text-align:left\">{}</td></tr>",
            g.configurations,
            if top.is_empty() {
                "—".into()
            } else {
                top.join(", ")
            }
        );
    }
    html.push_str("</tbody></table>\n");
    html.push_str("<h3>Is the winner better than its runners-up?</h3>\n");
    match &a.comparisons_note {
        Some(note) => {
            let _ = writeln!(html, "<p class=\"note\">Not computed: {}.</p>", esc(note));
        }
        None => {
            let _ = writeln!(
                html,
                "<p class=\"note\">On paired fold scores: the corrected resampled t-test (Nadeau &amp; Bengio; one-sided p) and the Bayesian correlated t-test (the probability that the runner-up is the better one). With few folds they have little power: <code>gridsweep rerun {} --top K --repeats R --db {}</code> trains the best again with repeated cross-validation.</p>",
                esc(&shell_word(&input.spec.name)),
                db_word(input)
            );
            html.push_str("<table><thead><tr><th>rank</th><th>id</th><th>score</th><th>winner − it (mean per fold)</th><th>t</th><th>p</th><th>P(it beats the winner)</th><th>folds</th></tr></thead><tbody>\n");
            for c in &a.comparisons {
                match &c.test {
                    Some(t) => {
                        let _ = writeln!(
                            html,
                            "<tr><td>{}</td><td>{}</td><td>{:.4}</td><td>{:+.4}</td><td>{}</td><td>{}</td><td>{:.3}</td><td>{}</td></tr>",
                            c.rank,
                            esc(&short(&c.config_id)),
                            c.score,
                            t.mean,
                            t.t.map_or("–".into(), |x| format!("{x:.2}")),
                            t.p_value.map_or("–".into(), |x| format!("{x:.3}")),
                            1.0 - t.p_first_better,
                            t.n
                        );
                    }
                    None => {
                        let _ = writeln!(html, "<tr><td>{}</td><td>{}</td><td>{:.4}</td><td colspan=\"5\">folds not paired</td></tr>", c.rank, esc(&short(&c.config_id)), c.score);
                    }
                }
            }
            html.push_str("</tbody></table>\n");
        }
    }
    if let Some(t) = input.tie_set {
        tie_set_part(html, input, t);
    }
    let _ = writeln!(
        html,
        "<p class=\"note\">Marginals per value with intervals, the other targets and all of it as JSON: <code>gridsweep analyze {} --db {}</code> (docs/confidence.md).</p>\n</section>",
        esc(&shell_word(&input.spec.name)),
        db_word(input)
    );
    Ok(())
}

/// What the data cannot separate: the tie set, each member's probabilities, the pick
/// and why.
fn tie_set_part(html: &mut String, input: &ReportInput, t: &crate::tieset::TieSet) {
    let short = |id: &str| crate::domain::short_id(id).to_string();
    let folds = t.verdicts.first().map_or(0, |v| v.folds);
    html.push_str("<h3 id=\"tie-set\">What the data cannot separate: the tie set</h3>\n");
    let _ = writeln!(
        html,
        "<p><strong>{} of {}</strong> complete configurations are not credibly worse than the leader <strong>{}</strong>: for each, P(δ &gt; {}) &lt; {}, δ the leader's lead in score on {} paired folds (pooled variance of the paired differences, Nadeau &amp; Bengio's correction, a Student-t posterior; docs/confidence.md). The pick ({}): <strong>{}</strong>, {}.</p>",
        t.members.len(),
        t.verdicts.len(),
        esc(&short(&t.leader)),
        t.settings.rope,
        t.settings.confidence,
        folds,
        esc(t.settings.prefer.name()),
        esc(&short(&t.pick)),
        esc(&t.why)
    );
    if folds <= input.k {
        let _ = writeln!(
            html,
            "<p class=\"note\">One repeat of {} folds decides little: <code>\"cv\": {{\"repeats\": 10}}</code>, a race, or <code>gridsweep rerun {} --top N --repeats 10 --db {}</code> separates more.</p>",
            input.k,
            esc(&shell_word(&input.spec.name)),
            db_word(input)
        );
    }
    html.push_str("<table class=\"ties\"><thead><tr><th>rank</th><th>id</th><th>score</th><th>P(best, or within the ROPE of it)</th><th>P(within the ROPE)</th></tr></thead><tbody>\n");
    for v in t.verdicts.iter().filter(|v| v.tied).take(input.top.max(10)) {
        let class = if v.config_id == t.pick {
            " class=\"chosen\""
        } else {
            ""
        };
        let _ = writeln!(
            html,
            "<tr{class}><td>{}</td><td>{}</td><td>{:.4}</td><td>{}</td><td>{:.2}</td></tr>",
            v.rank,
            esc(&short(&v.config_id)),
            v.score,
            if v.config_id == t.leader {
                "leader".to_string()
            } else {
                format!("{:.2}", v.p_not_worse)
            },
            v.p_equivalent
        );
    }
    html.push_str("</tbody></table>\n");
    if t.members.len() > input.top.max(10) {
        let _ = writeln!(html, "<p class=\"note\">… and {} more: <code>gridsweep rank {} --db {}</code> lists them all.</p>", t.members.len() - input.top.max(10), esc(&shell_word(&input.spec.name)), db_word(input));
    }
}

/// The sweep: its facts, the class balance, the spec as run.
fn summary_section(
    html: &mut String,
    input: &ReportInput,
    img: &Path,
    out: &Path,
) -> Result<(), ReportError> {
    let spec = input.spec;
    let n = |v: &[usize]| v.iter().sum::<usize>();
    html.push_str("<section id=\"summary\">\n<h2>Sweep</h2>\n<dl class=\"facts\">\n");
    let mut facts: Vec<(&str, String)> = vec![("name", esc(&spec.name))];
    match input.evaluation {
        Some(e) => {
            let rows_total =
                n(&e.class_counts.train) + n(&e.class_counts.validation) + n(&e.class_counts.test);
            facts.push((
                "data",
                format!(
                    "{} (sha256 {}…)",
                    esc(&spec.dataset.path.display().to_string()),
                    esc(&input.dataset_fingerprint[..16.min(input.dataset_fingerprint.len())])
                ),
            ));
            facts.push((
                "rows",
                format!(
                    "{rows_total}: training part {} (49&#8239;%), validation part {}, test part {}; {} features, {} classes",
                    n(&e.class_counts.train),
                    n(&e.class_counts.validation),
                    n(&e.class_counts.test),
                    e.feature_names.len(),
                    e.class_names.len()
                ),
            ));
        }
        None if input.imported => facts.push((
            "imported from",
            esc(&spec.dataset.path.display().to_string()),
        )),
        None => facts.push((
            "data",
            format!(
                "{} (sha256 {}…)",
                esc(&spec.dataset.path.display().to_string()),
                esc(&input.dataset_fingerprint[..16.min(input.dataset_fingerprint.len())])
            ),
        )),
    }
    facts.extend([
        ("cross-validation", if spec.cv.repeats > 1 {
            format!("{}-fold stratified on the training part, repeated {} times (a new seeded split each), seed {}", spec.cv.folds, spec.cv.repeats, spec.seed)
        } else {
            format!("{}-fold stratified on the training part, seed {}", spec.cv.folds, spec.seed)
        }),
        (
            "configurations",
            format!(
                "{} ({} complete); folds: {} done, {} failed, {} pending, {} running",
                input.configurations,
                input.ranked.len(),
                input.counts.done,
                input.counts.failed,
                input.counts.pending,
                input.counts.running
            ),
        ),
        (
            "time",
            format!(
                "{} of fold time, summed over the done folds; sweep created {}, last update {}",
                crate::text::human_duration(input.fit_seconds),
                crate::text::utc(input.created_at),
                crate::text::utc(input.updated_at)
            ),
        ),
        ("database", esc(&input.db.to_string())),
        ("ranking", esc(&input.rule.describe())),
    ]);
    if !input.devices.is_empty() && !input.imported {
        let mut v = esc(&crate::device::folds_per_path(input.devices));
        if let Some(note) = crate::device::mixed_paths_note(input.devices) {
            let _ = write!(v, "<br><strong>Note:</strong> {}", esc(&note));
        }
        facts.push(("devices", v));
    }
    if input.imported {
        // An import: its folds and times are the file's, not a run's here.
        facts.retain(|(k, _)| *k != "cross-validation" && *k != "time");
        facts.push(("imported", crate::text::utc(input.created_at)));
    }
    for (k, v) in facts {
        let _ = writeln!(html, "<dt>{k}</dt><dd>{v}</dd>");
    }
    html.push_str("</dl>\n");
    if let Some(e) = input.evaluation {
        let files = plots::class_balance(
            &img.join("class-balance"),
            &e.class_names,
            &[
                ("training", e.class_counts.train.clone()),
                ("validation", e.class_counts.validation.clone()),
                ("test", e.class_counts.test.clone()),
            ],
        )?;
        figure(
            html,
            &files,
            out,
            "Rows per class in each part of the split",
        );
    }
    let spec_json = serde_json::to_string_pretty(spec).unwrap_or_default();
    let _ = writeln!(
        html,
        "<details><summary>The spec as run</summary><pre>{}</pre></details>\n</section>",
        esc(&spec_json)
    );
    Ok(())
}

/// The best configurations, and every configuration's score (complete ones and those
/// successive halving stopped) against Δacc and against each varying hyperparameter.
fn top_section(
    html: &mut String,
    input: &ReportInput,
    img: &Path,
    out: &Path,
) -> Result<(), ReportError> {
    html.push_str("<section id=\"top\">\n<h2>Top configurations</h2>\n<table class=\"ranking\"><thead><tr><th>rank</th><th>id</th><th>score</th><th>val acc (mean ± std)</th><th>train acc</th><th>Δacc</th>");
    if input.tie_set.is_some() {
        html.push_str("<th title=\"P(best, or within the ROPE of the best); empty: credibly worse\">tie set</th>");
    }
    for k in input.varying {
        let _ = write!(html, "<th>{}</th>", esc(k));
    }
    html.push_str("</tr></thead><tbody>\n");
    for r in input.ranked.iter().take(input.top) {
        let s = &r.summary;
        let class = if r.config_id == input.chosen {
            " class=\"chosen\""
        } else {
            ""
        };
        let _ = write!(
            html,
            "<tr{class}><td>{}</td><td>{}</td><td>{:.4}</td><td>{:.4} ± {:.4}</td><td>{:.4}</td><td>{}</td>",
            r.rank,
            esc(&r.config_id),
            r.score,
            s.mean_val_accuracy,
            s.std_val_accuracy,
            s.mean_train_accuracy,
            crate::text::four(s.delta_accuracy)
        );
        if let Some(t) = input.tie_set {
            let cell = match t.verdicts.iter().find(|v| v.config_id == r.config_id) {
                Some(v) if v.config_id == t.leader => "leader".to_string(),
                Some(v) if v.tied => format!("{:.2}", v.p_not_worse),
                _ => String::new(),
            };
            let _ = write!(html, "<td>{cell}</td>");
        }
        for k in input.varying {
            let _ = write!(
                html,
                "<td>{}</td>",
                esc(&crate::export::param_cell(&r.params, k))
            );
        }
        html.push_str("</tr>\n");
    }
    html.push_str("</tbody></table>\n");
    // Every configuration: the complete ones first (the chosen one is among them),
    // then those successive halving stopped, at the epochs they reached.
    let every: Vec<(&Ranked, Option<plots::Stop>)> = input
        .ranked
        .iter()
        .map(|r| (r, None))
        .chain(input.partial.iter().map(|p| {
            let stop = if input.race {
                plots::Stop::Folds(p.folds)
            } else {
                plots::Stop::Epochs(p.epochs)
            };
            (&p.ranked, Some(stop))
        }))
        .collect();
    let points: Vec<ConfigPoint> = every
        .iter()
        .map(|(r, stopped_at)| ConfigPoint {
            delta_accuracy: r.summary.delta_accuracy,
            val_accuracy: r.summary.mean_val_accuracy,
            score: r.score,
            stopped_at: *stopped_at,
        })
        .collect();
    let chosen = input
        .ranked
        .iter()
        .position(|r| r.config_id == input.chosen);
    html.push_str("<div class=\"gallery\">\n");
    let files = plots::hpo_scatter(&img.join("hpo-scatter"), &points, chosen, &input.rule)?;
    if input.partial.is_empty() {
        figure(
            html,
            &files,
            out,
            "Every complete configuration; the evaluated one in red; dashed: equal score",
        );
    } else {
        let caption = if input.race {
            format!(
                "Every configuration ({}): rings are those the race dropped as credibly worse, over the folds they ran; the evaluated one in red; dashed: equal score",
                plots::completeness(input.ranked.len(), every.len()).to_lowercase(),
            )
        } else {
            format!(
                "Every configuration ({}): rings are those successive halving stopped early, at the epochs they reached ({} pruned); the evaluated one in red; dashed: equal score",
                plots::completeness(input.ranked.len(), every.len()).to_lowercase(),
                input.partial.iter().filter(|p| p.pruned).count()
            )
        };
        figure(html, &files, out, &caption);
    }
    if !input.rungs.is_empty() {
        let files = plots::rungs(&img.join("rungs"), input.rungs, Some(input.chosen))?;
        let caption = if input.rungs.iter().any(|r| r.race) {
            "Race: each configuration's score (of its mean accuracies) at each stage it ran, over the folds run by then; dark dots: went on, dark squares: still in the race when it ended (the tie set), light: dropped as credibly worse; red: evaluated".to_string()
        } else {
            let what = if input.rungs.iter().any(|r| r.bracket > 0) {
                "Hyperband: one panel per bracket; in each"
            } else {
                "Successive halving:"
            };
            format!("{what} each configuration's score at each rung it was trained in; dark dots: went on, dark squares: finished (its configured epochs), light: pruned; red: evaluated")
        };
        figure(html, &files, out, &caption);
    }
    for w in input.weak_rungs {
        let _ = writeln!(
            html,
            "<p class=\"warning\"><strong>Warning:</strong> {}</p>",
            esc(w)
        );
    }
    for key in input.varying {
        // One group of scores per value, in axis order: numbers ascending, others by name.
        let value_of = |r: &Ranked| {
            r.params
                .get(key)
                .cloned()
                .or_else(|| crate::params::omitted_default(key).map(Value::from))
                .unwrap_or(Value::Null)
        };
        let axis_order = |v: &Value| (v.as_f64().unwrap_or(f64::NAN), display_value(v));
        let mut values: Vec<Value> = every.iter().map(|(r, _)| value_of(r)).collect();
        values.sort_by(|a, b| {
            let ((x, xs), (y, ys)) = (axis_order(a), axis_order(b));
            x.total_cmp(&y).then(xs.cmp(&ys))
        });
        values.dedup();
        let mut groups: Vec<plots::ScoreGroup> = values
            .iter()
            .map(|v| (display_value(v), Vec::new()))
            .collect();
        let mut chosen_point = None;
        for (r, stopped_at) in &every {
            let g = values.iter().position(|v| *v == value_of(r)).unwrap_or(0);
            if r.config_id == input.chosen && stopped_at.is_none() {
                chosen_point = Some((g, groups[g].1.len()));
            }
            groups[g].1.push((r.score, *stopped_at));
        }
        let files = plots::score_vs_param(
            &img.join(format!("score-vs-{}", slug(key))),
            key,
            &groups,
            chosen_point,
        )?;
        figure(
            html,
            &files,
            out,
            &format!("Score by {key} (bar: best of each value; red: evaluated)"),
        );
    }
    html.push_str("</div>\n</section>\n");
    Ok(())
}

/// The evaluated configuration: its final training and its test metrics.
fn evaluation_section(
    html: &mut String,
    input: &ReportInput,
    e: &Evaluation,
    img: &Path,
    out: &Path,
) -> Result<(), ReportError> {
    let n = |v: &[usize]| v.iter().sum::<usize>();
    let _ = writeln!(
        html,
        "<section id=\"evaluation\">\n<h2>Evaluation of configuration {}{}</h2>",
        esc(&e.config_id),
        e.rank.map(|r| format!(" (rank {r})")).unwrap_or_default()
    );
    // The final training's values beside the sweep's, where the final training
    // changed them (epochs, the monitored metric).
    let swept = input
        .ranked
        .iter()
        .find(|r| r.config_id == e.config_id)
        .map(|r| &r.params);
    html.push_str("<table class=\"params\"><thead><tr><th>hyperparameter</th><th>final training</th><th>in the sweep</th></tr></thead><tbody>\n");
    for (k, v) in &e.params {
        let before = swept
            .map(|p| crate::export::param_cell(p, k))
            .unwrap_or_default();
        let changed = swept.is_some() && before != display_value(v);
        let note = if changed {
            format!("{} (changed for the final training)", esc(&before))
        } else {
            esc(&before)
        };
        let _ = writeln!(
            html,
            "<tr><td>{}</td><td>{}</td><td>{note}</td></tr>",
            esc(k),
            esc(&display_value(v))
        );
    }
    html.push_str("</tbody></table>\n");
    let _ = writeln!(
        html,
        "<p>Trained on the training part ({} rows) with the validation part ({} rows) watched by the callbacks (<code>val_loss</code>, best weights restored): {} epochs run, the weights of epoch {} kept, {:.1} s{}. Validation accuracy {}, loss {:.4}. The test part ({} rows) was used once, for the figures below.</p>",
        n(&e.class_counts.train),
        n(&e.class_counts.validation),
        e.final_run.history.len(),
        e.final_run.kept_epoch,
        e.final_run.fit_seconds,
        esc(&e.final_run.on_device()),
        pct(e.final_run.validation_accuracy),
        e.final_run.validation_loss,
        n(&e.class_counts.test)
    );
    if let Some(cv) = &e.cv {
        let _ = writeln!(
            html,
            "<p>Cross-validation of this configuration: validation accuracy {:.4} ± {:.4}, training accuracy {:.4}.</p>",
            cv.mean_val_accuracy, cv.std_val_accuracy, cv.mean_train_accuracy
        );
    }
    metrics_table(html, &e.final_run.test);
    let files = plots::learning_curves(
        &img.join("learning-curves"),
        &e.final_run.history,
        e.final_run.kept_epoch,
    )?;
    figure(
        html,
        &files,
        out,
        "Loss and accuracy per epoch of the final training",
    );
    html.push_str("<div class=\"gallery\">\n");
    let files = plots::confusion(&img.join("confusion-dense"), "Dense net", &e.final_run.test)?;
    figure(
        html,
        &files,
        out,
        "Dense net: counts and row shares (recall) on the test part",
    );
    let files = plots::pr_curves(
        &img.join("pr-dense"),
        "Dense net",
        &e.final_run.test.pr_curves,
    )?;
    figure(
        html,
        &files,
        out,
        "Dense net: precision-recall curves, PR-AUC by the trapezoid rule",
    );
    html.push_str("</div>\n</section>\n");
    Ok(())
}

/// The baselines on the same split, beside the dense net.
fn baselines_section(
    html: &mut String,
    _input: &ReportInput,
    e: &Evaluation,
    img: &Path,
    out: &Path,
) -> Result<(), ReportError> {
    html.push_str("<section id=\"baselines\">\n<h2>Baselines on the same split</h2>\n<p>Fitted on the training part with the same preprocessing, scored on the same test part. Random guessing is uniform over the classes, reported by its expectation. Average precision (scikit-learn's <code>average_precision_score</code>, no interpolation) is the fair ranking measure here: for the constant predictors it is each class's share, chance. Their trapezoid PR-AUC, the study's measure, is left empty<sup>*</sup>.</p>\n");
    html.push_str("<table class=\"comparison\"><thead><tr><th>model</th><th>test accuracy</th><th>macro F1</th><th>weighted F1</th><th>macro average precision</th><th>macro PR-AUC (trapezoid)</th></tr></thead><tbody>\n");
    let mut bars = vec![("dense net".to_string(), e.final_run.test.accuracy)];
    let row = |html: &mut String, name: &str, m: &Metrics, constant: bool| {
        let ap = m
            .macro_average_precision()
            .map(|a| format!("{a:.4}"))
            .unwrap_or_default();
        let auc = if constant {
            "<sup>*</sup>".to_string()
        } else {
            format!("{:.4}", m.macro_pr_auc())
        };
        let _ = writeln!(
            html,
            "<tr><td>{}</td><td>{}</td><td>{:.4}</td><td>{:.4}</td><td>{ap}</td><td>{auc}</td></tr>",
            esc(name),
            pct(m.accuracy),
            m.macro_avg.f1,
            m.weighted_avg.f1,
        );
    };
    row(html, "dense net", &e.final_run.test, false);
    for b in &e.baselines {
        row(html, &b.label, &b.metrics, b.constant_scores());
        bars.push((
            b.label.split(" (").next().unwrap_or(&b.label).to_string(),
            b.metrics.accuracy,
        ));
    }
    html.push_str("</tbody></table>\n<p class=\"note\"><sup>*</sup> With a constant score for every row, the trapezoid rule joins the single point (recall 1, precision = the class's share) to (0, 1) and gives (1 + share) / 2 per class, which reads as better than a real model's; it measures the method, not skill.</p>\n");
    let files = plots::accuracy_comparison(&img.join("accuracy-comparison"), &bars)?;
    figure(
        html,
        &files,
        out,
        "Test accuracy of the dense net and the baselines",
    );
    html.push_str("<div class=\"gallery\">\n");
    for b in &e.baselines {
        let files = plots::confusion(
            &img.join(format!("confusion-{}", slug(&b.key))),
            &b.label,
            &b.metrics,
        )?;
        figure(
            html,
            &files,
            out,
            &format!("{}: confusion matrix on the test part", b.label),
        );
        if b.key == "svm" || b.key == "knn" {
            let files = plots::pr_curves(
                &img.join(format!("pr-{}", slug(&b.key))),
                &b.label,
                &b.metrics.pr_curves,
            )?;
            figure(
                html,
                &files,
                out,
                &format!("{}: precision-recall curves", b.label),
            );
        }
    }
    html.push_str("</div>\n");
    for b in &e.baselines {
        let _ = writeln!(html, "<h3>{}</h3>", esc(&b.label));
        metrics_table(html, &b.metrics);
    }
    html.push_str("</section>\n");
    Ok(())
}

/// The sweep's database as a hint's `--db` word, escaped for the page.
fn db_word(input: &ReportInput) -> String {
    esc(&shell_word(&input.db.to_string()))
}

/// The commands that reproduce the page, and `spec.json` beside it.
fn reproduce_section(
    html: &mut String,
    input: &ReportInput,
    e: &Evaluation,
    _img: &Path,
    out: &Path,
) -> Result<(), ReportError> {
    let spec = input.spec;
    // The spec as run, beside the page: the command below runs it as it is.
    let spec_file = out.join("spec.json");
    std::fs::write(
        &spec_file,
        serde_json::to_string_pretty(spec).unwrap_or_default(),
    )
    .map_err(|source| ReportError::Io {
        path: spec_file.clone(),
        source,
    })?;
    let db = shell_word(&input.db.to_string());
    let model = e
        .model_dir
        .as_ref()
        .map(|d| shell_word(&d.display().to_string()))
        .unwrap_or_else(|| "MODEL_DIR".into());
    let _ = writeln!(
        html,
        "<section id=\"reproduce\">\n<h2>How to reproduce</h2>\n<pre>gridsweep run {spec_file} --db {db}\ngridsweep rank {name} --db {db}\ngridsweep evaluate {name} --db {db} --config {id} --epochs {epochs}\ngridsweep baselines {name} --db {db}\ngridsweep report {name} --db {db}\ngridsweep predict --model {model} --data NEW_ROWS.csv</pre>\n<p class=\"note\">Seeds: split {split_seed}, sweep {seed}. <code>spec.json</code> beside this page is the spec as run (also shown above under “Sweep”); <code>gridsweep resume {name} --db {db}</code> continues an interrupted sweep.</p>\n</section>",
        db = esc(&db),
        spec_file = esc(&shell_word(&spec_file.display().to_string())),
        name = esc(&shell_word(&spec.name)),
        id = esc(&e.config_id),
        epochs = e.params.get("epochs").map(display_value).unwrap_or_default(),
        model = esc(&model),
        split_seed = spec.dataset.seed,
        seed = spec.seed,
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_escaping() {
        assert_eq!(crate::text::utc(0.0), "1970-01-01 00:00:00 UTC");
        assert_eq!(crate::text::utc(1_795_000_000.0), "2026-11-18 11:06:40 UTC");
        assert_eq!(esc("a<b & 'c'"), "a&lt;b &amp; &#39;c&#39;");
    }
}
