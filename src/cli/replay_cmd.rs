//! `gridsweep replay`: a search strategy evaluated on a sweep's recorded full runs,
//! without training (see `crate::sweep::replay`).

use super::sweep_cmd::{pick_sweep, print_aligned, runtime, DbArg};
use super::Outcome;
use crate::store::Store;
use crate::sweep::{self, replay::Strategy};
use anyhow::{Context, Result};
use clap::Args;
use serde_json::json;

#[derive(Args, Debug)]
pub struct ReplayArgs {
    /// A sweep whose configurations ran to their end (notebook protocol).
    pub name: Option<String>,
    #[command(flatten)]
    pub db: DbArg,
    /// The strategy, as a spec's `search` section: {"strategy": "halving", "factor": 3,
    /// "min_epochs": 5}, {"strategy": "hyperband", "factor": 3, "min_epochs": 5} or {"strategy": "race"} (its settings as a spec's);
    /// with --seen also {"strategy": "grid"} (the plain k-fold grid) or {"strategy": "grid", "repeats": R}.
    #[arg(long)]
    pub strategy: String,
    /// Replay on this many configurations drawn at random, --repeats times (default:
    /// once, on all of them; a sample above the sweep's configurations is all of them,
    /// and the output says so).
    #[arg(long, value_parser = super::positive)]
    pub sample: Option<usize>,
    /// How many random sub-samples with --sample.
    #[arg(long, default_value_t = 200, value_parser = super::positive)]
    pub repeats: usize,
    /// Seed of the sub-samples (and of hyperband's brackets).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Held out: judge the strategy (`race`, `halving`, `hyperband`, or `{"strategy":
    /// "grid"}` for the plain k-fold grid) by the folds of the repeats from this one on,
    /// which it does not see (once on all the configurations, or --repeats times on
    /// --sample of them; the sweep needs `cv.repeats` above it).
    #[arg(long, value_parser = super::positive)]
    pub seen: Option<usize>,
    #[command(flatten)]
    pub score: super::sweep_cmd::ScoreArgs,
    /// With --seen (race and grid): judge on this many rotations of the held-out
    /// repeats (every way to hold out the repeats after --seen's count, or a seeded
    /// draw of this many of them), each reported, with their spread.
    #[arg(long, value_parser = super::positive, requires = "seen")]
    pub rotations: Option<usize>,
    /// Print one JSON document.
    #[arg(long)]
    pub json: bool,
}

