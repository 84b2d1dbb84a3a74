//! `gridsweep import`: results made elsewhere as a sweep of this database (see
//! `crate::sweep::import`).

use super::sweep_cmd::{db_hint, runtime, DbArg, ScoreArgs};
use super::Outcome;
use crate::score::ScoreRule;
use crate::store::Store;
use crate::sweep;
use anyhow::{bail, Result};
use clap::Args;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct ImportArgs {
    /// The file: an HPO_combined-style CSV (the study's `HPO_combined.csv`) or a
    /// scikit-learn cv_results_ CSV.
    pub file: PathBuf,
    /// Its format: hpo-combined (means only) or cv-results (per-fold scores, from
    /// `pd.DataFrame(GridSearchCV(..., return_train_score=True).cv_results_).to_csv()`).
    /// The spec (`--spec`) fills what the file does not state. Default: told from the
    /// header (per-fold `splitK_test_score` columns: cv-results).
    #[arg(long)]
    pub format: Option<String>,
    /// The sweep's name in this database.
    #[arg(long)]
    pub name: String,
    #[command(flatten)]
    pub db: DbArg,
    /// The spec the results were made with: its sub-grids are stored with the import, so
    /// that `analyze` analyses each (for the study's file: search-spaces/genre-factor.json).
    #[arg(long)]
    pub spec: Option<PathBuf>,
    /// cv-results from repeated k-fold (`RepeatedStratifiedKFold`): k, so that its
    /// splits are k × repeats (the tests' overlap correction needs k; default: the
    /// splits are one k-fold).
    #[arg(long, value_name = "K")]
    pub cv_folds: Option<usize>,
    /// A multi-metric cv-results file (`GridSearchCV(scoring={...})`): the scorer whose
    /// columns (`split0_test_<NAME>`, `split0_train_<NAME>`) hold the accuracies.
    /// Default: `score`, or the file's only scorer.
    #[arg(long, value_name = "NAME")]
    pub scorer: Option<String>,
    /// A cv-results file of another model's search (a tabular HPO benchmark, an
    /// estimator gridsweep does not train): its `param_` columns are kept as labels, not
    /// read as a dense network's hyperparameters, so the sweep can be ranked, exported,
    /// analysed and replayed, not rerun or evaluated. `--cv-folds 1` then means each
    /// split is a replicate (a seed) on one train/validation split.
    #[arg(long, conflicts_with = "spec")]
    pub foreign: bool,
    /// The score rule the imported configurations are ranked by (default: the study's
    /// ranking script's, ½·(0.5·(1 − |train − val|) + val)); `rank` overrides it later.
    #[command(flatten)]
    pub score: ScoreArgs,
}

