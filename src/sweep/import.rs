//! Results made elsewhere, as a sweep (`gridsweep import`).
//!
//! An HPO_combined-style CSV (the study's own result file: one row per configuration,
//! its hyperparameters and the mean and standard deviation of its train and validation
//! accuracy over the folds) becomes a sweep of complete configurations, so that `rank`,
//! `export` and `status` work on it like on one run here. It is read-only: nothing is
//! trained on it, and `run` refuses its name. The file's path and SHA-256 are stored;
//! importing the same file again adds nothing.
//!
//! How the study's columns map onto gridsweep's hyperparameters (the study's README):
//! - rows whose callback columns (`early_stopping_patience`, `reduce_lr_*`) are all 0 are
//!   the GridSearchCV grid (the study's grid C), which did not vary them: protocol
//!   `gridsearchcv` with the callbacks its authors' code set (EarlyStopping patience 20,
//!   ReduceLROnPlateau factor 0.1, patience 5, `min_lr` 1e-5, as
//!   `search-spaces/genre-factor.json`); every other row is the notebook loop's
//!   (`notebook`);
//! - `weight_contraint` (sic; `weight_constraint` is read too) 10.0 means no constraint;
//! - the learning rate is not in the file: Keras' default, 0.001, as the study used;
//! - `delta_acc` (relative there), `activation_numerical` and `optimizer_numerical` are
//!   derived columns and are not read: Δacc and the score are computed from the means by
//!   the sweep's score rule, as for a sweep run here.
//!
//! A scikit-learn `cv_results_` CSV (as pandas writes `pd.DataFrame(gs.cv_results_)`,
//! with `return_train_score=True`) brings per-fold scores: `splitK_test_score` and
//! `splitK_train_score` become done folds, so `analyze` can test on them. Its
//! hyperparameters are the `param_<name>` columns: a pipeline's or SciKeras' prefix
//! (`model__`, `clf__`, `estimator__`) is dropped and SciKeras' `dropout_rate` read as
//! `dropout`; an empty cell leaves the key unstated.
//!
//! Neither format states every key: a cv_results_ file has columns only for what its
//! grid varied, an HPO_combined file has no learning rate (and no callbacks in its
//! GridSearchCV rows). With the spec the results were made with (`--spec`), each row is
//! the spec's configuration that agrees with everything the row states, so fixed values
//! and single-valued sub-grid keys come from the spec and an export → import gives
//! back the same ids; a row that fits none keeps the defaults below, and a row that
//! fits several (the file leaves out a key the spec varies) is an error naming the key.
//! Without a spec, the unstated keys take gridsweep's defaults, and `import` names them.
//!
//! A configuration in several rows (the study ran four of its configurations in both
//! grid A and grid B, with different results) is kept once per row: the repeats get
//! the ids `<id>-2`, `<id>-3`, … so that nothing of the file is lost.

use super::{Result, SweepError};
use crate::config::Config;
use crate::params::HyperParams;
use crate::score::{CvSummary, ScoreRule};
use crate::store::Store;
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::path::Path;

/// The folds of the study's cross-validation: an imported file's configurations are
/// recorded as 3-fold results.
pub const IMPORTED_FOLDS: usize = 3;

/// The keys of an imported configuration that an HPO_combined file does not state
/// (gridsweep's defaults stand in for them): the learning rate, and, in rows of the
/// GridSearchCV grid (whose callback columns are 0: not varied), the callbacks and what
/// they monitor. Nothing is compared on them (a spec's sub-grids, in `analyze`).
pub fn unstated(params: &Map<String, Value>) -> &'static [&'static str] {
    if params.get("protocol").and_then(Value::as_str) == Some("notebook") {
        &["learning_rate"]
    } else {
        &[
            "learning_rate",
            "early_stopping_patience",
            "reduce_lr_factor",
            "reduce_lr_min_lr",
            "reduce_lr_patience",
            "monitor",
            "inner_validation",
        ]
    }
}

/// The callbacks of the study's GridSearchCV grid (grid C), whose rows of the file
/// hold 0 for them: EarlyStopping patience 20, ReduceLROnPlateau factor 0.1, `min_lr`
/// 1e-5 (`hyperparameter_optimisation_multi.py` at 604b19a, line 129), patience 5.
const GRID_C_CALLBACKS: [f64; 4] = [20.0, 0.1, 1e-5, 5.0];

/// What an HPO_combined row states: everything but the learning rate, and in the
/// GridSearchCV grid's rows the callbacks and what they monitor.
fn hpo_stated(obj: &Map<String, Value>) -> Map<String, Value> {
    let mut stated = obj.clone();
    for k in unstated(obj) {
        stated.remove(*k);
    }
    stated
}

/// The layouts `import` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// The study's HPO_combined.csv: means and standard deviations.
    HpoCombined,
    /// scikit-learn's `cv_results_`: per-fold scores.
    CvResults,
}

/// The format of a file, told from its header: scikit-learn's per-fold
/// `split0_test_score` column makes it cv-results, anything else is read as
/// HPO_combined (whose errors then name the columns it lacks).
pub fn detect(path: &Path) -> Result<Format> {
    let fail = |why: String| SweepError::Import {
        file: path.display().to_string(),
        line: 0,
        column: String::new(),
        why,
    };
    let mut rd = csv::Reader::from_path(path).map_err(|e| fail(e.to_string()))?;
    let header = rd.headers().map_err(|e| fail(e.to_string()))?;
    Ok(
        if header.iter().any(|h| h.trim().starts_with("split0_test_")) {
            Format::CvResults
        } else {
            Format::HpoCombined
        },
    )
}

