//! Registering a spec's sweep: what may continue a recorded sweep and what may not.
//!
//! A sweep's name is its identity across runs and machines, so a spec under a recorded
//! name must describe the same sweep: the same data (by fingerprint), folds, seed and
//! search; a random sample may grow; a successive-halving sweep under way keeps its
//! configurations (its rungs rank a fixed set). The one exception is a sweep nothing
//! came of (no done fold, no live worker): a corrected spec replaces it, so a first
//! run that failed does not block its name.

use super::{Result, SweepError};
use crate::config::Config;
use crate::search::Search;
use crate::spec::{Expansion, Spec};
use crate::store::{Rung0Budget, Store, SweepRow};

/// What [`register`] did.
#[derive(Debug, Clone)]
pub struct Registered {
    pub sweep_id: i64,
    /// Configurations added by this spec (all of them for a new sweep).
    pub new_configs: usize,
    /// A recorded sweep of that name, of which nothing had come, was replaced: why it
    /// could not have continued.
    pub replaced: Option<String>,
}

/// Reads and splits the spec's data as a run would, before anything is written: a
/// spec whose data cannot be used fails here, with nothing recorded.
pub fn check_data(spec: &Spec) -> Result<crate::data::Prepared> {
    Ok(crate::data::prepare(&spec.dataset, spec.cv.folds)?)
}

/// Records a spec's sweep and its new configurations (their folds pending), refusing a
/// sweep of that name that it cannot continue ([`SweepError::Conflict`]). `db_hint` is
/// how commands name this database (` --db …`, or nothing for the default), for the
/// messages' suggestions. Callers check the data ([`check_data`]) first.
pub async fn register(
    store: &Store,
    spec: &Spec,
    expansion: &Expansion,
    retry_failed: bool,
    db_hint: &str,
) -> Result<Registered> {
    let fingerprint = crate::data::fingerprint(&spec.dataset)?;
    let spec_json = serde_json::to_string(spec).map_err(|e| SweepError::StoredSpec {
        name: spec.name.clone(),
        why: e.to_string(),
    })?;
    let (configs, bracket_of) = selection(spec, expansion);
    // A race's budget must pay for its first stage (nothing is recorded otherwise).
    if let Some(r) = spec.search.race() {
        let trainings = configs
            .iter()
            .map(|c| &c.training_key)
            .collect::<std::collections::HashSet<_>>()
            .len();
        r.budget_fits(trainings, spec.cv.folds, spec.cv.repeats)
            .map_err(|why| SweepError::Spec(format!("search.{why}")))?;
    }
    let mut replaced = None;
    if let Some(row) = store.sweep_by_name(&spec.name).await? {
        if let Some(why) = conflict(store, &row, spec, &fingerprint, &configs, db_hint).await? {
            let c = store.counts(row.id).await?;
            // (An imported sweep has no folds, but it is results: never replaced.)
            if row.source.is_some() || c.done > 0 || store.live_running(row.id).await? > 0 {
                return Err(SweepError::Conflict(why));
            }
            store.delete_sweep(row.id).await?;
            replaced = Some(why);
        }
    }
    let row = store
        .ensure_sweep(
            &spec.name,
            &spec_json,
            &fingerprint,
            spec.cv.total(),
            spec.seed,
        )
        .await?;
    // Two processes registering at once: the other may have created it differently.
    if let Some(why) = conflict(store, &row, spec, &fingerprint, &configs, db_hint).await? {
        return Err(SweepError::Conflict(why));
    }
    let brackets: Vec<_> = spec
        .search
        .brackets(crate::search::max_epochs(&expansion.configs))
        .into_iter()
        .map(|b| b.0)
        .collect();
    let rung0 = |c: &Config| {
        let b = bracket_of.get(&c.id).copied().unwrap_or(0);
        (
            b as i64,
            Some(brackets[b].budget(0, c.params.epochs) as i64),
        )
    };
    // A race: every configuration starts with its first folds at full epochs; the
    // barriers create the others.
    let race0 = |_: &Config| (0i64, None);
    let (folds, staged) = match spec.search.race() {
        Some(r) => (
            r.first_folds(spec.cv.folds, spec.cv.repeats),
            Some(&race0 as &Rung0Budget),
        ),
        None => (
            spec.cv.total(),
            (!brackets.is_empty()).then_some(&rung0 as &Rung0Budget),
        ),
    };
    let new_configs = store
        .add_configs_with(row.id, &configs, folds, staged)
        .await?;
    let prefer = |s: &Spec| s.search.race().map(|r| r.ties.prefer);
    let stored = serde_json::from_str::<Spec>(&row.spec_json).ok();
    if new_configs > 0 || stored.is_some_and(|s| prefer(&s) != prefer(spec)) {
        store.update_spec(row.id, &spec_json).await?;
    }
    if retry_failed {
        store.requeue_failed(row.id).await?;
    }
    Ok(Registered {
        sweep_id: row.id,
        new_configs,
        replaced,
    })
}

