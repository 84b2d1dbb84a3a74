//! CSV exports in the formats the study's tooling reads.
//!
//! - `hpo-combined`: the study's `HPO_combined.csv`, column for column (its misspelt
//!   `weight_contraint` included), one row per complete configuration, `delta_acc` of
//!   the sweep's kind; hyperparameters that vary in the sweep but are not among the
//!   study's columns (`protocol`, `learning_rate`, …) follow as extra columns, so two
//!   rows never look alike while their configurations differ.
//! - `cv-results`: scikit-learn's `GridSearchCV.cv_results_` as pandas writes it.
//!
//! Values are written as pandas writes them: floats in Python's `repr` form (`1e-07`,
//! `10.0`), dicts in Python's literal form. Rows are written as they are produced.

use crate::domain::ImportedDetails;
use crate::params::{Activation, OptimizerKind};
use crate::rank::ConfigRow;
use crate::score::{mean_std, ScoreRule};
use crate::store::FoldMetrics;
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::io::Write;

pub const HPO_COMBINED_COLUMNS: [&str; 22] = [
    "activation",
    "activation_numerical",
    "batch_size",
    "delta_acc",
    "dropout",
    "early_stopping_patience",
    "epochs",
    "mean_train_score",
    "mean_val_score",
    "neurons_1",
    "neurons_2",
    "neurons_3",
    "neurons_4",
    "num_hidden_layers",
    "optimizer",
    "optimizer_numerical",
    "reduce_lr_factor",
    "reduce_lr_min_lr",
    "reduce_lr_patience",
    "std_train_score",
    "std_val_score",
    "weight_contraint",
];