/// The Δacc kind an HPO_combined file's `delta_acc` column holds: relative where
/// every row's is (train − val) / val, absolute where every row's is train − val (to
/// 1e-9), None where the column is absent, unreadable or neither, so that an import
/// ranks, and exports, by the Δ its file used unless told otherwise.
pub fn file_delta(path: &Path) -> Option<crate::score::DeltaKind> {
    use crate::score::DeltaKind;
    let mut rd = csv::Reader::from_path(path).ok()?;
    let header = rd.headers().ok()?.clone();
    let at = |name: &str| header.iter().position(|h| h.trim() == name);
    let (d, t, v) = (
        at("delta_acc")?,
        at("mean_train_score")?,
        at("mean_val_score")?,
    );
    let (mut relative, mut absolute, mut rows) = (true, true, 0);
    for record in rd.records() {
        let record = record.ok()?;
        let num = |i: usize| record.get(i).and_then(|c| c.trim().parse::<f64>().ok());
        let (d, t, v) = (num(d)?, num(t)?, num(v)?);
        relative &= ((t - v) / v - d).abs() <= 1e-9;
        absolute &= (t - v - d).abs() <= 1e-9;
        rows += 1;
    }
    match (rows > 0, relative, absolute) {
        (true, true, false) => Some(DeltaKind::Relative),
        (true, false, true) => Some(DeltaKind::Absolute),
        _ => None,
    }
}

/// One row of the file, read.
#[derive(Debug, Clone)]
pub struct ImportedRow {
    /// The file's line (the header is line 1).
    pub line: u64,
    pub config: Config,
    /// The hyperparameters the row states (the others are defaults, or the spec's).
    pub stated: Map<String, Value>,
    pub summary: CvSummary,
    /// Per-fold results, when the file has them: the splits the row ran (a race's or
    /// a partial export's row leaves the others empty).
    pub folds: Vec<crate::store::FoldMetrics>,
    /// Splits the file records as failed fits (scikit-learn's `error_score=nan`).
    pub failed: Vec<i64>,
    /// Splits per configuration in the file (its `splitK_test_score` columns; 0 for a
    /// file of means).
    pub splits: usize,
    /// The epochs the row's numbers are of, when fewer than its configuration's (an
    /// `--include-partial` export's `resource_epochs` of a stopped configuration).
    pub resource_epochs: Option<i64>,
    /// An `--include-partial` export's row of a configuration that did not complete
    /// (its `complete` column False): stored as stopped, listed apart from the ranking.
    pub stopped: bool,
    /// The keys it states in the file's column order, and its timings.
    pub details: crate::domain::ImportedDetails,
}

/// What [`import`] did.
#[derive(Debug, Clone)]
pub struct Imported {
    pub sweep_id: i64,
    /// Rows read, and configurations added (0 when the file was imported before).
    pub rows: usize,
    pub added: usize,
    /// Rows that repeat the configuration of an earlier row: (line, earlier line, the
    /// id the repeat is kept under).
    pub repeats: Vec<(u64, u64, String)>,
    pub sha256: String,
    /// The same file was imported under this name before.
    pub already: bool,
    /// How the keys the file does not state were filled.
    pub filled: Filled,
    /// What was corrected in the study's own file (`study::correct`), a sentence each.
    pub corrections: Vec<String>,
    /// Rows that are not one complete cross-validation.
    pub shapes: Shapes,
    /// Splits per configuration in the file.
    pub splits: usize,
}

/// Rows of a file that are not one complete cross-validation, counted.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Shapes {
    /// Rows that ran fewer splits than the file has (a race's; each is scored on its own).
    pub fewer_splits: usize,
    /// Rows with a failed fit (NaN): kept without a score.
    pub failed: usize,
    /// Rows the file marks as not complete (`complete` False, or fewer epochs than they
    /// train): kept apart from the ranking, as stopped configurations.
    pub stopped: usize,
}

/// How an import filled the hyperparameters its file does not state.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Filled {
    /// Keys some row does not state, in canonical order.
    pub unstated: Vec<String>,
    /// A spec was given: rows that matched one of its configurations (their unstated
    /// keys are the spec's).
    pub from_spec: Option<usize>,
    /// With a spec: lines of rows that match none of its configurations (kept with
    /// the defaults).
    pub outside_spec: Vec<u64>,
}

/// The columns of the study's file (`export::HPO_COMBINED_COLUMNS`) that are not read:
/// derived ones, and the constraint, whose spelling varies (read apart).
const NOT_READ: [&str; 4] = [
    "activation_numerical",
    "delta_acc",
    "optimizer_numerical",
    "weight_contraint",
];

/// The columns an HPO_combined file must have.
fn required() -> impl Iterator<Item = &'static str> {
    crate::export::HPO_COMBINED_COLUMNS
        .into_iter()
        .filter(|c| !NOT_READ.contains(c))
}

