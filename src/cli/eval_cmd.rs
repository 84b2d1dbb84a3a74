//! After the sweep: evaluate, baselines, predict.

use super::sweep_cmd::{db_hint, pick_sweep, runtime, DbArg, ScoreArgs};
use super::Outcome;
use crate::baselines::{Baseline, BaselineOptions};
use crate::cv::ScoreRule;
use crate::evaluate::{self, Evaluation, SavedModel};
use crate::metrics::Metrics;
use crate::rank;
use crate::store::{DbLocation, Store};
use crate::sweep::{
    self,
    ranking::{Choice, Chosen, NotChosen},
};
use crate::train::{EpochProgress, FoldObserver};
use anyhow::{bail, Context, Result};
use clap::Args;
use std::io::Write;
use std::path::PathBuf;

#[derive(Args, Debug, Clone)]
pub struct ChoiceArgs {
    /// The sweep (default: the only one in the database).
    pub name: Option<String>,
    #[command(flatten)]
    pub db: DbArg,
    /// Evaluate this configuration id (or a unique prefix of one).
    #[arg(long, conflicts_with = "rank")]
    pub config: Option<String>,
    /// Evaluate the configuration of this rank by the weighted score (default 1; ranks
    /// start at 1, as `rank` numbers them).
    #[arg(long, value_parser = super::rank_number)]
    pub rank: Option<usize>,
    #[command(flatten)]
    pub score: ScoreArgs,
}

#[derive(Args, Debug, Clone)]
pub struct BaselineArgs {
    /// Neighbours of the KNN baseline.
    #[arg(long, default_value_t = 12)]
    pub knn_k: usize,
    /// C of the RBF SVM baseline.
    #[arg(long, default_value_t = 1.0)]
    pub svm_c: f64,
}

impl BaselineArgs {
    fn options(&self) -> BaselineOptions {
        BaselineOptions {
            knn_k: self.knn_k,
            svm_c: self.svm_c,
        }
    }
}

/// How the final training runs.
#[derive(Args, Debug, Clone)]
pub struct TrainingArgs {
    #[command(flatten)]
    pub mkl: super::MklArg,
    /// Epochs of the final training (the callbacks may stop it earlier).
    #[arg(long, default_value_t = evaluate::DEFAULT_EPOCHS)]
    pub epochs: u32,
    #[command(flatten)]
    pub device: super::flags::DeviceArg,
    // The final training is one job: more threads per job can speed it up.
    #[command(flatten)]
    pub threads: super::flags::ThreadsArg,
    /// Where to save the model (default: <sweep>-<config id>-model beside the database).
    #[arg(long)]
    pub model_dir: Option<PathBuf>,
    /// No progress lines.
    #[arg(long)]
    pub quiet: bool,
}

#[derive(Args, Debug, Clone)]
pub struct EvaluateArgs {
    #[command(flatten)]
    pub choice: ChoiceArgs,
    #[command(flatten)]
    pub baselines: BaselineArgs,
    #[command(flatten)]
    pub training: TrainingArgs,
    /// Print the whole evaluation as one JSON document instead of the summary.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct ReportArgs {
    #[command(flatten)]
    pub choice: ChoiceArgs,
    /// Folder for index.html and img/ (default: <sweep>-report beside the database).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Configurations in the top table.
    #[arg(long, default_value_t = 10)]
    pub top: usize,
    /// Evaluate again even if the database has an evaluation of the configuration.
    #[arg(long)]
    pub fresh: bool,
    #[command(flatten)]
    pub baselines: BaselineArgs,
    #[command(flatten)]
    pub training: TrainingArgs,
}

