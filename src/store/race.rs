//! A race's barriers: handing the sweep logic the configurations still in the race with
//! their fold results, and carrying out its decision in one transaction. A race is
//! bracket 0 of the `brackets` table, its rung the stage (the folds given so far); a
//! configuration's next fold is created only when a barrier sends it on, so a fold
//! that exists is one the race decided to train.

use super::*;

/// A configuration still in the race: id, its folds, its speculative folds, its mean
/// train and val accuracy so far.
type OpenConfigRow = (String, i64, i64, Option<f64>, Option<f64>);
/// A race fold: configuration, fold, state, train and val accuracy, fit seconds.
type RaceFoldRow = (String, i64, String, Option<f64>, Option<f64>, Option<f64>);

impl Store {
    /// After a claim found nothing, in a race: when no fold is pending or running, hands
    /// the configurations still in the race to `decide` (the sweep logic) with the fold-fits spent so far, records each
    /// one's stage score, marks the ones it drops pruned, and gives the others their
    /// next fold (pending). One transaction, conditional on the stage: several
    /// processes may call it at once and a stage is decided once. A race that is over
    /// stays over (its decision is the same each time: nothing new is created).
    ///
    /// While the barrier waits on running folds, `speculate` (the sweep logic) is handed
    /// the configurations in the race ([`Ahead`]: their folds so far, their speculative
    /// ones, the means of their done folds), and names the folds idle workers may train ahead; they are added as
    /// speculative folds (`Speculated`). Barriers read only the others. A barrier makes
    /// the speculative next fold of a configuration going on its next fold (and, when
    /// that fold is already done, writes the configuration's summary with `summarize`),
    /// keeps its later ones for the barriers after, and deletes those of the
    /// configurations that leave, and all of them when the race is over: what the race
    /// records is what it would have without speculation.
    // Long on purpose: one transaction on the backend-typed `tx` (see `with_pool!`).
    pub async fn advance_race_with(
        &self,
        sweep_id: i64,
        mut decide: impl FnMut(u32, &[RaceEntry], usize) -> std::result::Result<RaceDecision, String>,
        speculate: impl FnOnce(&[Ahead]) -> Vec<(String, i64)>,
        summarize: &Summarize<'_>,
    ) -> Result<RungStep> {
        let t = now();
        with_pool!(self, p => {
            let mut tx = p.begin_with(self.dialect.begin()).await.in_db(self)?;
            let lock = self.dialect.for_update();
            let stage: Option<i64> = sqlx::query_scalar(&format!("SELECT rung FROM brackets WHERE sweep_id = $1 AND bracket = 0{lock}"))
                .bind(sweep_id)
                .fetch_optional(&mut *tx)
                .await
                .in_db(self)?;
            let Some(stage) = stage else {
                tx.rollback().await.in_db(self)?;
                return Ok(RungStep::Finished);
            };
            // A stage with recorded scores was decided, and the race did not go on from
            // it: it is over. (Deciding it again on the configurations left would pool
            // another variance and could drop more: the outcome would depend on how
            // often a barrier is reached.)
            let decided: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM rung_scores WHERE sweep_id = $1 AND bracket = 0 AND rung = $2")
                .bind(sweep_id)
                .bind(stage)
                .fetch_one(&mut *tx)
                .await
                .in_db(self)?;
            if decided > 0 {
                tx.rollback().await.in_db(self)?;
                return Ok(RungStep::Finished);
            }
            let open: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM folds WHERE sweep_id = $1 AND state IN ('pending', 'running') AND speculative = 0")
                .bind(sweep_id)
                .fetch_one(&mut *tx)
                .await
                .in_db(self)?;
            if open > 0 {
                // The barrier waits: the next folds of those in the race, for the idle.
                let rows: Vec<OpenConfigRow> = sqlx::query_as(
                    "SELECT c.config_id,
                            (SELECT COUNT(*) FROM folds f WHERE f.sweep_id = c.sweep_id AND f.config_id = c.config_id AND f.speculative = 0),
                            (SELECT COUNT(*) FROM folds f WHERE f.sweep_id = c.sweep_id AND f.config_id = c.config_id AND f.speculative = 1),
                            (SELECT AVG(f.train_accuracy) FROM folds f WHERE f.sweep_id = c.sweep_id AND f.config_id = c.config_id AND f.speculative = 0 AND f.state = 'done'),
                            (SELECT AVG(f.val_accuracy) FROM folds f WHERE f.sweep_id = c.sweep_id AND f.config_id = c.config_id AND f.speculative = 0 AND f.state = 'done')
                     FROM configurations c WHERE c.sweep_id = $1 AND c.trained_by IS NULL AND c.pruned = 0 ORDER BY c.position",
                )
                .bind(sweep_id)
                .fetch_all(&mut *tx)
                .await
                .in_db(self)?;
                let ahead: Vec<Ahead> = rows
                    .into_iter()
                    .map(|(config_id, folds, ahead, train, val)| Ahead { config_id, folds, ahead, means: train.zip(val) })
                    .collect();
                let mut created = 0u64;
                if !ahead.is_empty() {
                    for (config_id, fold) in speculate(&ahead) {
                        created += sqlx::query(
                            "INSERT INTO folds (sweep_id, config_id, fold, budget, speculative) VALUES ($1, $2, $3, NULL, 1) ON CONFLICT (sweep_id, config_id, fold) DO NOTHING",
                        )
                        .bind(sweep_id)
                        .bind(&config_id)
                        .bind(fold)
                        .execute(&mut *tx)
                        .await
                        .in_db(self)?
                        .rows_affected();
                    }
                }
                if created > 0 {
                    tx.commit().await.in_db(self)?;
                    return Ok(RungStep::Speculated { folds: created });
                }
                tx.rollback().await.in_db(self)?;
                return Ok(RungStep::Waiting);
            }
            let configs: Vec<(String, i64, String)> = sqlx::query_as(
                "SELECT config_id, position, params_json FROM configurations WHERE sweep_id = $1 AND trained_by IS NULL AND pruned = 0 ORDER BY position",
            )
            .bind(sweep_id)
            .fetch_all(&mut *tx)
            .await
            .in_db(self)?;
            let folds: Vec<RaceFoldRow> = sqlx::query_as(
                "SELECT f.config_id, f.fold, f.state, f.train_accuracy, f.val_accuracy, f.fit_seconds FROM folds f
                 JOIN configurations c ON c.sweep_id = f.sweep_id AND c.config_id = f.config_id
                 WHERE f.sweep_id = $1 AND c.trained_by IS NULL AND c.pruned = 0 AND f.speculative = 0 ORDER BY f.config_id, f.fold",
            )
            .bind(sweep_id)
            .fetch_all(&mut *tx)
            .await
            .in_db(self)?;
            let mut entries: Vec<RaceEntry> = configs
                .into_iter()
                .map(|(config_id, position, params_json)| RaceEntry { config_id, position, params_json, folds: Vec::new(), failed: false })
                .collect();
            let index: std::collections::HashMap<String, usize> = entries.iter().enumerate().map(|(i, e)| (e.config_id.clone(), i)).collect();
            for (id, fold, state, train, val, fit) in folds {
                let Some(&i) = index.get(&id) else { continue };
                match (state.as_str(), train, val) {
                    ("done", Some(t), Some(v)) => entries[i].folds.push((fold, t, v, fit.unwrap_or(f64::NAN))),
                    _ => entries[i].failed = true,
                }
            }
            // The fold-fits the race has created (a fold exists only where the race sent
            // its configuration), those of the configurations it dropped included.
            let spent: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM folds f JOIN configurations c ON c.sweep_id = f.sweep_id AND c.config_id = f.config_id
                 WHERE f.sweep_id = $1 AND c.trained_by IS NULL AND f.speculative = 0",
            )
            .bind(sweep_id)
            .fetch_one(&mut *tx)
            .await
            .in_db(self)?;
            let decided = match decide(stage as u32, &entries, spent as usize) {
                Ok(d) => d,
                Err(message) => {
                    tx.rollback().await.in_db(self)?;
                    return Err(StoreError::Corrupt { db: self.name.clone(), message });
                }
            };
            let dropped: std::collections::HashSet<&str> = decided.drop.iter().map(String::as_str).collect();
            // Left in the race without a next fold (a budget's last, partial stage).
            let held: std::collections::HashSet<&str> = decided.hold.iter().map(String::as_str).collect();
            for (e, score) in entries.iter().zip(&decided.scores) {
                let mean_val = (!e.folds.is_empty()).then(|| e.folds.iter().map(|f| f.2).sum::<f64>() / e.folds.len() as f64);
                let goes_on = decided.next_fold.is_some() && !dropped.contains(e.config_id.as_str()) && !held.contains(e.config_id.as_str());
                sqlx::query(
                    "INSERT INTO rung_scores (sweep_id, config_id, rung, resource_epochs, score, mean_val_accuracy, promoted, bracket)
                     VALUES ($1, $2, $3, NULL, $4, $5, $6, 0) ON CONFLICT (sweep_id, config_id, rung) DO NOTHING",
                )
                .bind(sweep_id)
                .bind(&e.config_id)
                .bind(stage)
                .bind(score)
                .bind(mean_val)
                .bind(goes_on as i64)
                .execute(&mut *tx)
                .await
                .in_db(self)?;
            }
            // Speculative folds that will not count: those of the configurations that leave,
            // and all of them when the race is over (with any saved state).
            let unneeded = |which: &str| {
                [
                    format!("DELETE FROM checkpoints WHERE fold_id IN (SELECT id FROM folds WHERE sweep_id = $1 AND speculative = 1{which})"),
                    format!("DELETE FROM folds WHERE sweep_id = $1 AND speculative = 1{which}"),
                ]
            };
            if decided.next_fold.is_none() {
                for sql in unneeded("") {
                    sqlx::query(&sql).bind(sweep_id).execute(&mut *tx).await.in_db(self)?;
                }
            }
            for id in &decided.drop {
                for sql in unneeded(" AND config_id = $2") {
                    sqlx::query(&sql).bind(sweep_id).bind(id).execute(&mut *tx).await.in_db(self)?;
                }
                for sql in [
                    "UPDATE configurations SET pruned = 1 WHERE sweep_id = $1 AND config_id = $2",
                    "UPDATE configurations SET pruned = 1 WHERE sweep_id = $1 AND trained_by = $2",
                ] {
                    sqlx::query(sql).bind(sweep_id).bind(id).execute(&mut *tx).await.in_db(self)?;
                }
            }
            let Some(next) = decided.next_fold else {
                tx.commit().await.in_db(self)?;
                let left = entries.len() - decided.drop.len();
                return Ok(RungStep::Ended { rung: stage as u32, configurations: left, pruned: decided.drop.len(), why: decided.ended.unwrap_or_default() });
            };
            let mut created = 0u64;
            // Next folds that were trained ahead (some may be done already).
            let mut ahead = 0u64;
            let mut kept = 0usize;
            // Speculative folds of the held: the race will not use them.
            for id in &decided.hold {
                for sql in unneeded(" AND config_id = $2") {
                    sqlx::query(&sql).bind(sweep_id).bind(id).execute(&mut *tx).await.in_db(self)?;
                }
            }
            for e in entries.iter().filter(|e| !dropped.contains(e.config_id.as_str()) && !held.contains(e.config_id.as_str())) {
                kept += 1;
                created += sqlx::query("INSERT INTO folds (sweep_id, config_id, fold, budget) VALUES ($1, $2, $3, NULL) ON CONFLICT (sweep_id, config_id, fold) DO NOTHING")
                    .bind(sweep_id)
                    .bind(&e.config_id)
                    .bind(next)
                    .execute(&mut *tx)
                    .await
                    .in_db(self)?
                    .rows_affected();
                // Its speculative fold, if it had one, is this next fold now (later ones
                // wait for their barriers).
                ahead += sqlx::query("UPDATE folds SET speculative = 0 WHERE sweep_id = $1 AND config_id = $2 AND fold = $3 AND speculative = 1")
                    .bind(sweep_id)
                    .bind(&e.config_id)
                    .bind(next)
                    .execute(&mut *tx)
                    .await
                    .in_db(self)?
                    .rows_affected();
                // Not complete until its new fold is done (and whatever shares its training).
                for which in ["config_id", "trained_by"] {
                    sqlx::query(&format!("UPDATE configurations SET rung = $1, completed_at = NULL WHERE sweep_id = $2 AND {which} = $3"))
                        .bind(stage + 1)
                        .bind(sweep_id)
                        .bind(&e.config_id)
                        .execute(&mut *tx)
                        .await
                        .in_db(self)?;
                }
            }
            // A next fold trained ahead and done already completes its configuration's stage.
            let done_ahead: Vec<String> = sqlx::query_scalar(
                "SELECT f.config_id FROM folds f JOIN configurations c ON c.sweep_id = f.sweep_id AND c.config_id = f.config_id
                 WHERE f.sweep_id = $1 AND f.fold = $2 AND f.state = 'done' AND c.pruned = 0 AND c.trained_by IS NULL ORDER BY c.position",
            )
            .bind(sweep_id)
            .bind(next)
            .fetch_all(&mut *tx)
            .await
            .in_db(self)?;
            for config_id in &done_ahead {
                let _ = write_summary!(self, tx, sweep_id, config_id, summarize, t);
            }
            sqlx::query("UPDATE brackets SET rung = $1 WHERE sweep_id = $2 AND bracket = 0 AND rung = $3")
                .bind(stage + 1)
                .bind(sweep_id)
                .bind(stage)
                .execute(&mut *tx)
                .await
                .in_db(self)?;
            tx.commit().await.in_db(self)?;
            // The folds the next stage still has to train.
            let folds = (created + ahead).saturating_sub(done_ahead.len() as u64);
            Ok(RungStep::Promoted { rung: stage as u32 + 1, configurations: kept, pruned: decided.drop.len(), folds })
        })
    }
}