/// Reads an HPO_combined-style CSV: every row's configuration and its summary by `rule`.
/// A missing column, or a cell that is not what its column holds, is an error naming
/// the file, line and column.
pub fn read_hpo_combined(path: &Path, rule: &ScoreRule) -> Result<Vec<ImportedRow>> {
    let file = path.display().to_string();
    let fail = |line: u64, column: &str, why: String| SweepError::Import {
        file: file.clone(),
        line,
        column: column.to_string(),
        why,
    };
    let bytes = std::fs::read(path).map_err(|e| fail(0, "", e.to_string()))?;
    let mut rd = csv::Reader::from_reader(&bytes[..]);
    // File lines (header = 1), `\r\n` endings counted as the file's lines.
    let mut lines = crate::data::LineCounter::new(&bytes);
    let header: Vec<String> = rd
        .headers()
        .map_err(|e| fail(1, "", e.to_string()))?
        .iter()
        .map(|h| h.trim().to_string())
        .collect();
    let at = |name: &str| header.iter().position(|h| h == name);
    let mut index: HashMap<&str, usize> = HashMap::new();
    for name in required() {
        let i = at(name).ok_or_else(|| {
            let other = if header.iter().any(|h| h.starts_with("param_")) {
                "; this looks like scikit-learn's cv_results_: --format cv-results"
            } else {
                ""
            };
            fail(
                1,
                name,
                format!(
                    "missing column (an HPO_combined file has {}){other}",
                    required().collect::<Vec<_>>().join(", ")
                ),
            )
        })?;
        index.insert(name, i);
    }
    let constraint = at("weight_contraint")
        .or_else(|| at("weight_constraint"))
        .ok_or_else(|| {
            fail(
                1,
                "weight_contraint",
                "missing column (the study's spelling; weight_constraint is read too)".into(),
            )
        })?;
    // Hyperparameters in columns of their own after the study's (a gridsweep export's
    // varying keys: `protocol`, `learning_rate`, …): read as the row states them.
    let extra: Vec<(usize, &str)> = crate::params::KEYS
        .iter()
        .filter(|k| {
            !["split", "weight_constraint"].contains(k)
                && !crate::export::HPO_COMBINED_COLUMNS.contains(k)
        })
        .filter_map(|k| at(k).map(|i| (i, *k)))
        .collect();
    let mut out = Vec::new();
    for record in rd.records() {
        let record = record.map_err(|e| fail(lines.line(e.position()), "", e.to_string()))?;
        let line = lines.line(record.position());
        let cell = |name: &str| record.get(index[name]).unwrap_or("").trim();
        let stated_extra: Map<String, Value> = extra
            .iter()
            .filter_map(|&(i, k)| Some((k.to_string(), cell_value(record.get(i).unwrap_or(""))?)))
            .collect();
        let number = |name: &str| -> Result<f64> {
            let c = cell(name);
            c.parse::<f64>()
                .ok()
                .filter(|x| x.is_finite())
                .ok_or_else(|| fail(line, name, format!("expected a number, got {c:?}")))
        };
        let whole = |name: &str| -> Result<u64> {
            let x = number(name)?;
            (x >= 0.0 && x.fract() == 0.0)
                .then_some(x as u64)
                .ok_or_else(|| {
                    fail(
                        line,
                        name,
                        format!("expected a whole number ≥ 0, got {}", cell(name)),
                    )
                })
        };
        let share = |name: &str| -> Result<f64> {
            let x = number(name)?;
            (0.0..=1.0).contains(&x).then_some(x).ok_or_else(|| {
                fail(
                    line,
                    name,
                    format!("expected an accuracy in [0, 1], got {x}"),
                )
            })
        };
        let mut obj = Map::new();
        obj.insert("activation".into(), json!(cell("activation")));
        obj.insert("optimizer".into(), json!(cell("optimizer")));
        for k in [
            "batch_size",
            "epochs",
            "neurons_1",
            "neurons_2",
            "neurons_3",
            "neurons_4",
            "num_hidden_layers",
        ] {
            obj.insert(k.into(), json!(whole(k)?));
        }
        obj.insert("dropout".into(), json!(number("dropout")?));
        let callbacks = [
            whole("early_stopping_patience")? as f64,
            number("reduce_lr_factor")?,
            number("reduce_lr_min_lr")?,
            whole("reduce_lr_patience")? as f64,
        ];
        let c = record.get(constraint).unwrap_or("").trim();
        let bound: f64 = c
            .parse()
            .ok()
            .filter(|x: &f64| x.is_finite() && *x >= 0.0)
            .ok_or_else(|| {
                fail(
                    line,
                    &header[constraint],
                    format!("expected a number ≥ 0, got {c:?}"),
                )
            })?;
        // The protocol: a `protocol` column's; else, as the study's file tells it, its
        // GridSearchCV grid's rows hold 0 callbacks (and a constraint, which the
        // notebook loop has none of, is GridSearchCV's too).
        let zero_callbacks = callbacks.iter().all(|&x| x == 0.0);
        let gridsearchcv = match stated_extra.get("protocol").and_then(Value::as_str) {
            Some(p) => p.eq_ignore_ascii_case("gridsearchcv"),
            None => zero_callbacks || (bound != 0.0 && bound != 10.0),
        };
        obj.insert(
            "protocol".into(),
            json!(if gridsearchcv {
                "gridsearchcv"
            } else {
                "notebook"
            }),
        );
        let callbacks = if gridsearchcv && zero_callbacks {
            GRID_C_CALLBACKS
        } else {
            callbacks
        };
        for (k, v) in [
            "early_stopping_patience",
            "reduce_lr_factor",
            "reduce_lr_min_lr",
            "reduce_lr_patience",
        ]
        .iter()
        .zip(callbacks)
        {
            obj.insert(k.to_string(), json!(v));
        }
        obj.insert(
            "weight_constraint".into(),
            json!(if bound == 10.0 { 0.0 } else { bound }),
        );
        for (k, v) in &stated_extra {
            obj.insert(k.clone(), v.clone());
        }
        let params = HyperParams::from_object(&obj).map_err(|e| {
            fail(
                line,
                "",
                format!("not a configuration gridsweep can hold: {e}"),
            )
        })?;
        let (resource_epochs, stopped) =
            partial_state(&record, &header, line, Some(params.epochs), &fail)?;
        let (train, val) = (share("mean_train_score")?, share("mean_val_score")?);
        let summary = CvSummary {
            mean_train_accuracy: train,
            std_train_accuracy: number("std_train_score")?,
            mean_val_accuracy: val,
            std_val_accuracy: number("std_val_score")?,
            mean_train_loss: f64::NAN,
            std_train_loss: f64::NAN,
            mean_val_loss: f64::NAN,
            std_val_loss: f64::NAN,
            delta_accuracy: rule.delta(train, val),
            score: rule.score(train, val),
            total_fit_seconds: f64::NAN,
        };
        let mut stated = hpo_stated(&obj);
        stated.extend(stated_extra.clone());
        // Told from the callbacks, not stated: a spec (`--spec`) decides it.
        if !stated_extra.contains_key("protocol") {
            stated.remove("protocol");
        }
        // 10.0 is the study's "no constraint" and gridsweep's default MaxNorm(10) alike:
        // not stated, so that a spec decides it.
        if bound == 10.0 {
            stated.remove("weight_constraint");
        }
        let details = crate::domain::ImportedDetails {
            stated: stated.keys().cloned().collect(),
            ..Default::default()
        };
        out.push(ImportedRow {
            line,
            config: Config::new(params),
            stated,
            summary,
            folds: Vec::new(),
            failed: Vec::new(),
            splits: 0,
            resource_epochs,
            stopped,
            details,
        });
    }
    if out.is_empty() {
        return Err(fail(2, "", "no rows after the header".into()));
    }
    Ok(out)
}