#[derive(Args, Debug)]
pub struct BaselinesArgs {
    /// The sweep (default: the only one in the database).
    pub name: Option<String>,
    #[command(flatten)]
    pub db: DbArg,
    #[command(flatten)]
    pub baselines: BaselineArgs,
    /// Print one JSON document instead of the table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct PredictArgs {
    /// A model folder written by `gridsweep evaluate`.
    #[arg(long)]
    pub model: PathBuf,
    /// CSV with the model's feature columns (the label and index columns may be present).
    #[arg(long)]
    pub data: PathBuf,
    /// Write the predictions here instead of standard output.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// A column of the file to carry through to the output as its first column (an id);
    /// default: the row number, as `row`.
    #[arg(long, value_name = "COLUMN")]
    pub id_column: Option<String>,
    /// Ignore columns that are not the model's (default: refuse the file, naming them).
    #[arg(long)]
    pub ignore_extra: bool,
    /// A text value the model did not learn is an error (default: it reads as no
    /// category: all zeros one-hot, missing for an ordinal column).
    #[arg(long)]
    pub strict: bool,
    /// The field separator: `,` `;` `|` or `tab` (default: guessed from the header).
    #[arg(long, value_parser = super::parse_delimiter)]
    pub delimiter: Option<char>,
    /// Numbers are written with a decimal comma (`0,673`; needs a separator other than `,`).
    #[arg(long)]
    pub decimal_comma: bool,
    /// The column of true labels, to report the predictions' accuracy (default: the
    /// training data's label column, when the file has it).
    #[arg(long, value_name = "COLUMN")]
    pub label: Option<String>,
}

use crate::sweep::evaluation::beside_db;

/// The configuration `--config`/`--rank` name, or an error that says what there is.
fn choose(
    rows: &[rank::ConfigRow],
    c: &ChoiceArgs,
    rule: &ScoreRule,
    sweep: &str,
) -> Result<Chosen> {
    let choice = match &c.config {
        Some(prefix) => Choice::Id(prefix),
        None => Choice::Rank(c.rank.unwrap_or(1)),
    };
    sweep::ranking::choose(rows, rule, choice).map_err(|why| match why {
        NotChosen::NoSuchId => {
            anyhow::anyhow!(
                "sweep `{sweep}` has no configuration `{}` (`gridsweep rank {sweep}{}` lists them)",
                c.config.as_deref().unwrap_or_default(),
                db_hint(&c.db.db)
            )
        }
        NotChosen::Ambiguous(n) => anyhow::anyhow!(
            "`{}` matches {n} configurations of sweep `{sweep}`; give more of the id",
            c.config.as_deref().unwrap_or_default()
        ),
        NotChosen::NoneComplete => anyhow::anyhow!(
            "sweep `{sweep}` has no complete configuration yet (`gridsweep status {sweep}{}`)",
            db_hint(&c.db.db)
        ),
        NotChosen::NoSuchRank(n) => anyhow::anyhow!(
            "--rank {}: sweep `{sweep}` has {n} complete configurations",
            c.rank.unwrap_or(1)
        ),
    })
}

/// The sweep's data (`sweep::evaluation_data`); an imported sweep's refusal names what
/// to run instead, with this `--db`.
fn evaluation_data(
    sweep: &crate::store::SweepRow,
    partition: Option<&crate::data::partition::Partition>,
    db: &DbLocation,
) -> Result<evaluate::EvalData> {
    sweep::evaluation_data(sweep, partition).map_err(|e| imported_hint(e, db))
}

/// An imported sweep's refusal, with what to run instead.
fn imported_hint(e: sweep::SweepError, db: &DbLocation) -> anyhow::Error {
    match e {
        sweep::SweepError::Imported {
            name, source_file, ..
        } => {
            let hint = format!(
                "; to evaluate its best here, train them on your data first: `gridsweep rerun {name} --top K --repeats R --spec SPEC{}` (the spec names the data and split), then evaluate that sweep",
                db_hint(db)
            );
            sweep::SweepError::Imported {
                name,
                source_file,
                hint,
            }
            .into()
        }
        e => e.into(),
    }
}

struct EpochLines {
    quiet: bool,
}

impl FoldObserver for EpochLines {
    fn on_epoch(&mut self, p: EpochProgress) {
        if !self.quiet && (p.epoch.is_multiple_of(25) || p.epoch == 1) {
            eprintln!(
                "gridsweep: final training, epoch {}/{}: loss {:.4}",
                p.epoch, p.epochs, p.loss
            );
        }
    }
}