/// Python's `repr(float)`: shortest round-trip digits, scientific notation outside
/// 1e-4 ≤ |x| < 1e16, always a decimal point or exponent.
pub fn py_float(x: f64) -> String {
    if x.is_nan() {
        return "nan".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if x == 0.0 {
        return if x.is_sign_negative() {
            "-0.0".into()
        } else {
            "0.0".into()
        };
    }
    let sci = format!("{:e}", x); // e.g. "-1.2345e-7"
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let neg = mantissa.starts_with('-');
    let digits: String = mantissa.chars().filter(|c| c.is_ascii_digit()).collect();
    let decpt = exp + 1;
    let sign = if neg { "-" } else { "" };
    if !(-4 < decpt && decpt <= 16) {
        let (head, tail) = digits.split_at(1);
        let frac = if tail.is_empty() {
            String::new()
        } else {
            format!(".{tail}")
        };
        let esign = if exp < 0 { '-' } else { '+' };
        format!("{sign}{head}{frac}e{esign}{:02}", exp.abs())
    } else if decpt <= 0 {
        format!("{sign}0.{}{digits}", "0".repeat((-decpt) as usize))
    } else if decpt as usize >= digits.len() {
        format!(
            "{sign}{digits}{}.0",
            "0".repeat(decpt as usize - digits.len())
        )
    } else {
        let (a, b) = digits.split_at(decpt as usize);
        format!("{sign}{a}.{b}")
    }
}

/// A JSON value as pandas writes it in a cell.
fn cell(v: &Value) -> String {
    match v {
        Value::Number(n) if n.is_i64() || n.is_u64() => n.to_string(),
        Value::Number(n) => py_float(n.as_f64().unwrap_or(f64::NAN)),
        Value::String(s) => s.clone(),
        Value::Bool(b) => {
            if *b {
                "True".into()
            } else {
                "False".into()
            }
        }
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// A hyperparameter value for tables (as in the CSV exports).
pub fn display_value(v: &Value) -> String {
    cell(v)
}

/// A JSON value in Python literal form (inside the `params` dict).
fn py_literal(v: &Value) -> String {
    match v {
        Value::String(s) => format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'")),
        Value::Null => "None".into(),
        other => cell(other),
    }
}

/// A hyperparameter's cell (also in `plan`, `rank` and report tables): its value, the
/// default a canonical form leaves out (`protocol`, `precision`), or empty where it does
/// not apply.
pub fn param_cell(p: &Map<String, Value>, k: &str) -> String {
    p.get(k)
        .map(cell)
        .or_else(|| crate::params::omitted_default(k).map(String::from))
        .unwrap_or_default()
}

fn float_of(p: &Map<String, Value>, k: &str) -> f64 {
    p.get(k).and_then(Value::as_f64).unwrap_or(f64::NAN)
}

fn int_of(p: &Map<String, Value>, k: &str) -> String {
    p.get(k).map(cell).unwrap_or_default()
}

/// A hyperparameter the study's columns already carry (its misspelt `weight_contraint`
/// is `weight_constraint`'s).
fn has_study_column(key: &str) -> bool {
    HPO_COMBINED_COLUMNS.contains(&key) || key == "weight_constraint"
}

/// The columns the tie set adds to both exports.
pub const TIE_COLUMNS: [&str; 2] = ["in_tie_set", "p_not_worse"];

/// A configuration's tie-set cells: `True`/`False` as pandas writes booleans, and its
/// probability (empty for a configuration outside the ranking: partial rows).
fn tie_cells(ties: &HashMap<String, (bool, f64)>, id: &str) -> [String; 2] {
    match ties.get(id) {
        Some((tied, p)) => [
            if *tied { "True" } else { "False" }.to_string(),
            py_float(*p),
        ],
        None => [String::new(), String::new()],
    }
}

/// `resource`, with `--include-partial`: every row is exported; the epochs each
/// configuration's numbers are of, and whether it completed, go in last columns
/// `resource_epochs` and `complete`.
/// `ties`: each complete configuration's place in the tie set (in it, P(not worse)),
/// written in two last columns, `in_tie_set` and `p_not_worse` (the study's columns stay
/// as they are).
pub fn hpo_combined(
    out: impl Write,
    rows: &[ConfigRow],
    rule: &ScoreRule,
    resource: Option<&PartialRows>,
    ties: Option<&HashMap<String, (bool, f64)>>,
) -> csv::Result<usize> {
    let selected: Vec<&ConfigRow> = rows
        .iter()
        .filter(|r| resource.is_some() || r.summary.is_some())
        .collect();
    let params: Vec<&Map<String, Value>> = selected.iter().map(|r| &r.params).collect();
    // `weight_constraint` has the study's (misspelt) column; a notebook row, which has
    // none, writes 0 there as the study's file did.
    let extra: Vec<String> = crate::rank::varying_keys(params.iter().map(|p| (*p).clone()))
        .into_iter()
        .filter(|k| !has_study_column(k))
        .collect();
    let mut w = csv::Writer::from_writer(out);
    let mut header: Vec<String> = HPO_COMBINED_COLUMNS.map(String::from).to_vec();
    header.extend(extra.iter().cloned());
    if resource.is_some() {
        header.extend(PartialRows::COLUMNS.map(String::from));
    }
    if ties.is_some() {
        header.extend(TIE_COLUMNS.map(String::from));
    }
    w.write_record(&header)?;
    let mut n = 0;
    for (row, &p) in selected.into_iter().zip(&params) {
        let (id, summary) = (&row.config_id, &row.summary);
        let act = p.get("activation").and_then(Value::as_str).unwrap_or("");
        let opt = p.get("optimizer").and_then(Value::as_str).unwrap_or("");
        let s = summary.as_ref();
        let metric =
            |f: fn(&crate::cv::CvSummary) -> f64| s.map(|s| py_float(f(s))).unwrap_or_default();
        let delta = s
            .map(|s| py_float(rule.delta(s.mean_train_accuracy, s.mean_val_accuracy)))
            .unwrap_or_default();
        let mut rec = vec![
            act.to_string(),
            Activation::parse(act)
                .map(|a| a.code().to_string())
                .unwrap_or_default(),
            int_of(p, "batch_size"),
            delta,
            py_float(float_of(p, "dropout")),
            int_of(p, "early_stopping_patience"),
            int_of(p, "epochs"),
            metric(|s| s.mean_train_accuracy),
            metric(|s| s.mean_val_accuracy),
            int_of(p, "neurons_1"),
            int_of(p, "neurons_2"),
            int_of(p, "neurons_3"),
            int_of(p, "neurons_4"),
            int_of(p, "num_hidden_layers"),
            opt.to_string(),
            OptimizerKind::parse(opt)
                .map(|o| py_float(o.code() as f64))
                .unwrap_or_default(),
            py_float(float_of(p, "reduce_lr_factor")),
            py_float(float_of(p, "reduce_lr_min_lr")),
            int_of(p, "reduce_lr_patience"),
            metric(|s| s.std_train_accuracy),
            metric(|s| s.std_val_accuracy),
            py_float(
                p.get("weight_constraint")
                    .and_then(Value::as_f64)
                    .unwrap_or(0.0),
            ),
        ];
        rec.extend(extra.iter().map(|k| param_cell(p, k)));
        if let Some(r) = resource {
            rec.extend(r.cells(id));
        }
        if let Some(t) = ties {
            rec.extend(tie_cells(t, id));
        }
        w.write_record(&rec)?;
        n += 1;
    }
    w.flush()?;
    Ok(n)
}

/// A mean and standard deviation a summary holds (a row without folds writes these).
type SummaryStat = fn(&crate::cv::CvSummary) -> (f64, f64);

/// What shapes a `cv_results_` export beyond its rows.
#[derive(Debug, Clone)]
pub struct CvColumns<'a> {
    /// Splits per configuration (`splitK_*` columns).
    pub n_folds: usize,
    /// The `param_*` columns: the hyperparameters the spec's grid varies, or those an
    /// import's file stated.
    pub keys: Vec<String>,
    /// An imported sweep's rows: their file's timings are written instead of the
    /// folds', and with `stated_only` each row's `param_*` cells and `params` hold only
    /// the keys it stated.
    pub imported: &'a HashMap<String, ImportedDetails>,
    pub stated_only: bool,
    /// A run sweep's rows: the keys of the sub-grid that gives each (scikit-learn
    /// leaves a key its sub-grid does not set empty, and out of `params`). A row not
    /// listed (an earlier spec version's) states every key.
    pub subgrid_keys: HashMap<String, Vec<String>>,
    /// Configurations without a score for a failed fold: their failed folds. Written as
    /// scikit-learn writes a failed fit (`error_score=nan`): the split `nan`, the means
    /// empty (NaN), ranked last.
    pub failed: &'a HashMap<String, Vec<i64>>,
}

/// An `--include-partial` export's rows beyond the complete ones.
#[derive(Debug, Clone, Default)]
pub struct PartialRows {
    /// The epochs each exported row's numbers are of (`resource_epochs`).
    pub epochs: HashMap<String, i64>,
    /// The configurations that did not complete (stopped at a rung, or dropped from a
    /// race): `complete` False, and ranked after every complete one, as scikit-learn's
    /// successive halving ranks its last iteration's candidates first.
    pub stopped: std::collections::HashSet<String>,
}

impl PartialRows {
    /// `resource_epochs` and `complete`, the last columns of a partial export before the
    /// tie set's.
    const COLUMNS: [&'static str; 2] = ["resource_epochs", "complete"];

    fn cells(&self, id: &str) -> [String; 2] {
        [
            self.epochs
                .get(id)
                .map(|e| e.to_string())
                .unwrap_or_default(),
            (if self.stopped.contains(id) {
                "False"
            } else {
                "True"
            })
            .to_string(),
        ]
    }
}

/// `cv_results_` columns. A row without per-fold results (an imported HPO_combined
/// file holds only means and standard deviations) leaves its split cells empty and
/// writes its summary's means and standard deviations.
pub fn cv_results(
    out: impl Write,
    rows: &[ConfigRow],
    folds: &HashMap<String, Vec<FoldMetrics>>,
    columns: &CvColumns,
    resource: Option<&PartialRows>,
    ties: Option<&HashMap<String, (bool, f64)>>,
) -> csv::Result<usize> {
    let (n_folds, grid_keys) = (columns.n_folds, &columns.keys);
    let failed_of = |id: &str| columns.failed.get(id).filter(|f| !f.is_empty());
    let selected: Vec<&ConfigRow> = rows
        .iter()
        .filter(|r| resource.is_some() || r.summary.is_some() || failed_of(&r.config_id).is_some())
        .collect();
    let none = Vec::new();
    let fold_list = |id: &str| folds.get(id).unwrap_or(&none);
    let mean_test: Vec<f64> = selected
        .iter()
        .map(|r| {
            let f = fold_list(&r.config_id);
            match &r.summary {
                _ if failed_of(&r.config_id).is_some() => f64::NEG_INFINITY,
                _ if !f.is_empty() => {
                    mean_std(&f.iter().map(|m| m.val_accuracy).collect::<Vec<_>>()).0
                }
                Some(s) => s.mean_val_accuracy,
                None => f64::NEG_INFINITY,
            }
        })
        .collect();
    // `rank_test_score`: by mean test score (scikit-learn's), complete configurations
    // first; a stopped one after them, by how far it went (epochs, then folds run).
    let reached = |r: &ConfigRow| {
        // Failed fits share the last rank, as scikit-learn ranks NaN means.
        if failed_of(&r.config_id).is_some() {
            return (false, -1, 0);
        }
        let stopped = resource.is_some_and(|m| m.stopped.contains(&r.config_id));
        let epochs = resource
            .and_then(|m| m.epochs.get(&r.config_id))
            .copied()
            .unwrap_or(0);
        (!stopped, epochs, fold_list(&r.config_id).len())
    };
    let ranks = {
        let mut idx: Vec<usize> = (0..selected.len()).collect();
        let key = |i: usize| (reached(selected[i]), mean_test[i]);
        idx.sort_by(|&a, &b| {
            let (ka, kb) = (key(a), key(b));
            kb.0.cmp(&ka.0).then(kb.1.total_cmp(&ka.1))
        });
        let mut ranks = vec![0; selected.len()];
        for (n, &j) in idx.iter().enumerate() {
            let tied = n > 0 && key(idx[n - 1]) == key(j);
            ranks[j] = if tied { ranks[idx[n - 1]] } else { n + 1 };
        }
        ranks
    };

    let mut w = csv::Writer::from_writer(out);
    let mut header: Vec<String> = [
        "mean_fit_time",
        "std_fit_time",
        "mean_score_time",
        "std_score_time",
    ]
    .map(String::from)
    .to_vec();
    header.extend(grid_keys.iter().map(|k| format!("param_{k}")));
    header.push("params".into());
    header.extend((0..n_folds).map(|k| format!("split{k}_test_score")));
    header.extend(["mean_test_score", "std_test_score", "rank_test_score"].map(String::from));
    header.extend((0..n_folds).map(|k| format!("split{k}_train_score")));
    header.extend(["mean_train_score", "std_train_score", "folds_run"].map(String::from));
    if resource.is_some() {
        header.extend(PartialRows::COLUMNS.map(String::from));
    }
    if ties.is_some() {
        header.extend(TIE_COLUMNS.map(String::from));
    }
    w.write_record(&header)?;

    for (i, r) in selected.iter().enumerate() {
        let p = &r.params;
        let f = fold_list(&r.config_id);
        let failed = failed_of(&r.config_id);
        let by_fold = |k: usize, g: fn(&FoldMetrics) -> f64| {
            if failed.is_some_and(|x| x.contains(&(k as i64))) {
                return "nan".to_string();
            }
            f.iter()
                .find(|m| m.fold == k as i64)
                .map(|m| py_float(g(m)))
                .unwrap_or_default()
        };
        // Over the folds; without any, the summary's (`of`), or empty; NaN (empty, as
        // pandas writes it) where a fold failed.
        let stat = |g: fn(&FoldMetrics) -> f64, of: Option<SummaryStat>| {
            if failed.is_some() {
                (String::new(), String::new())
            } else if f.is_empty() {
                match (&r.summary, of) {
                    (Some(s), Some(of)) => (py_float(of(s).0), py_float(of(s).1)),
                    _ => (String::new(), String::new()),
                }
            } else {
                let (m, s) = mean_std(&f.iter().map(g).collect::<Vec<_>>());
                (py_float(m), py_float(s))
            }
        };
        let mut rec = Vec::with_capacity(header.len());
        match columns.imported.get(&r.config_id) {
            // The file's own timings (each empty where it had none).
            Some(d) => rec.extend(
                [
                    d.mean_fit_time,
                    d.std_fit_time,
                    d.mean_score_time,
                    d.std_score_time,
                ]
                .map(|x| x.map(py_float).unwrap_or_default()),
            ),
            None => {
                let (mf, sf) = stat(|m| m.fit_seconds, None);
                let (ms, ss) = stat(|m| m.score_seconds, None);
                rec.extend([mf, sf, ms, ss]);
            }
        }
        // An imported row: what its file stated; a run's: its sub-grid's keys.
        let stated = |k: &String| match columns.imported.get(&r.config_id) {
            Some(d) => d.stated.contains(k),
            None if columns.stated_only => false,
            None => columns
                .subgrid_keys
                .get(&r.config_id)
                .is_none_or(|keys| keys.contains(k)),
        };
        rec.extend(grid_keys.iter().map(|k| {
            if stated(k) {
                param_cell(p, k)
            } else {
                String::new()
            }
        }));
        // `params` keys sorted, as a scikit-learn ParameterGrid gives them.
        let mut in_dict: Vec<&String> = grid_keys.iter().filter(|k| stated(k)).collect();
        in_dict.sort();
        let dict: Vec<String> = in_dict
            .into_iter()
            .filter_map(|k| {
                let v = p
                    .get(k)
                    .cloned()
                    .or_else(|| crate::params::omitted_default(k).map(Value::from))?;
                Some(format!("'{k}': {}", py_literal(&v)))
            })
            .collect();
        rec.push(format!("{{{}}}", dict.join(", ")));
        rec.extend((0..n_folds).map(|k| by_fold(k, |m| m.val_accuracy)));
        let (mt, st) = stat(
            |m| m.val_accuracy,
            Some(|s| (s.mean_val_accuracy, s.std_val_accuracy)),
        );
        rec.extend([
            mt,
            st,
            if mean_test[i] == f64::NEG_INFINITY && failed.is_none() {
                String::new()
            } else {
                ranks[i].to_string()
            },
        ]);
        rec.extend((0..n_folds).map(|k| by_fold(k, |m| m.train_accuracy)));
        let (mtr, str_) = stat(
            |m| m.train_accuracy,
            Some(|s| (s.mean_train_accuracy, s.std_train_accuracy)),
        );
        rec.extend([mtr, str_]);
        // The splits it ran (a race's or a stopped configuration's are fewer); empty for
        // a row known only by its means.
        rec.push(if f.is_empty() {
            String::new()
        } else {
            f.len().to_string()
        });
        if let Some(res) = resource {
            let [epochs, complete] = res.cells(&r.config_id);
            rec.push(epochs);
            rec.push(if failed.is_some() {
                "False".into()
            } else {
                complete
            });
        }
        if let Some(t) = ties {
            rec.extend(tie_cells(t, &r.config_id));
        }
        w.write_record(&rec)?;
    }
    w.flush()?;
    Ok(selected.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_as_python_repr() {
        for (x, want) in [
            (1e-7, "1e-07"),
            (1e-5, "1e-05"),
            (0.0001, "0.0001"),
            (10.0, "10.0"),
            (0.0, "0.0"),
            (0.1, "0.1"),
            (1.0, "1.0"),
            (0.105023982250678, "0.105023982250678"),
            (0.7347228328386942, "0.7347228328386942"),
            (1e16, "1e+16"),
            (1234567.5, "1234567.5"),
            (-2.5e-10, "-2.5e-10"),
            (123456789012345.0, "123456789012345.0"),
        ] {
            assert_eq!(py_float(x), want);
        }
    }
}