/// What an `--include-partial` export says of a row beyond its scores (both columns are
/// optional): whether it completed (`complete` False: stopped at a rung, or dropped
/// from a race) and the epochs its numbers are of (`resource_epochs`), kept for a row
/// that did not. Without `complete` (an older export), a row whose `resource_epochs`
/// is fewer than the `epochs` it states is taken as stopped. `epochs`: the row's, where
/// it states them.
fn partial_state(
    record: &csv::StringRecord,
    header: &[String],
    line: u64,
    epochs: Option<u32>,
    fail: &dyn Fn(u64, &str, String) -> SweepError,
) -> Result<(Option<i64>, bool)> {
    let cell = |name: &str| {
        header
            .iter()
            .position(|h| h == name)
            .map(|i| record.get(i).unwrap_or("").trim())
            .filter(|c| !c.is_empty())
    };
    let resource = match cell("resource_epochs") {
        None => None,
        Some(c) => Some(c.parse::<i64>().ok().filter(|&e| e > 0).ok_or_else(|| {
            fail(
                line,
                "resource_epochs",
                format!("expected a positive whole number of epochs, got {c:?}"),
            )
        })?),
    };
    let complete = match cell("complete") {
        None => {
            let fewer = resource.filter(|&e| epochs.is_some_and(|n| e < i64::from(n)));
            return Ok((fewer, fewer.is_some()));
        }
        Some(c) if c.eq_ignore_ascii_case("true") => true,
        Some(c) if c.eq_ignore_ascii_case("false") => false,
        Some(c) => {
            return Err(fail(
                line,
                "complete",
                format!("expected True or False, got {c:?}"),
            ))
        }
    };
    Ok((resource.filter(|_| !complete), !complete))
}

/// A cv_results_ cell as a JSON value: an integer, a number, a boolean, text; None for
/// an empty (masked) cell.
fn cell_value(c: &str) -> Option<Value> {
    let c = c.trim();
    if c.is_empty() || c == "None" || c == "nan" {
        return None;
    }
    if let Ok(i) = c.parse::<i64>() {
        return Some(json!(i));
    }
    if let Ok(x) = c.parse::<f64>() {
        return Some(json!(x));
    }
    Some(match c {
        "True" | "true" => json!(true),
        "False" | "false" => json!(false),
        _ => json!(c),
    })
}

/// gridsweep's name of a `param_<name>` column's hyperparameter.
fn param_name(column: &str) -> Option<String> {
    let mut name = column.strip_prefix("param_")?;
    for prefix in ["model__", "clf__", "estimator__"] {
        name = name.strip_prefix(prefix).unwrap_or(name);
    }
    // SciKeras' names: the model function's `dropout_rate`, and the learning rate
    // routed to the optimizer.
    Some(match name {
        "dropout_rate" => "dropout".to_string(),
        "optimizer__learning_rate" | "optimizer__lr" => "learning_rate".to_string(),
        _ => name.to_string(),
    })
}