/// Evaluates a configuration of a sweep, saves the model and records the evaluation.
pub fn evaluate_sweep(
    choice: &ChoiceArgs,
    baseline_args: &BaselineArgs,
    t: &TrainingArgs,
) -> Result<Evaluation> {
    let device = crate::device::parse(&t.device.device)?;
    if t.epochs == 0 {
        bail!("--epochs 0: expected at least 1");
    }
    let f = sweep::evaluation::Final {
        device,
        threads_per_job: t.threads.get(),
        epochs: t.epochs,
        model_dir: t.model_dir.clone(),
        baselines: baseline_args.options(),
    };
    runtime()?.block_on(async {
        let store = Store::open_existing(&choice.db.db).await?;
        let sweep = pick_sweep(&store, choice.name.as_deref()).await?;
        let rows = store.configurations(sweep.id).await?;
        let rule = choice.score.rule(sweep::score_rule(&sweep)?)?;
        let chosen = choose(&rows, choice, &rule, &sweep.name)?;
        let mut observer = EpochLines { quiet: t.quiet };
        let quiet = t.quiet;
        let evaluation = sweep::evaluation::evaluate(
            &store,
            &sweep,
            chosen,
            &rule,
            &f,
            &mut observer,
            &mut |n| {
                if !quiet {
                    eprintln!("gridsweep: {n}");
                }
            },
        )
        .await
        .map_err(|e| imported_hint(e, &choice.db.db));
        store.close().await;
        evaluation
    })
}

pub fn evaluate(a: EvaluateArgs) -> Result<Outcome> {
    let e = evaluate_sweep(&a.choice, &a.baselines, &a.training)?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&e)?);
    } else {
        print_evaluation(&e);
    }
    Ok(Outcome::Ok)
}

pub fn baselines(a: BaselinesArgs) -> Result<Outcome> {
    let rt = runtime()?;
    let store = rt.block_on(Store::open_existing(&a.db.db))?;
    let sweep = rt.block_on(pick_sweep(&store, a.name.as_deref()))?;
    rt.block_on(store.close());
    let data = evaluation_data(&sweep, None, &a.db.db)?;
    let baselines = data.baselines(a.baselines.options())?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&baselines)?);
        return Ok(Outcome::Ok);
    }
    println!(
        "sweep {}: baselines fitted on the training part ({} rows), scored on the test part ({} rows)",
        sweep.name,
        data.cv.train_y.len(),
        data.test_y.len()
    );
    print_comparison(None, &baselines);
    for b in &baselines {
        println!("\n{}", b.label);
        print_metrics(&b.metrics);
    }
    Ok(Outcome::Ok)
}

pub fn predict(a: PredictArgs) -> Result<Outcome> {
    let model = SavedModel::load(&a.model)?;
    let opts = crate::evaluate::PredictOptions {
        delimiter: a.delimiter.map(super::delimiter_byte).transpose()?,
        strict: a.strict,
        ignore_extra: a.ignore_extra,
        id_column: a.id_column.clone(),
        decimal_comma: a.decimal_comma,
        label: a.label.clone(),
    };
    let file = model.predict_file(&a.data, &opts)?;
    let (predictions, ids) = (&file.predictions, &file.ids);
    let out: Box<dyn Write> = match &a.out {
        Some(p) => {
            if let Some(dir) = p.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("creating {}", dir.display()))?;
            }
            Box::new(std::fs::File::create(p).with_context(|| format!("creating {}", p.display()))?)
        }
        None => Box::new(std::io::stdout().lock()),
    };
    let mut w = csv::Writer::from_writer(out);
    let mut header = vec![
        a.id_column.clone().unwrap_or_else(|| "row".into()),
        "predicted".to_string(),
    ];
    header.extend(model.meta.class_names.iter().map(|c| format!("p_{c}")));
    w.write_record(&header)?;
    for (i, p) in predictions.iter().enumerate() {
        let id = ids
            .as_ref()
            .and_then(|v| v.get(i).cloned())
            .unwrap_or_else(|| i.to_string());
        let mut rec = vec![id, p.class.clone()];
        rec.extend(p.probabilities.iter().map(|v| format!("{v:.6}")));
        w.write_record(&rec)?;
    }
    w.flush()?;
    if let Some(p) = &a.out {
        eprintln!(
            "gridsweep: wrote {} predictions to {}",
            predictions.len(),
            p.display()
        );
    }
    if let (None, Some((column, _))) = (file.accuracy(), &file.labels) {
        eprintln!("gridsweep: note: column `{column}` has no labels (every cell empty or missing): no accuracy");
    }
    if let (Some((acc, n)), Some((column, _))) = (file.accuracy(), &file.labels) {
        let unlabelled = file.unlabelled();
        let left_out = if unlabelled > 0 {
            format!(
                "; {} without a label left out",
                crate::text::count(unlabelled, "row", "rows")
            )
        } else {
            String::new()
        };
        eprintln!("gridsweep: accuracy against column `{column}`: {acc:.4} ({n} rows{left_out})");
        let classes = &model.meta.class_names;
        let unseen = file.unseen(classes);
        if !unseen.is_empty() {
            let rows: usize = unseen.iter().map(|(_, n)| n).sum();
            let named: Vec<String> = unseen
                .iter()
                .take(8)
                .map(|(l, n)| format!("`{l}` ({n})"))
                .collect();
            let known = file.accuracy_on(classes).map_or(String::new(), |(a, k)| {
                format!("; on the {k} rows of labels it knows: {a:.4}")
            });
            eprintln!(
                "gridsweep: note: {} of column `{column}` {} a label the model never saw ({}{}), counted as wrong: it predicts only {}{known}",
                crate::text::count(rows, "row", "rows"),
                if rows == 1 { "has" } else { "have" },
                named.join(", "),
                if unseen.len() > 8 { ", …" } else { "" },
                classes.join(", ")
            );
        }
    }
    Ok(Outcome::Ok)
}