pub fn replay(a: ReplayArgs) -> Result<Outcome> {
    let value: serde_json::Value = serde_json::from_str(&a.strategy)
        .with_context(|| format!("--strategy {}: not JSON", a.strategy))?;
    let name = value
        .get("strategy")
        .and_then(|s| s.as_str())
        .unwrap_or_default();
    if name == "race" || name == "grid" {
        return replay_folds(&a, &value);
    }
    let strategy: Strategy = serde_json::from_str(&a.strategy)
        .with_context(|| format!("--strategy {}: expected {{\"strategy\": \"halving\" or \"hyperband\", \"factor\": 3, \"min_epochs\": 5}}", a.strategy))?;
    strategy
        .check()
        .map_err(|m| anyhow::anyhow!("--strategy: {m}"))?;
    let rt = runtime()?;
    let (sweep, curves) = rt.block_on(async {
        let store = Store::open_existing(&a.db.db).await?;
        let sweep = pick_sweep(&store, a.name.as_deref()).await?;
        let curves = sweep::replay::curves(&store, &sweep).await?;
        store.close().await;
        anyhow::Ok((sweep, curves))
    })?;
    if curves.is_empty() {
        anyhow::bail!(
            "sweep `{}` has no configuration that ran to its end: nothing to replay",
            sweep.name
        );
    }
    sample_note(a.sample, curves.len());
    // The sweep's rule, or the one `--w1/--w2/--delta` make of it (as `rank`).
    let rule = a.score.rule(sweep::score_rule(&sweep)?)?;
    let mut curves = curves;
    sweep::replay::rescore(&mut curves, &rule);
    let shown = serde_json::to_string(&strategy)?;
    if let Some(seen) = a.seen {
        let k = sweep::stored_spec(&sweep)?.cv.folds;
        return held_out(
            &a,
            &sweep,
            &curves,
            &sweep::replay::Judged::Halving(strategy),
            &rule,
            k,
            seen,
            &serde_json::to_value(strategy)?,
        );
    }
    if let Some(n) = a.sample {
        let s = sweep::replay::replay_many(&strategy, &curves, &rule, n, a.repeats, a.seed)
            .map_err(anyhow::Error::msg)?;
        if a.json {
            println!(
                "{}",
                serde_json::to_string_pretty(
                    &json!({"name": sweep.name, "strategy": strategy, "configurations": curves.len(), "summary": s})
                )?
            );
            return Ok(Outcome::Ok);
        }
        println!(
            "replay of {shown} on sweep {}: {} repeats on random samples of {} of its {} full runs",
            sweep.name,
            s.repeats,
            s.sample,
            curves.len()
        );
        println!("regret (sample's best score − the strategy's winner's): mean {:.5}, 95th percentile {:.5}", s.mean_regret, s.p95_regret);
        println!(
            "winner within 0.002 of the sample's best in {:.1}% of repeats",
            100.0 * s.within_0002
        );
        println!(
            "fold-epochs trained: {:.1}% of the full runs'",
            100.0 * s.fold_epoch_share
        );
        let rho: Vec<String> = s
            .spearman
            .iter()
            .enumerate()
            .map(|(r, x)| {
                format!(
                    "rung {r} {}",
                    x.map(|x| format!("{x:.2}")).unwrap_or_else(|| "-".into())
                )
            })
            .collect();
        println!(
            "Spearman of rung scores with full-run scores (first bracket, mean): {}",
            rho.join(", ")
        );
        return Ok(Outcome::Ok);
    }
    let all: Vec<&sweep::replay::Curve> = curves.iter().collect();
    let o = sweep::replay::replay(&strategy, &all, &rule, a.seed).map_err(anyhow::Error::msg)?;
    if a.json {
        println!(
            "{}",
            serde_json::to_string_pretty(
                &json!({"name": sweep.name, "strategy": strategy, "configurations": curves.len(), "outcome": o})
            )?
        );
        return Ok(Outcome::Ok);
    }
    println!(
        "replay of {shown} on sweep {}: its {} full runs",
        sweep.name,
        curves.len()
    );
    let brackets = o
        .rung_scores
        .iter()
        .map(|r| r.bracket)
        .max()
        .map_or(0, |b| b + 1);
    let header: Vec<String> = [
        "bracket",
        "rung",
        "configurations",
        "epochs",
        "promoted",
        "Spearman",
    ]
    .map(String::from)
    .to_vec();
    let mut table = Vec::new();
    for b in 0..brackets {
        let rungs = o
            .rung_scores
            .iter()
            .filter(|r| r.bracket == b)
            .map(|r| r.rung)
            .max()
            .map_or(0, |r| r + 1);
        for r in 0..rungs {
            let at: Vec<_> = o
                .rung_scores
                .iter()
                .filter(|x| x.bracket == b && x.rung == r)
                .collect();
            table.push(vec![
                b.to_string(),
                r.to_string(),
                at.len().to_string(),
                at.iter()
                    .filter_map(|x| x.resource_epochs)
                    .max()
                    .map(|e| e.to_string())
                    .unwrap_or_default(),
                at.iter().filter(|x| x.promoted).count().to_string(),
                if b == 0 {
                    o.spearman
                        .get(r as usize)
                        .copied()
                        .flatten()
                        .map(|x| format!("{x:.2}"))
                        .unwrap_or_else(|| "-".into())
                } else {
                    String::new()
                },
            ]);
        }
    }
    print_aligned(&header, &table, "  ");
    match &o.winner {
        Some((id, score)) => println!(
            "winner {id}, full-run score {score:.5}; the best full run {} {:.5}; regret {:.5}",
            o.best.0, o.best.1, o.regret
        ),
        None => println!(
            "no configuration reached its end; the best full run {} {:.5}",
            o.best.0, o.best.1
        ),
    }
    println!(
        "fold-epochs trained: {} of the full runs' {} ({:.1}%)",
        o.fold_epochs,
        o.full_fold_epochs,
        100.0 * o.fold_epochs as f64 / o.full_fold_epochs.max(1) as f64
    );
    Ok(Outcome::Ok)
}