/// Reads a scikit-learn `cv_results_` CSV: every row's configuration (its `param_`
/// columns), its folds (`splitK_test_score`, `splitK_train_score`) and its summary by
/// `rule`. Errors name the file, line and column.
/// `scorer`: which of a multi-metric file's scorers (`split0_test_<scorer>`) holds the
/// accuracies; default `score`, or the file's only one.
/// `foreign`: the `param_` columns are another model's hyperparameters, kept as labels
/// ([`Config::foreign`]).
pub fn read_cv_results(
    path: &Path,
    rule: &ScoreRule,
    scorer: Option<&str>,
    foreign: bool,
) -> Result<Vec<ImportedRow>> {
    let file = path.display().to_string();
    let fail = |line: u64, column: &str, why: String| SweepError::Import {
        file: file.clone(),
        line,
        column: column.to_string(),
        why,
    };
    let bytes = std::fs::read(path).map_err(|e| fail(0, "", e.to_string()))?;
    let mut rd = csv::Reader::from_reader(&bytes[..]);
    // File lines (header = 1), `\r\n` endings counted as the file's lines.
    let mut lines = crate::data::LineCounter::new(&bytes);
    let header: Vec<String> = rd
        .headers()
        .map_err(|e| fail(1, "", e.to_string()))?
        .iter()
        .map(|h| h.trim().to_string())
        .collect();
    let at = |name: &str| header.iter().position(|h| h == name);
    // The scorers the file holds (`split0_test_<scorer>`: `score` for one metric).
    let scorers: Vec<&str> = header
        .iter()
        .filter_map(|h| h.strip_prefix("split0_test_"))
        .collect();
    let scorer = match scorer {
        Some(s) if scorers.contains(&s) => s.to_string(),
        Some(s) => {
            return Err(fail(
                1,
                &format!("split0_test_{s}"),
                format!(
                    "--scorer {s}: the file has no such scorer; it has {}",
                    if scorers.is_empty() {
                        "none".to_string()
                    } else {
                        scorers.join(", ")
                    }
                ),
            ));
        }
        None if scorers.contains(&"score") || scorers.is_empty() => "score".to_string(),
        None if scorers.len() == 1 => scorers[0].to_string(),
        None => {
            return Err(fail(1, "", format!("the file holds several scorers ({}): choose the one of accuracies with --scorer NAME (gridsweep's score is made of train and validation accuracies)", scorers.join(", "))));
        }
    };
    let splits = (0..)
        .take_while(|k| at(&format!("split{k}_test_{scorer}")).is_some())
        .count();
    if splits < 2 {
        return Err(fail(1, &format!("split0_test_{scorer}"), format!("expected the per-fold columns split0_test_{scorer}, split1_test_{scorer}, … (a cv_results_ file with at least 2 splits)")));
    }
    let mut test = Vec::new();
    let mut train = Vec::new();
    for k in 0..splits {
        test.push(at(&format!("split{k}_test_{scorer}")).unwrap_or(0));
        let name = format!("split{k}_train_{scorer}");
        train.push(at(&name).ok_or_else(|| fail(1, &name, "missing column: the score needs train accuracies (GridSearchCV(..., return_train_score=True))".into()))?);
    }
    let params: Vec<(usize, String)> = header
        .iter()
        .enumerate()
        .filter_map(|(i, h)| param_name(h).map(|n| (i, n)))
        .collect();
    if params.is_empty() {
        return Err(fail(
            1,
            "",
            "no param_<name> columns: expected scikit-learn's cv_results_ layout".into(),
        ));
    }
    let fit_time = at("mean_fit_time");
    let score_time = at("mean_score_time");
    let folds_run = at("folds_run");
    let mean_test = at(&format!("mean_test_{scorer}"));
    let mut out = Vec::new();
    for record in rd.records() {
        let record = record.map_err(|e| fail(lines.line(e.position()), "", e.to_string()))?;
        let line = lines.line(record.position());
        let mut obj = Map::new();
        for (i, name) in &params {
            if let Some(v) = cell_value(record.get(*i).unwrap_or("")) {
                obj.insert(name.clone(), v);
            }
        }
        let config = if foreign {
            Config::foreign(&obj)
        } else {
            let p = HyperParams::from_object(&obj).map_err(|e| {
            // The column of the key the error quotes (`alpha`), not the first whose name
            // appears in its list of accepted keys.
            let message = e.to_string();
            let column = params.iter().find(|(_, n)| message.contains(&format!("`{n}`"))).map_or(String::new(), |(i, _)| header[*i].clone());
            fail(
                line,
                &column,
                format!("not a hyperparameter gridsweep knows, or not a value it takes: {e} (gridsweep reads a dense network's hyperparameters, as SciKeras/Keras name them; an estimator's own keys such as alpha or C are not among them; another model's search imports with --foreign, its hyperparameters kept as labels)"),
            )
        })?;
            Config::new(p)
        };
        let share = |i: usize, c: &str| -> Result<f64> {
            c.parse::<f64>()
                .ok()
                .filter(|x| (0.0..=1.0).contains(x))
                .ok_or_else(|| {
                    fail(
                        line,
                        &header[i],
                        format!("expected an accuracy in [0, 1] (or NaN for a failed fit, or empty for a split the row did not run), got {c:?}"),
                    )
                })
        };
        let finite = |i: Option<usize>| {
            i.and_then(|i| record.get(i))
                .and_then(|c| c.trim().parse::<f64>().ok())
                .filter(|x| x.is_finite())
        };
        let seconds = |i: Option<usize>| finite(i).unwrap_or(f64::NAN);
        let mut folds = Vec::with_capacity(splits);
        let mut failed = Vec::new();
        let cell = |i: usize| record.get(i).unwrap_or("").trim();
        // Empty splits: a gridsweep export's (it has `folds_run`), or a row whose mean
        // is stated, did not run them (a race's, a stopped configuration's); in a file
        // of scikit-learn's they are failed fits (error_score=nan, which pandas writes
        // as an empty cell, and which makes the mean NaN too).
        let unrun = folds_run.is_some() || mean_test.is_some_and(|i| !cell(i).is_empty());
        for k in 0..splits {
            let (tr, te) = (cell(train[k]), cell(test[k]));
            let nan = |c: &str| c.eq_ignore_ascii_case("nan");
            match (tr.is_empty(), te.is_empty()) {
                (true, true) if unrun => continue,
                (true, true) => failed.push(k as i64),
                _ if nan(te) || nan(tr) => failed.push(k as i64),
                (false, true) => {
                    return Err(fail(
                        line,
                        &header[test[k]],
                        format!(
                            "empty, while {} has {tr:?}: a split the row ran has both scores",
                            header[train[k]]
                        ),
                    ))
                }
                (true, false) => {
                    return Err(fail(
                        line,
                        &header[train[k]],
                        format!(
                            "empty, while {} has {te:?}: a split the row ran has both scores",
                            header[test[k]]
                        ),
                    ))
                }
                (false, false) => folds.push(crate::store::FoldMetrics {
                    fold: k as i64,
                    train_accuracy: share(train[k], tr)?,
                    val_accuracy: share(test[k], te)?,
                    fit_seconds: seconds(fit_time),
                    score_seconds: seconds(score_time),
                }),
            }
        }
        if folds.is_empty() && failed.is_empty() {
            return Err(fail(
                line,
                &header[test[0]],
                "no split has a score: a row needs at least one split it ran".into(),
            ));
        }
        let (mt, st) =
            crate::score::mean_std(&folds.iter().map(|f| f.train_accuracy).collect::<Vec<_>>());
        let (mv, sv) =
            crate::score::mean_std(&folds.iter().map(|f| f.val_accuracy).collect::<Vec<_>>());
        let summary = CvSummary {
            mean_train_accuracy: mt,
            std_train_accuracy: st,
            mean_val_accuracy: mv,
            std_val_accuracy: sv,
            mean_train_loss: f64::NAN,
            std_train_loss: f64::NAN,
            mean_val_loss: f64::NAN,
            std_val_loss: f64::NAN,
            delta_accuracy: rule.delta(mt, mv),
            score: rule.score(mt, mv),
            total_fit_seconds: seconds(fit_time) * folds.len() as f64,
        };
        let stated_epochs =
            (!foreign && obj.contains_key("epochs")).then_some(config.params.epochs);
        let (resource_epochs, stopped) =
            partial_state(&record, &header, line, stated_epochs, &fail)?;
        let details = crate::domain::ImportedDetails {
            stated: params
                .iter()
                .filter(|(_, n)| obj.contains_key(n))
                .map(|(_, n)| n.clone())
                .collect(),
            mean_fit_time: finite(fit_time),
            std_fit_time: finite(at("std_fit_time")),
            mean_score_time: finite(score_time),
            std_score_time: finite(at("std_score_time")),
        };
        out.push(ImportedRow {
            line,
            config,
            stated: obj,
            summary,
            folds,
            failed,
            splits,
            resource_epochs,
            stopped,
            details,
        });
    }
    if out.is_empty() {
        return Err(fail(2, "", "no rows after the header".into()));
    }
    Ok(out)
}