fn print_metrics(m: &Metrics) {
    let width = m
        .classes
        .iter()
        .map(|c| c.name.len())
        .max()
        .unwrap_or(5)
        .max(12);
    println!(
        "{:<width$}  {:>9}  {:>6}  {:>6}  {:>7}  {:>6}  {:>6}",
        "class", "precision", "recall", "f1", "support", "PR-AUC", "AP"
    );
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
        println!(
            "{:<width$}  {:>9.4}  {:>6.4}  {:>6.4}  {:>7}  {:>6}  {:>6}",
            c.name, c.precision, c.recall, c.f1, c.support, auc, ap
        );
    }
    let support: usize = m.classes.iter().map(|c| c.support).sum();
    for (name, a) in [
        ("macro avg", &m.macro_avg),
        ("weighted avg", &m.weighted_avg),
    ] {
        println!(
            "{:<width$}  {:>9.4}  {:>6.4}  {:>6.4}  {:>7}",
            name, a.precision, a.recall, a.f1, support
        );
    }
    println!("accuracy {:.4}", m.accuracy);
    println!("confusion matrix (rows: true, columns: predicted; counts, then row-normalised)");
    let short: Vec<String> = m
        .classes
        .iter()
        .map(|c| c.name.chars().take(10).collect())
        .collect();
    println!(
        "{:<width$}  {}",
        "",
        short.iter().map(|s| format!("{s:>11}")).collect::<String>()
    );
    for (i, c) in m.classes.iter().enumerate() {
        let counts: String = m.confusion[i]
            .iter()
            .map(|v| format!("{:>11}", format_count(*v)))
            .collect();
        let norm: String = m.confusion_normalized[i]
            .iter()
            .map(|v| format!("{v:>7.3}"))
            .collect();
        println!("{:<width$}  {counts}   {norm}", c.name);
    }
}

fn format_count(v: f64) -> String {
    if (v - v.round()).abs() < 1e-9 {
        format!("{}", v.round() as i64)
    } else {
        format!("{v:.1}")
    }
}

fn print_comparison(dense: Option<&Metrics>, baselines: &[Baseline]) {
    println!(
        "{:<22}  {:>8}  {:>8}  {:>8}  {:>12}",
        "model", "accuracy", "macro F1", "macro AP", "macro PR-AUC"
    );
    let row = |name: &str, m: &Metrics, constant: bool| {
        let ap = m
            .macro_average_precision()
            .map(|a| format!("{a:.4}"))
            .unwrap_or_default();
        let auc = if constant {
            "*".to_string()
        } else {
            format!("{:.4}", m.macro_pr_auc())
        };
        println!(
            "{:<22}  {:>8.4}  {:>8.4}  {:>8}  {:>12}",
            name, m.accuracy, m.macro_avg.f1, ap, auc
        );
    };
    if let Some(m) = dense {
        row("dense net", m, false);
    }
    for b in baselines {
        row(&b.label, &b.metrics, b.constant_scores());
    }
    if baselines.iter().any(Baseline::constant_scores) {
        println!("* constant scores: the trapezoid PR-AUC is (1 + the class's share) / 2 whatever the model; average precision (AP) is the share, chance");
    }
}

