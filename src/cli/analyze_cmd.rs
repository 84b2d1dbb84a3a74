//! `gridsweep analyze`: how sure the choice is and what mattered (see `crate::analyze`).

use super::sweep_cmd::{pick_sweep, print_aligned, runtime, DbArg, ScoreArgs};
use super::Outcome;
use crate::analyze::sensitivity::w1_text;
use crate::spec::Spec;
use crate::store::Store;
use crate::sweep;
use anyhow::Result;
use clap::Args;
use serde_json::json;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct AnalyzeArgs {
    /// The sweep (default: the only one in the database).
    pub name: Option<String>,
    #[command(flatten)]
    pub db: DbArg,
    #[command(flatten)]
    pub score: ScoreArgs,
    /// A spec whose sub-grids the configurations are analysed in (default: the sweep's
    /// own; give one for an imported sweep, e.g. search-spaces/genre-factor.json for
    /// the study's file).
    #[arg(long)]
    pub spec: Option<PathBuf>,
    /// Compare the best K with the winner on their fold scores (the winner included).
    #[arg(long, default_value_t = 10)]
    pub top: usize,
    /// Test the best --top against this configuration (an id or its prefix) instead of
    /// rank 1: e.g. the study's own choice in a rerun of its best.
    #[arg(long, value_name = "ID")]
    pub against: Option<String>,
    /// Seed of the importance forests.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Print one JSON document instead of the text.
    #[arg(long)]
    pub json: bool,
}

fn short(id: &str) -> &str {
    crate::domain::short_id(id)
}