/// Fills what the rows do not state. With a spec, each row becomes the one
/// configuration of the spec's grid that agrees with everything the row states
/// (setting the row's values on it changes nothing); a row that several distinct
/// configurations fit is an error naming the keys they differ in, one that none fits
/// keeps its defaults (and is listed). Without a spec the defaults stand.
fn resolve(
    path: &Path,
    rows: &mut [ImportedRow],
    spec: Option<&crate::spec::Spec>,
) -> Result<Filled> {
    // Keys of some row's configuration that the row does not state (precision, left
    // out of the canonical form at its default fp32, never counts).
    let mut unstated = std::collections::BTreeSet::new();
    for r in rows.iter() {
        unstated.extend(
            r.config
                .params
                .canonical()
                .into_keys()
                .filter(|k| !r.stated.contains_key(*k))
                .map(String::from),
        );
    }
    let unstated: Vec<String> = unstated.into_iter().collect();
    let Some(spec) = spec else {
        return Ok(Filled {
            unstated,
            from_spec: None,
            outside_spec: Vec::new(),
        });
    };
    let fail = |line: u64, why: String| SweepError::Import {
        file: path.display().to_string(),
        line,
        column: String::new(),
        why,
    };
    let grid = spec
        .expand()
        .map_err(|e| fail(0, format!("the spec's grid: {e}")))?;
    let mut from_spec = 0;
    let mut outside = Vec::new();
    for r in rows.iter_mut() {
        let fits: Vec<&Config> = grid
            .configs
            .iter()
            .filter(|c| {
                !differs_plainly(&r.config.params, &c.params, &r.stated) && agrees(c, &r.stated)
            })
            .collect();
        match fits.as_slice() {
            [] => outside.push(r.line),
            [one] => {
                r.config = (*one).clone();
                from_spec += 1;
            }
            several => {
                let objs: Vec<Map<String, Value>> =
                    several.iter().map(|c| c.params_object()).collect();
                let differ: Vec<&str> = crate::params::KEYS
                    .iter()
                    .copied()
                    .filter(|k| objs.iter().any(|o| o.get(*k) != objs[0].get(*k)))
                    .collect();
                return Err(fail(
                    r.line,
                    format!(
                        "fits {} configurations of the spec {}, which differ in {}: the file does not state {}, so which one this row is cannot be told",
                        several.len(),
                        spec.name,
                        differ.join(", "),
                        if differ.len() == 1 { "it" } else { "them" }
                    ),
                ));
            }
        }
    }
    Ok(Filled {
        unstated,
        from_spec: Some(from_spec),
        outside_spec: outside,
    })
}