pub fn print_evaluation(e: &Evaluation) {
    println!(
        "sweep {}, configuration {}{}",
        e.sweep,
        e.config_id,
        e.rank
            .map(|r| format!(" (rank {r} by {})", e.score_rule().describe()))
            .unwrap_or_default()
    );
    if let Some(cv) = &e.cv {
        println!(
            "cross-validation: val accuracy {:.4} ± {:.4}, train {:.4}, score {:.4}",
            cv.mean_val_accuracy,
            cv.std_val_accuracy,
            cv.mean_train_accuracy,
            e.score_rule()
                .score(cv.mean_train_accuracy, cv.mean_val_accuracy)
        );
    }
    let n = |v: &[usize]| v.iter().sum::<usize>();
    println!(
        "final training: {} epochs run, weights of epoch {} kept, {:.1} s{}; validation part ({} rows): accuracy {:.4}, loss {:.4}",
        e.final_run.history.len(),
        e.final_run.kept_epoch,
        e.final_run.fit_seconds,
        e.final_run.on_device(),
        n(&e.class_counts.validation),
        e.final_run.validation_accuracy,
        e.final_run.validation_loss
    );
    println!("\ntest part ({} rows), used once:", n(&e.class_counts.test));
    print_metrics(&e.final_run.test);
    println!("\nbaselines on the same split and preprocessing:");
    print_comparison(Some(&e.final_run.test), &e.baselines);
    if let Some(dir) = &e.model_dir {
        println!(
            "\nmodel saved in {} (classify new rows: gridsweep predict --model {} --data FILE.csv)",
            dir.display(),
            dir.display()
        );
    }
}

pub fn report(a: ReportArgs) -> Result<Outcome> {
    let rt = runtime()?;
    let (sweep, rule, config_id, stored) = rt.block_on(async {
        let store = Store::open_existing(&a.choice.db.db).await?;
        let sweep = pick_sweep(&store, a.choice.name.as_deref()).await?;
        let rows = store.configurations(sweep.id).await?;
        let rule = a.choice.score.rule(sweep::score_rule(&sweep)?)?;
        let config_id = choose(&rows, &a.choice, &rule, &sweep.name)?.config_id;
        let stored = if a.fresh || sweep.source.is_some() {
            None
        } else {
            sweep::evaluation::stored(&store, &sweep, &config_id).await?
        };
        store.close().await;
        anyhow::Ok((sweep, rule, config_id, stored))
    })?;
    let evaluation: Option<Evaluation> = if sweep.source.is_some() {
        eprintln!("gridsweep: sweep {} was imported: the report leaves out what needs its data or a model (evaluation, baselines)", sweep.name);
        None
    } else if let Some(e) = stored {
        eprintln!(
            "gridsweep: using the stored evaluation of {config_id} (--fresh evaluates again)"
        );
        Some(e)
    } else {
        let mut choice = a.choice.clone();
        choice.config = Some(config_id.clone());
        choice.rank = None;
        Some(evaluate_sweep(&choice, &a.baselines, &a.training)?)
    };
    let out = a
        .out
        .clone()
        .unwrap_or_else(|| beside_db(&a.choice.db.db, &format!("{}-report", sweep.name)));
    let page = rt.block_on(async {
        let store = Store::open_existing(&a.choice.db.db).await?;
        let request = sweep::report::Request {
            config_id: &config_id,
            rule,
            evaluation: evaluation.as_ref(),
            top: a.top,
        };
        let page = sweep::report::write(&store, &sweep, &request, &out).await;
        store.close().await;
        anyhow::Ok(page?)
    })?;
    println!("{}", page.display());
    eprintln!(
        "gridsweep: report written; open {} in a browser",
        page.display()
    );
    Ok(Outcome::Ok)
}
