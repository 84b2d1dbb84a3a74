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
    #[arg(long, default_value = "hpo-combined")]
    pub format: String,
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
    /// The score rule the imported configurations are ranked by (default: the study's
    /// ranking script's, ½·(0.5·(1 − |train − val|) + val)); `rank` overrides it later.
    #[command(flatten)]
    pub score: ScoreArgs,
}

pub fn import(a: ImportArgs) -> Result<Outcome> {
    let format = match a.format.as_str() {
        "hpo-combined" => sweep::import::Format::HpoCombined,
        "cv-results" => sweep::import::Format::CvResults,
        other => bail!("--format {other}: expected hpo-combined (an HPO_combined-style CSV) or cv-results (scikit-learn's cv_results_)"),
    };
    let rule = a.score.rule(ScoreRule::default())?;
    let spec = a.spec.as_deref().map(crate::spec::Spec::load).transpose()?;
    // The file first: one refused opens no database.
    let file = sweep::import::read(&a.file, rule, format, a.cv_folds)?;
    let rt = runtime()?;
    let done = rt.block_on(async {
        let store = Store::open(&a.db.db).await?;
        let r = sweep::import::import(&store, file, &a.name, spec.as_ref().map(|s| &s.grid)).await;
        store.close().await;
        anyhow::Ok(r?)
    })?;
    let hint = db_hint(&a.db.db);
    if done.already {
        println!("{} was imported as sweep {} before (sha256 {}…): nothing added", a.file.display(), a.name, &done.sha256[..12]);
    } else {
        println!(
            "imported {} configuration(s) from {} ({} row(s), sha256 {}…) as sweep {}; `gridsweep rank {}{hint}` ranks them",
            done.added, a.file.display(), done.rows, &done.sha256[..12], a.name, a.name
        );
    }
    if !done.repeats.is_empty() {
        let lines: Vec<String> = done.repeats.iter().take(5).map(|(l, e, id)| format!("line {l} (line {e}'s, as {id})")).collect();
        println!(
            "{} row(s) repeat the configuration of an earlier row with their own results; each is kept: {}{}",
            done.repeats.len(),
            lines.join(", "),
            if done.repeats.len() > 5 { ", …" } else { "" }
        );
    }
    Ok(Outcome::Ok)
}