pub fn analyze(a: AnalyzeArgs) -> Result<Outcome> {
    let spec = a.spec.as_deref().map(Spec::load).transpose()?;
    let rt = runtime()?;
    let (sweep, rule, done) = rt.block_on(async {
        let store = Store::open_existing(&a.db.db).await?;
        let sweep = pick_sweep(&store, a.name.as_deref()).await?;
        let rule = a.score.rule(sweep::score_rule(&sweep)?)?;
        let done = sweep::analysis::analyze(
            &store,
            &sweep,
            &rule,
            spec.as_ref(),
            a.top,
            a.seed,
            a.against.as_deref(),
        )
        .await;
        store.close().await;
        anyhow::Ok((sweep, rule, done?))
    })?;
    let an = &done.analysis;
    if a.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "name": sweep.name, "w1": rule.w1, "w2": rule.w2, "delta": rule.delta,
                "subgrids": done.subgrids.iter().map(|(n, k)| json!({"name": n, "configurations": k})).collect::<Vec<_>>(),
                "shared": done.shared, "outside": done.outside, "folds": done.folds,
                "analysis": an,
                "tie_set": done.tie_set,
            }))?
        );
        return Ok(Outcome::Ok);
    }
    println!(
        "sweep {}: {} complete configurations; {}",
        sweep.name,
        an.configurations,
        rule.describe()
    );
    if an.configurations == 0 {
        return Ok(Outcome::Ok);
    }
    if !done.subgrids.is_empty() {
        let sizes: Vec<String> = done
            .subgrids
            .iter()
            .map(|(n, k)| format!("{n} {k}"))
            .collect();
        println!(
            "sub-grids: {}; {} configuration(s) in more than one, {} in none",
            sizes.join(", "),
            done.shared,
            done.outside
        );
    }

    if let Some(s) = &an.sensitivity {
        println!(
            "\nWho wins as the weights change (w = w1 / (w1 + w2); this sweep's w = {:.4}):",
            s.w
        );
        let rows: Vec<Vec<String>> = s
            .intervals
            .iter()
            .enumerate()
            .map(|(i, iv)| {
                vec![
                    format!("{:.4} – {:.4}", iv.from, iv.to),
                    format!(
                        "{} – {}",
                        w1_text(iv.from, rule.w2),
                        w1_text(iv.to, rule.w2)
                    ),
                    short(&iv.config_id).to_string(),
                    iv.rank.to_string(),
                    if i == s.current {
                        "← this sweep's weights".into()
                    } else {
                        String::new()
                    },
                ]
            })
            .collect();
        print_aligned(
            &[
                "w".into(),
                format!("w1 (w2 = {})", rule.w2),
                "winner".into(),
                "rank".into(),
                String::new(),
            ],
            &rows,
            "  ",
        );
        let cur = &s.intervals[s.current];
        println!(
            "  {} stays first for w in [{:.4}, {:.4}] (w1 from {} to {} at w2 = {}): {:.4} below and {:.4} above this sweep's w",
            short(&cur.config_id), cur.from, cur.to, w1_text(cur.from, rule.w2), w1_text(cur.to, rule.w2), rule.w2, s.margin_down, s.margin_up
        );
    }

    println!(
        "\nPareto front of (val accuracy ↑, |Δacc| ↓): {} configuration(s) no other beats on both",
        an.pareto.len()
    );
    let rows: Vec<Vec<String>> = an
        .pareto
        .iter()
        .map(|p| {
            vec![
                p.rank.to_string(),
                format!("{:.4}", p.score),
                format!("{:.4}", p.val_accuracy),
                format!("{:.4}", p.abs_delta),
                short(&p.config_id).to_string(),
            ]
        })
        .collect();
    print_aligned(
        &[
            "rank".into(),
            "score".into(),
            "val acc".into(),
            "|Δacc|".into(),
            "id".into(),
        ],
        &rows,
        "  ",
    );

    for g in &an.groups {
        let title = if g.name == "all" {
            "the whole sweep".to_string()
        } else {
            format!("sub-grid {}", g.name)
        };
        println!(
            "\nImportance in {title} ({}; fANOVA, share of variance):",
            crate::text::count(g.configurations, "configuration", "configurations")
        );
        for t in &g.importance {
            let parts: Vec<String> = t
                .importances
                .iter()
                .map(|i| format!("{} {:.3}", i.param, i.importance))
                .collect();
            println!(
                "  {:<15} {}",
                t.target,
                if parts.is_empty() {
                    "(nothing varies, or nothing to explain)".to_string()
                } else {
                    parts.join(", ")
                }
            );
        }
        println!("  Mean score by value (95 % interval; n):");
        for m in &g.marginals {
            let parts: Vec<String> = m
                .values
                .iter()
                .map(|v| {
                    // As the tables and exports write values (1e-05, not 0.00001), and the
                    // default a canonical form leaves out by its name (protocol
                    // gridsearchcv), not `null`.
                    let value = match &v.value {
                        serde_json::Value::Null => crate::params::omitted_default(&m.param)
                            .unwrap_or("(none)")
                            .to_string(),
                        other => crate::export::display_value(other),
                    };
                    match (v.ci_low, v.ci_high) {
                        (Some(lo), Some(hi)) => {
                            format!("{value}: {:.4} [{lo:.4}, {hi:.4}] n {}", v.mean, v.n)
                        }
                        _ => format!("{value}: {:.4} n {}", v.mean, v.n),
                    }
                })
                .collect();
            println!("    {}: {}", m.param, parts.join(" · "));
        }
    }

    match &an.comparisons_note {
        Some(note) => println!("\nIs the winner better? Not computed: {note}"),
        None => {
            let reference = an.winner.as_deref().map(short).unwrap_or_default();
            println!(
                "\nIs {reference} better? Its fold scores against {} of the best {} (corrected resampled t-test, one-sided p; Bayesian correlated t-test, P(it beats {reference}), each row's own probability of being the better one):",
                crate::text::count(an.comparisons.len(), "other", "others"),
                a.top
            );
            let rows: Vec<Vec<String>> = an
                .comparisons
                .iter()
                .map(|c| match &c.test {
                    Some(t) => vec![
                        c.rank.to_string(),
                        short(&c.config_id).to_string(),
                        format!("{:.4}", c.score),
                        format!("{:+.4}", t.mean),
                        t.t.map_or("–".into(), |x| format!("{x:.2}")),
                        t.p_value.map_or("–".into(), |x| format!("{x:.3}")),
                        format!("{:.3}", 1.0 - t.p_first_better),
                        t.n.to_string(),
                    ],
                    None => vec![
                        c.rank.to_string(),
                        short(&c.config_id).to_string(),
                        format!("{:.4}", c.score),
                        "folds not paired".into(),
                    ],
                })
                .collect();
            print_aligned(
                &[
                    "rank".into(),
                    "id".into(),
                    "score".into(),
                    format!("{reference} −"),
                    "t".into(),
                    "p".into(),
                    format!("P(it beats {reference})"),
                    "folds".into(),
                ],
                &rows,
                "  ",
            );
        }
    }
    match &done.tie_set {
        Some(t) => {
            println!();
            let race = crate::sweep::stored_spec(&sweep).is_ok_and(|s| s.search.race().is_some());
            super::view_cmd::print_tie_set(
                t,
                done.folds,
                race,
                &sweep.name,
                &super::sweep_cmd::db_hint(&a.db.db),
            );
            let rows: Vec<Vec<String>> = t
                .verdicts
                .iter()
                .filter(|v| v.tied)
                .take(a.top.max(10))
                .map(|v| {
                    vec![
                        v.rank.to_string(),
                        short(&v.config_id).to_string(),
                        format!("{:.4}", v.score),
                        if v.config_id == t.leader {
                            "leader".into()
                        } else {
                            format!("{:.2}", v.p_not_worse)
                        },
                        format!("{:.2}", v.p_equivalent),
                    ]
                })
                .collect();
            print_aligned(
                &[
                    "rank".into(),
                    "id".into(),
                    "score".into(),
                    "tie".into(),
                    "P(within ±rope)".into(),
                ],
                &rows,
                "  ",
            );
            if t.members.len() > rows.len() {
                println!(
                    "  … and {} more (`gridsweep rank` lists them all)",
                    t.members.len() - rows.len()
                );
            }
        }
        None => println!(
            "\nNo tie set: no fold scores to compare (an HPO_combined import keeps means only)."
        ),
    }
    Ok(Outcome::Ok)
}