/// The configurations the spec's search trains, in the order they are recorded, and
/// the bracket of each (Hyperband's; absent: bracket 0). Hyperband deals its draw to
/// the brackets in draw order and records them in grid order, so that ties at a rung
/// go by grid position as in every other search.
fn selection(
    spec: &Spec,
    expansion: &Expansion,
) -> (Vec<Config>, std::collections::HashMap<String, usize>) {
    let mut configs = spec
        .search
        .select(&expansion.configs, &expansion.subgrid, spec.seed);
    let mut bracket_of = std::collections::HashMap::new();
    if let Search::Hyperband { .. } = spec.search {
        let dealt = spec
            .search
            .assign(&configs, crate::search::max_epochs(&expansion.configs));
        bracket_of = configs
            .iter()
            .zip(dealt)
            .map(|(c, b)| (c.id.clone(), b))
            .collect();
        let grid_order: std::collections::HashMap<&str, usize> = expansion
            .configs
            .iter()
            .enumerate()
            .map(|(i, c)| (c.id.as_str(), i))
            .collect();
        configs.sort_by_key(|c| grid_order.get(c.id.as_str()).copied().unwrap_or(usize::MAX));
    }
    (configs, bracket_of)
}

/// Why `spec` cannot continue the recorded sweep `row` (other data, folds, seed or
/// search, or configurations added to a halving sweep under way), if it cannot.
async fn conflict(
    store: &Store,
    row: &SweepRow,
    spec: &Spec,
    fingerprint: &str,
    configs: &[Config],
    db_hint: &str,
) -> Result<Option<String>> {
    if let Some(source) = &row.source {
        return Ok(Some(format!(
            "sweep `{}` in {} was imported from {source}: it holds results made elsewhere and runs nothing. Give the spec another `name`",
            spec.name,
            store.name()
        )));
    }
    if row.dataset_fingerprint != fingerprint {
        return Ok(Some(format!(
            "sweep `{}` in {} was run on different data (dataset fingerprint {}…, now {}…): \
             the file or the dataset options changed. Give the spec another `name` to start a new sweep \
             (or remove the old one: `gridsweep delete {}{}`)",
            spec.name,
            store.name(),
            crate::domain::short_id(&row.dataset_fingerprint),
            crate::domain::short_id(fingerprint),
            spec.name,
            db_hint
        )));
    }
    // Folds × repeats are stored; the stored spec tells 6 folds from 3 twice.
    let stored_cv = serde_json::from_str::<serde_json::Value>(&row.spec_json)
        .ok()
        .and_then(|v| v.get("cv").cloned())
        .and_then(|cv| serde_json::from_value::<crate::spec::CvSection>(cv).ok())
        .unwrap_or(crate::spec::CvSection {
            folds: row.folds as usize,
            repeats: 1,
            splitter: Default::default(),
        });
    let describe = |cv: &crate::spec::CvSection| {
        let kind = if cv.splitter.is_default() {
            ""
        } else {
            " (KFold)"
        };
        if cv.repeats > 1 {
            format!("{} folds × {} repeats{kind}", cv.folds, cv.repeats)
        } else {
            format!("{} folds{kind}", cv.folds)
        }
    };
    if row.folds as usize != spec.cv.total()
        || stored_cv.folds != spec.cv.folds
        || stored_cv.splitter != spec.cv.splitter
        || row.seed as u64 != spec.seed
    {
        return Ok(Some(format!(
            "sweep `{}` was run with {} and seed {}; this spec asks for {} and seed {}. \
             Results would not be comparable: give the spec another `name`.",
            spec.name,
            describe(&stored_cv),
            row.seed,
            describe(&spec.cv),
            spec.seed
        )));
    }
    // The strategy of a sweep is part of what it is: a sweep started as a grid does not
    // become a halving one, nor does a halving sweep change its configurations (its
    // rungs rank a fixed set). A random sweep may raise its `n`.
    // (A stored spec this version cannot read, one of an older format, is not held
    // against the new one: the fingerprint, folds and seed above already matched.)
    let Ok(before) = serde_json::from_str::<Spec>(&row.spec_json) else {
        return Ok(None);
    };
    if store.config_count(row.id).await? == 0 {
        return Ok(None);
    }
    // The score rule made the recorded summaries, the tie set and a staged search's
    // decisions (halving's promotions, a race's drops): another rule is refused, and
    // `rank` shows the recorded results by any rule without training.
    if before.score != spec.score {
        let show =
            |r: &crate::score::ScoreRule| format!("w1 {}, w2 {}, Δ {}", r.w1, r.w2, r.delta.name());
        let s = &spec.score;
        return Ok(Some(format!(
            "sweep `{name}` was recorded with the score rule {}; this spec asks for {}. Its summaries, tie set and any staged \
             search's decisions were made with the recorded rule, so the change is refused. \
             `gridsweep rank {name}{db_hint} --w1 {} --w2 {} --delta {}` ranks the recorded results by the new rule without training; \
             or give the spec another `name` to run it anew",
            show(&before.score),
            show(s),
            s.w1,
            s.w2,
            s.delta.name(),
            name = spec.name,
        )));
    }
    let same = match (before.search, spec.search) {
        (Search::Random { seed: a, .. }, Search::Random { seed: b, .. }) => {
            a.unwrap_or(before.seed) == b.unwrap_or(spec.seed)
        }
        // A changed sample is a changed configuration set: refused below, saying so.
        (
            Search::Halving {
                factor: a,
                min_epochs: m,
                ..
            },
            Search::Halving {
                factor: b,
                min_epochs: n,
                ..
            },
        ) => a == b && m == n,
        // Hyperband's sample or seed changes its draw: refused below when it does.
        (
            Search::Hyperband {
                factor: a,
                min_epochs: m,
                ..
            },
            Search::Hyperband {
                factor: b,
                min_epochs: n,
                ..
            },
        ) => a == b && m == n,
        // A race's pick among its tie set decides nothing recorded: a changed
        // `prefer` is taken (and stored).
        (a @ Search::Race { .. }, Search::Race { prefer, .. }) => {
            let mut a = a;
            if let Search::Race { prefer: p, .. } = &mut a {
                *p = prefer;
            }
            a == spec.search
        }
        (a, b) => a == b,
    };
    if !same {
        let show = |s: &Search| serde_json::to_string(s).unwrap_or_else(|_| format!("{s:?}"));
        return Ok(Some(format!(
            "sweep `{}` was run with search {}; this spec asks for search {}: give the spec another `name` to start a new sweep",
            spec.name,
            show(&before.search),
            show(&spec.search)
        )));
    }
    if spec.search.halving().is_some() || spec.search.race().is_some() {
        let known: std::collections::HashSet<String> = store
            .configurations(row.id)
            .await?
            .into_iter()
            .map(|c| c.config_id)
            .collect();
        let new = configs.iter().filter(|c| !known.contains(&c.id)).count();
        if new > 0 {
            return Ok(Some(format!(
                "sweep `{}` is a {} sweep already under way: its rungs rank a fixed set of configurations, and this spec adds {new}. Give the spec another `name` to start a new sweep",
                spec.name,
                match spec.search {
                    Search::Hyperband { .. } => "hyperband",
                    Search::Race { .. } => "race",
                    _ => "successive-halving",
                }
            )));
        }
    }
    Ok(None)
}
