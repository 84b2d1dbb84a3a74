//! A race's barriers: handing the sweep logic the configurations still in the race with
//! their fold results, and carrying out its decision in one transaction. A race is
//! bracket 0 of the `brackets` table, its rung the stage (the folds given so far); a
//! configuration's next fold is created only when a barrier sends it on, so a fold
//! that exists is one the race decided to train.

use super::*;

impl Store {
    /// After a claim found nothing, in a race: when no fold is pending or running, hands
    /// the configurations still in the race to `decide` (the sweep logic), records each
    /// one's stage score, marks the ones it drops pruned, and gives the others their
    /// next fold (pending). One transaction, conditional on the stage: several
    /// processes may call it at once and a stage is decided once. A race that is over
    /// stays over (its decision is the same each time: nothing new is created).
    pub async fn advance_race_with(
        &self,
        sweep_id: i64,
        mut decide: impl FnMut(u32, &[RaceEntry]) -> std::result::Result<RaceDecision, String>,
    ) -> Result<RungStep> {
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
            let open: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM folds WHERE sweep_id = $1 AND state IN ('pending', 'running')")
                .bind(sweep_id)
                .fetch_one(&mut *tx)
                .await
                .in_db(self)?;
            if open > 0 {
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
            let folds: Vec<(String, i64, String, Option<f64>, Option<f64>, Option<f64>)> = sqlx::query_as(
                "SELECT f.config_id, f.fold, f.state, f.train_accuracy, f.val_accuracy, f.fit_seconds FROM folds f
                 JOIN configurations c ON c.sweep_id = f.sweep_id AND c.config_id = f.config_id
                 WHERE f.sweep_id = $1 AND c.trained_by IS NULL AND c.pruned = 0 ORDER BY f.config_id, f.fold",
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
            let decided = match decide(stage as u32, &entries) {
                Ok(d) => d,
                Err(message) => {
                    tx.rollback().await.in_db(self)?;
                    return Err(StoreError::Corrupt { db: self.name.clone(), message });
                }
            };
            let dropped: std::collections::HashSet<&str> = decided.drop.iter().map(String::as_str).collect();
            for (e, score) in entries.iter().zip(&decided.scores) {
                let mean_val = (!e.folds.is_empty()).then(|| e.folds.iter().map(|f| f.2).sum::<f64>() / e.folds.len() as f64);
                let goes_on = decided.next_fold.is_some() && !dropped.contains(e.config_id.as_str());
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
            for id in &decided.drop {
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
            let mut kept = 0usize;
            for e in entries.iter().filter(|e| !dropped.contains(e.config_id.as_str())) {
                kept += 1;
                created += sqlx::query("INSERT INTO folds (sweep_id, config_id, fold, budget) VALUES ($1, $2, $3, NULL) ON CONFLICT (sweep_id, config_id, fold) DO NOTHING")
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
            sqlx::query("UPDATE brackets SET rung = $1 WHERE sweep_id = $2 AND bracket = 0 AND rung = $3")
                .bind(stage + 1)
                .bind(sweep_id)
                .bind(stage)
                .execute(&mut *tx)
                .await
                .in_db(self)?;
            tx.commit().await.in_db(self)?;
            Ok(RungStep::Promoted { rung: stage as u32 + 1, configurations: kept, pruned: decided.drop.len(), folds: created })
        })
    }
}