/// A cheap first look (the study's 2,032 rows against its 2,032 configurations):
/// a stated key that every configuration's canonical form holds, with another value.
fn differs_plainly(row: &HyperParams, c: &HyperParams, stated: &Map<String, Value>) -> bool {
    let says = |k: &str| stated.contains_key(k);
    (says("activation") && row.activation != c.activation)
        || (says("optimizer") && row.optimizer != c.optimizer)
        || (says("batch_size") && row.batch_size != c.batch_size)
        || (says("epochs") && row.epochs != c.epochs)
        || (says("dropout") && row.dropout != c.dropout)
        || (says("num_hidden_layers") && row.num_hidden_layers != c.num_hidden_layers)
        || ["neurons_1", "neurons_2", "neurons_3", "neurons_4"]
            .iter()
            .enumerate()
            .any(|(i, k)| says(k) && row.neurons[i] != c.neurons[i])
}

/// Whether configuration `c` agrees with the values a row states: setting them on it
/// leaves it the same configuration (the same canonical form).
fn agrees(c: &Config, stated: &Map<String, Value>) -> bool {
    let mut q = c.params.clone();
    if q.apply_object(stated).is_err() {
        return false;
    }
    if q == c.params {
        return true;
    }
    // Only keys the canonical form leaves out for this configuration may differ (the
    // notebook protocol's unused ones, an unwatched inner validation): compare forms.
    let mut same_elsewhere = q.clone();
    same_elsewhere.monitor = c.params.monitor;
    same_elsewhere.inner_validation = c.params.inner_validation;
    same_elsewhere.weight_constraint = c.params.weight_constraint;
    same_elsewhere == c.params && q.canonical_json() == c.canonical_json
}

/// A file read and checked, ready to store: [`read`] does all that can fail on the
/// file's content before any database is opened, so a file refused leaves no database
/// behind.
#[derive(Debug, Clone)]
pub struct ReadFile {
    path: std::path::PathBuf,
    sha256: String,
    rows: usize,
    /// Splits per configuration, and the k of the k-fold they repeat.
    folds: usize,
    k: usize,
    repeats: Vec<(u64, u64, String)>,
    kept: Vec<crate::store::ImportedConfig>,
    rule: ScoreRule,
    filled: Filled,
    corrections: Vec<String>,
    shapes: Shapes,
}

/// Reads a file of `format`, its configurations scored by `rule`.
///
/// `k`: the k of the file's k-fold when its splits are repeats of it
/// (`RepeatedStratifiedKFold`: n splits = k × repeats); default, the splits are one k-fold.
///
/// `spec`: the spec the results were made with; each row becomes its configuration
/// that agrees with what the row states ([`resolve`]).
///
/// `foreign`: a cv-results file of another model's search (`import --foreign`): its
/// hyperparameters are labels, and `k` may be 1 (each split a replicate, such as a seed,
/// on one train/validation split).
pub fn read(
    path: &Path,
    rule: ScoreRule,
    format: Format,
    k: Option<usize>,
    spec: Option<&crate::spec::Spec>,
    scorer: Option<&str>,
    foreign: bool,
) -> Result<ReadFile> {
    let bytes = std::fs::read(path).map_err(|e| SweepError::Import {
        file: path.display().to_string(),
        line: 0,
        column: String::new(),
        why: e.to_string(),
    })?;
    let sha256 = {
        use sha2::{Digest, Sha256};
        format!("{:x}", Sha256::digest(&bytes))
    };
    let mut rows = match format {
        Format::HpoCombined => read_hpo_combined(path, &rule)?,
        Format::CvResults => read_cv_results(path, &rule, scorer, foreign)?,
    };
    let corrections = match format {
        Format::HpoCombined => super::study::correct(&sha256, &mut rows),
        Format::CvResults => Vec::new(),
    };
    // Another model's labels are all it has: nothing is filled in.
    let filled = if foreign {
        Filled {
            unstated: Vec::new(),
            from_spec: None,
            outside_spec: Vec::new(),
        }
    } else {
        resolve(path, &mut rows, spec)?
    };
    let folds = rows
        .iter()
        .map(|r| r.splits)
        .max()
        .filter(|&n| n > 0)
        .unwrap_or(IMPORTED_FOLDS);
    // The k of the k-fold: --cv-folds, else the spec's (its repeats make the splits),
    // else one k-fold of all the splits.
    let k = k
        .or(spec
            .map(|s| s.cv.folds)
            .filter(|&f| f > 0 && folds % f == 0 && folds > f))
        .unwrap_or(folds);
    // k = 1: replicates on one split (seeds), which only another model's table has.
    if k < 2 && !(k == 1 && foreign) {
        return Err(SweepError::Import {
            file: path.display().to_string(),
            line: 0,
            column: String::new(),
            why: if foreign {
                format!("--cv-folds {k}: at least 1 (with --foreign, 1: each split is a seed on one split); this file has {folds} splits per configuration")
            } else {
                format!("--cv-folds {k}: a k-fold has at least 2 folds (this file has {folds} splits per configuration)")
            },
        });
    }
    if folds % k != 0 {
        return Err(SweepError::Import {
            file: path.display().to_string(),
            line: 1,
            column: String::new(),
            why: format!("--cv-folds {k}: the file has {folds} splits per configuration, which is not a whole number of {k}-fold repeats"),
        });
    }
    // Every row is kept; a repeated configuration under `<id>-2`, `<id>-3`, ….
    let mut seen: HashMap<&str, (u64, usize)> = HashMap::new();
    let mut repeats = Vec::new();
    let mut kept = Vec::new();
    for r in &rows {
        let mut config = r.config.clone();
        let e = seen.entry(r.config.id.as_str()).or_insert((r.line, 0));
        e.1 += 1;
        if e.1 > 1 {
            config.id = format!("{}-{}", r.config.id, e.1);
            repeats.push((r.line, e.0, config.id.clone()));
        }
        kept.push(crate::store::ImportedConfig {
            config,
            summary: r.summary.clone(),
            folds: r.folds.clone(),
            failed: r.failed.clone(),
            resource_epochs: r.resource_epochs,
            stopped: r.stopped,
            details: r.details.clone(),
        });
    }
    let shapes = Shapes {
        fewer_splits: rows
            .iter()
            .filter(|r| r.splits > 0 && r.failed.is_empty() && r.folds.len() < r.splits)
            .count(),
        failed: rows.iter().filter(|r| !r.failed.is_empty()).count(),
        stopped: rows.iter().filter(|r| r.stopped).count(),
    };
    Ok(ReadFile {
        shapes,
        path: path.to_path_buf(),
        sha256,
        rows: rows.len(),
        folds,
        k,
        repeats,
        kept,
        rule,
        filled,
        corrections,
    })
}