/// A race (or the plain grid, held out) replayed on a sweep's folds: any protocol, since
/// neither stops a fold early.
fn replay_folds(a: &ReplayArgs, value: &serde_json::Value) -> Result<Outcome> {
    // The grid judged held out may repeat its k-fold (`"repeats": R`, replay's own key).
    let mut checked = value.clone();
    let grid_repeats = match checked.as_object_mut() {
        Some(o) if o.get("strategy").and_then(|s| s.as_str()) == Some("grid") => {
            match o.remove("repeats") {
                None => 1,
                Some(r) => r
                    .as_u64()
                    .filter(|&r| r >= 1)
                    .ok_or_else(|| anyhow::anyhow!("--strategy: repeats: expected an integer ≥ 1 (the seen repeats the grid averages over), got {r}"))?
                    as usize,
            }
        }
        _ => 1,
    };
    let value = &checked;
    crate::search::check_json(value).map_err(|(k, m)| {
        anyhow::anyhow!(
            "--strategy: {}{m}",
            if k.is_empty() {
                String::new()
            } else {
                format!("{k}: ")
            }
        )
    })?;
    let search: crate::search::Search = serde_json::from_value(value.clone())
        .with_context(|| format!("--strategy {}", a.strategy))?;
    search
        .check()
        .map_err(|m| anyhow::anyhow!("--strategy: {m}"))?;
    let rt = runtime()?;
    let (sweep, curves) = rt.block_on(async {
        let store = Store::open_existing(&a.db.db).await?;
        let sweep = pick_sweep(&store, a.name.as_deref()).await?;
        let curves = sweep::replay::complete_folds(&store, &sweep).await?;
        store.close().await;
        anyhow::Ok((sweep, curves))
    })?;
    if curves.is_empty() {
        anyhow::bail!(
            "sweep `{}` has no complete configuration: nothing to replay",
            sweep.name
        );
    }
    sample_note(a.sample, curves.len());
    // The sweep's rule, or the one `--w1/--w2/--delta` make of it (as `rank`).
    let rule = a.score.rule(sweep::score_rule(&sweep)?)?;
    let mut curves = curves;
    sweep::replay::rescore(&mut curves, &rule);
    let spec = sweep::stored_spec(&sweep)?;
    let k = spec.cv.folds;
    let shown = serde_json::to_string(value)?;
    let judged = match search.race() {
        Some(r) => sweep::replay::Judged::Race(r),
        None => sweep::replay::Judged::Grid(grid_repeats),
    };
    // (Shown as given, with the grid's repeats.)
    let value = &a.strategy.parse::<serde_json::Value>()?;
    if let Some(seen) = a.seen {
        // The truth is every repeat: the configurations that have all their folds only,
        // and the replay says which it left out.
        let most = curves.iter().map(|c| c.folds.len()).max().unwrap_or(0);
        let (complete, short): (Vec<sweep::replay::Curve>, Vec<sweep::replay::Curve>) = curves
            .iter()
            .cloned()
            .partition(|c| c.complete && c.folds.len() == most);
        if !short.is_empty() {
            let ids: Vec<&str> = short.iter().take(5).map(|c| c.config_id.as_str()).collect();
            eprintln!(
                "gridsweep: note: {} of the sweep's {} configurations have fewer than {most} folds (dropped by a race, or rows with splits missing: {}{}) and are left out of the held-out judgement",
                short.len(),
                curves.len(),
                ids.join(", "),
                if short.len() > 5 { ", …" } else { "" }
            );
        }
        return held_out(a, &sweep, &complete, &judged, &rule, k, seen, value);
    }
    let sweep::replay::Judged::Race(race) = judged else {
        anyhow::bail!(
            "--strategy {shown}: the plain grid is replayed held out only (--seen R --sample N)"
        );
    };
    let max_folds = race.max_folds(k, spec.cv.repeats);
    let dims = if race.ties.prefer == crate::tieset::Prefer::Smallest {
        sweep::ranking::data_dims(&sweep)
    } else {
        None
    };
    let parameters = |c: &sweep::replay::Curve| -> Option<usize> {
        let (nf, nc) = dims?;
        let obj = crate::config::params_object(&c.params_json).ok()?;
        Some(
            crate::params::HyperParams::from_object(&obj)
                .ok()?
                .parameter_count(nf, nc),
        )
    };
    let all: Vec<&sweep::replay::Curve> = curves.iter().collect();
    let r = sweep::replay::replay_race(&race, &all, &rule, k, max_folds, &parameters)
        .map_err(anyhow::Error::msg)?;
    if a.json {
        println!(
            "{}",
            serde_json::to_string_pretty(
                &json!({"name": sweep.name, "strategy": value, "configurations": curves.len(), "race": r})
            )?
        );
        return Ok(Outcome::Ok);
    }
    println!(
        "replay of {shown} on sweep {}: its {} configurations, up to {max_folds} folds each",
        sweep.name,
        curves.len()
    );
    let dropped: Vec<String> = r
        .dropped
        .iter()
        .map(|(id, n)| format!("{id} after {n}"))
        .collect();
    println!(
        "dropped as credibly worse: {}",
        if dropped.is_empty() {
            "none".into()
        } else {
            dropped.join(", ")
        }
    );
    println!(
        "left after {} folds: {} ({})",
        r.folds,
        r.left.join(", "),
        r.ended
    );
    if let Some(t) = &r.tie_set {
        println!(
            "tie set: {} of {}; pick ({}): {}, {}",
            t.members.len(),
            r.left.len(),
            t.settings.prefer.name(),
            t.pick,
            t.why
        );
    }
    println!(
        "fold-fits: {} ({:.2}× the plain {k}-fold grid's {})",
        r.fold_fits,
        r.fold_fits as f64 / (curves.len() * k) as f64,
        curves.len() * k
    );
    Ok(Outcome::Ok)
}