pub fn import(a: ImportArgs) -> Result<Outcome> {
    let format = match a.format.as_deref() {
        None => sweep::import::detect(&a.file)?,
        Some("hpo-combined") => sweep::import::Format::HpoCombined,
        Some("cv-results") => sweep::import::Format::CvResults,
        Some(other) => bail!("--format {other}: expected hpo-combined (an HPO_combined-style CSV) or cv-results (scikit-learn's cv_results_)"),
    };
    let spec = a.spec.as_deref().map(crate::spec::Spec::load).transpose()?;
    // The rule: the spec's, else the Δ kind the file's own delta_acc holds; then the
    // command line's overrides.
    let file_delta = (format == sweep::import::Format::HpoCombined && spec.is_none())
        .then(|| sweep::import::file_delta(&a.file))
        .flatten();
    let base = match (&spec, file_delta) {
        (Some(s), _) => s.score,
        (None, Some(delta)) => ScoreRule {
            delta,
            ..ScoreRule::default()
        },
        (None, None) => ScoreRule::default(),
    };
    let rule = a.score.rule(base)?;
    // The file first: one refused opens no database.
    if a.scorer.is_some() && format != sweep::import::Format::CvResults {
        bail!("--scorer: only a cv-results file has scorers");
    }
    if a.foreign && format != sweep::import::Format::CvResults {
        bail!("--foreign: only a cv-results file can hold another model's search");
    }
    let file = sweep::import::read(
        &a.file,
        rule,
        format,
        a.cv_folds,
        spec.as_ref(),
        a.scorer.as_deref(),
        a.foreign,
    )?;
    let rt = runtime()?;
    let done = rt.block_on(async {
        let store = Store::open(&a.db.db).await?;
        if let Some(dir) = store.created_dir() {
            eprintln!(
                "gridsweep: note: created the directory {} for the database {}",
                dir.display(),
                store.name()
            );
        }
        let r = sweep::import::import(&store, file, &a.name, spec.as_ref().map(|s| &s.grid)).await;
        store.close().await;
        anyhow::Ok(r?)
    })?;
    let hint = db_hint(&a.db.db);
    if done.already {
        println!(
            "{} was imported as sweep {} before (sha256 {}…): nothing added",
            a.file.display(),
            a.name,
            crate::domain::short_id(&done.sha256)
        );
    } else {
        println!(
            "imported {} configuration(s) from {} ({} row(s), sha256 {}…) as sweep {}; `gridsweep rank {}{hint}` ranks them",
            done.added, a.file.display(), done.rows, crate::domain::short_id(&done.sha256), a.name, a.name
        );
    }
    if !done.corrections.is_empty() && !done.already {
        println!("this is the study's own file (its published SHA-256); from its authors' code, the import corrected:");
        for c in &done.corrections {
            println!("  - {c}");
        }
    }
    if let (Some(delta), None) = (file_delta, a.score.delta) {
        println!(
            "Δacc is {}, as the file's delta_acc column holds it (`--delta` sets another)",
            delta.name()
        );
    }
    let f = &done.filled;
    match (f.from_spec, &a.spec) {
        (Some(n), Some(spec)) => {
            if !f.unstated.is_empty() {
                println!(
                    "the spec {} gave {n} row(s) what the file does not state ({})",
                    spec.display(),
                    f.unstated.join(", ")
                );
            }
            if !f.outside_spec.is_empty() {
                let lines: Vec<String> =
                    f.outside_spec.iter().take(5).map(u64::to_string).collect();
                println!(
                    "{} row(s) fit no configuration of the spec (line {}{}): their unstated keys took gridsweep's defaults",
                    f.outside_spec.len(),
                    lines.join(", "),
                    if f.outside_spec.len() > 5 { ", …" } else { "" }
                );
            }
        }
        _ if !f.unstated.is_empty() => {
            let grid_c = if format == sweep::import::Format::HpoCombined {
                "; the GridSearchCV rows' callbacks are the study's grid C's"
            } else {
                ""
            };
            println!(
                "the file does not state {}: those took gridsweep's defaults{grid_c}; `--spec SPEC` takes them from the spec the results were made with",
                f.unstated.join(", ")
            );
        }
        _ => {}
    }
    let s = done.shapes;
    if s.fewer_splits > 0 {
        println!(
            "{} ran fewer splits than the file's {} (a race's, or a partial export's): each is scored on the splits it ran",
            crate::text::count(s.fewer_splits, "row", "rows"),
            done.splits
        );
    }
    if s.failed > 0 {
        println!(
            "{} a failed fit (NaN, scikit-learn's error_score=nan): kept without a score, not ranked; `gridsweep status {}{hint}` counts them",
            crate::text::count(s.failed, "row records", "rows record"),
            a.name
        );
    }
    if s.stopped > 0 {
        println!(
            "{} marked as not complete (stopped or dropped where the file was made): kept apart from the ranking, which `rank` lists below it",
            crate::text::count(s.stopped, "row is", "rows are")
        );
    }
    if !done.repeats.is_empty() {
        let lines: Vec<String> = done
            .repeats
            .iter()
            .take(5)
            .map(|(l, e, id)| format!("line {l} (line {e}'s, as {id})"))
            .collect();
        println!(
            "{} row(s) repeat the configuration of an earlier row with their own results; each is kept: {}{}",
            done.repeats.len(),
            lines.join(", "),
            if done.repeats.len() > 5 { ", …" } else { "" }
        );
    }
    Ok(Outcome::Ok)
}