/// Stores a file [`read`] as sweep `name`. A sweep of that name imported from the same
/// bytes is left as it is; any other sweep of that name is a conflict. `grid`: the
/// sub-grids of the spec the results were made with (`--spec`), stored so that
/// `analyze` analyses each sub-grid.
pub async fn import(
    store: &Store,
    file: ReadFile,
    name: &str,
    grid: Option<&crate::spec::Grid>,
) -> Result<Imported> {
    let ReadFile {
        path,
        sha256,
        rows,
        folds,
        k,
        repeats,
        kept,
        rule,
        filled,
        corrections,
        shapes,
    } = file;
    let path = path.as_path();
    let source = std::path::absolute(path)
        .unwrap_or_else(|_| path.to_path_buf())
        .display()
        .to_string();
    if let Some(row) = store.sweep_by_name(name).await? {
        if row.source_sha256.as_deref() == Some(sha256.as_str()) {
            return Ok(Imported {
                sweep_id: row.id,
                rows,
                added: 0,
                repeats,
                sha256,
                already: true,
                filled,
                corrections,
                shapes,
                splits: folds,
            });
        }
        let what = match &row.source {
            Some(s) => format!("imported from {s}"),
            None => "run here".to_string(),
        };
        return Err(SweepError::Conflict(format!(
            "{} already has a sweep `{name}` ({what}): give the import another --name",
            store.name()
        )));
    }
    let spec: Value = json!({
        "name": name,
        "description": format!("imported from {source} (sha256 {sha256})"),
        "dataset": {"path": source},
        "cv": if folds / k > 1 { json!({"folds": k, "repeats": folds / k}) } else { json!({"folds": k}) },
        "grid": grid.map_or(json!({}), |g| json!(g)),
        "score": rule,
    });
    let row = store
        .ensure_sweep(
            name,
            &spec.to_string(),
            &format!("imported:{sha256}"),
            folds,
            0,
        )
        .await?;
    let added = store.add_imported(row.id, &source, &sha256, &kept).await?;
    Ok(Imported {
        sweep_id: row.id,
        rows,
        added,
        repeats,
        sha256,
        already: false,
        filled,
        corrections,
        shapes,
        splits: folds,
    })
}

/// The hyperparameters an imported sweep's rows show without its file stating them,
/// where it was imported without a spec: gridsweep's defaults stand in for them, so
/// `rank` says they are not the file's. Empty for a sweep run here or imported with a
/// spec (whose values are the spec's).
pub async fn defaulted_keys(store: &Store, sweep: &crate::store::SweepRow) -> Result<Vec<String>> {
    if sweep.source.is_none()
        || !super::stored_spec(sweep)?
            .grid
            .subgrids()
            .iter()
            .all(|g| g.is_empty())
    {
        return Ok(Vec::new());
    }
    let details = store.imported_details(sweep.id).await?;
    let mut out: Vec<String> = Vec::new();
    for r in store.configurations(sweep.id).await? {
        let Some(d) = details.get(&r.config_id) else {
            continue;
        };
        for k in r.params.keys() {
            if !d.stated.contains(k) && !out.contains(k) {
                out.push(k.clone());
            }
        }
    }
    out.sort();
    Ok(out)
}