/// A `--sample` above the configurations there are draws all of them, every time: said.
fn sample_note(sample: Option<usize>, configurations: usize) {
    if let Some(n) = sample.filter(|n| *n > configurations) {
        eprintln!(
            "gridsweep: note: --sample {n} is above the sweep's {configurations} configurations: every sub-sample is all of them"
        );
    }
}

/// A strategy judged on the repeats from `seen` on, which it does not see (`--seen`).
#[allow(clippy::too_many_arguments)]
fn held_out(
    a: &ReplayArgs,
    sweep: &crate::store::SweepRow,
    curves: &[sweep::replay::Curve],
    judged: &sweep::replay::Judged,
    rule: &crate::score::ScoreRule,
    k: usize,
    seen: usize,
    value: &serde_json::Value,
) -> Result<Outcome> {
    let n = a.sample.unwrap_or(curves.len());
    if let Some(most) = a.rotations {
        return rotations(a, sweep, curves, judged, rule, k, seen, value, n, most);
    }
    let h = sweep::replay::held_out(
        judged,
        curves,
        rule,
        k,
        seen,
        n,
        if a.sample.is_some() { a.repeats } else { 1 },
        a.seed,
    )
    .map_err(anyhow::Error::msg)?;
    if a.json {
        println!(
            "{}",
            serde_json::to_string_pretty(
                &json!({"name": sweep.name, "strategy": value, "configurations": curves.len(), "seen": seen, "held_out": h})
            )?
        );
        return Ok(Outcome::Ok);
    }
    println!(
        "replay of {} on sweep {}: {} of {} of its {} configurations, seeing {}, judged on the others",
        serde_json::to_string(value)?,
        sweep.name,
        crate::text::count(h.repeats, "sub-sample", "sub-samples"),
        h.sample,
        curves.len(),
        if seen == 1 { "repeat 0".to_string() } else { format!("repeats 0–{}", seen - 1) }
    );
    println!(
        "regret against the held-out truth: mean {:.5}, 95th percentile {:.5}",
        h.mean_regret, h.p95_regret
    );
    println!(
        "pick in the truth's tie set: {:.1}%; truth's best kept: {:.1}% (among {:.1} left on average)",
        100.0 * h.pick_in_truth_ties,
        100.0 * h.truth_best_kept,
        h.mean_left
    );
    println!(
        "fold-fits: {:.2}× the plain {k}-fold grid's",
        h.fold_fit_ratio
    );
    Ok(Outcome::Ok)
}

/// `--seen R --rotations N`: the held-out judgement on each rotation of the held-out
/// repeats, and its spread.
// The parsed flags and what `replay_folds` read, passed through once (as `held_out`).
#[allow(clippy::too_many_arguments)]
fn rotations(
    a: &ReplayArgs,
    sweep: &crate::store::SweepRow,
    curves: &[sweep::replay::Curve],
    judged: &sweep::replay::Judged,
    rule: &crate::score::ScoreRule,
    k: usize,
    seen: usize,
    value: &serde_json::Value,
    n: usize,
    most: usize,
) -> Result<Outcome> {
    let rs = sweep::replay::held_out_rotations(
        judged,
        curves,
        rule,
        k,
        seen,
        n,
        if a.sample.is_some() { a.repeats } else { 1 },
        a.seed,
        most,
    )
    .map_err(anyhow::Error::msg)?;
    let regrets: Vec<f64> = rs.iter().map(|r| r.result.mean_regret).collect();
    let (mean, sd) = crate::score::mean_std(&regrets);
    let ratio = rs.iter().map(|r| r.result.fold_fit_ratio).sum::<f64>() / rs.len().max(1) as f64;
    let lo = regrets.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = regrets.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if a.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "name": sweep.name, "strategy": value, "configurations": curves.len(), "seen": seen,
                "rotations": rs,
                "mean_regret": {"mean": mean, "sd": sd, "min": lo, "max": hi},
                "fold_fit_ratio": ratio,
            }))?
        );
        return Ok(Outcome::Ok);
    }
    println!(
        "replay of {} on sweep {}: {} rotation(s) of the held-out repeats, each {} of {} of its {} configurations, seeing {seen} repeat(s)",
        serde_json::to_string(value)?,
        sweep.name,
        rs.len(),
        crate::text::count(rs.first().map_or(0, |r| r.result.repeats), "sub-sample", "sub-samples"),
        rs.first().map_or(0, |r| r.result.sample),
        curves.len()
    );
    let header: Vec<String> = [
        "held out",
        "mean regret",
        "95th pct",
        "pick in truth's ties",
        "truth's best kept",
        "left",
        "fold-fits / grid",
    ]
    .map(String::from)
    .to_vec();
    let table: Vec<Vec<String>> = rs
        .iter()
        .map(|r| {
            let h = &r.result;
            vec![
                r.held_out
                    .iter()
                    .map(|x| x.to_string())
                    .collect::<Vec<_>>()
                    .join(","),
                format!("{:.5}", h.mean_regret),
                format!("{:.5}", h.p95_regret),
                format!("{:.1}%", 100.0 * h.pick_in_truth_ties),
                format!("{:.1}%", 100.0 * h.truth_best_kept),
                format!("{:.1}", h.mean_left),
                format!("{:.2}", h.fold_fit_ratio),
            ]
        })
        .collect();
    print_aligned(&header, &table, "  ");
    println!(
        "mean regret over the rotations: {mean:.5} (sd {sd:.5}, {lo:.5} to {hi:.5}); fold-fits {ratio:.2}× the plain {k}-fold grid's"
    );
    Ok(Outcome::Ok)
}
