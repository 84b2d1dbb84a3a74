//! Successive halving's rungs: recording a complete rung's scores and carrying out the
//! sweep logic's promotion plan in one transaction. A sweep of Hyperband holds several
//! brackets, each a successive halving with its own rung (table `brackets`); plain
//! halving is bracket 0. A bracket's rung is complete when its own folds are.

use super::*;

fn candidates_sql(and: &str) -> String {
    format!(
        "SELECT config_id, position, score, resource_epochs, params_json, completed_at, mean_val_accuracy,
                EXISTS (SELECT 1 FROM folds f WHERE f.sweep_id = c.sweep_id AND f.config_id = c.config_id AND f.checkpoint_epochs IS NOT NULL) AS holds_state
         FROM configurations c WHERE sweep_id = $1 AND trained_by IS NULL AND pruned = 0 AND rung = $2 AND bracket = $3{and}
         ORDER BY position"
    )
}

/// A configuration row of the current rung, as stored.
#[derive(sqlx::FromRow)]
struct CandidateColumns {
    config_id: String,
    position: i64,
    score: Option<f64>,
    resource_epochs: Option<i64>,
    params_json: String,
    completed_at: Option<f64>,
    mean_val_accuracy: Option<f64>,
    holds_state: bool,
}

impl From<CandidateColumns> for RungCandidate {
    /// Scored once summarised (a failed fold leaves it without a summary).
    fn from(c: CandidateColumns) -> Self {
        let scored = c.completed_at.is_some();
        RungCandidate {
            config_id: c.config_id,
            position: c.position,
            params_json: c.params_json,
            scored,
            score: if scored { c.score } else { None },
            mean_val_accuracy: c.mean_val_accuracy,
            resource_epochs: c.resource_epochs,
            holds_state: c.holds_state,
        }
    }
}

pub(super) const RUNG_SCORES: &str =
    "SELECT bracket, config_id, rung, resource_epochs, score, mean_val_accuracy, promoted FROM rung_scores WHERE sweep_id = $1 ORDER BY bracket, rung, config_id";

/// A `rung_scores` row as stored (`promoted` is 0 or 1).
#[derive(sqlx::FromRow)]
pub(super) struct RungScoreColumns {
    bracket: i64,
    config_id: String,
    rung: i64,
    resource_epochs: Option<i64>,
    score: Option<f64>,
    mean_val_accuracy: Option<f64>,
    promoted: i64,
}

impl From<RungScoreColumns> for RungScore {
    fn from(c: RungScoreColumns) -> Self {
        RungScore {
            bracket: c.bracket,
            config_id: c.config_id,
            rung: c.rung,
            resource_epochs: c.resource_epochs,
            score: c.score,
            mean_val_accuracy: c.mean_val_accuracy,
            promoted: c.promoted != 0,
        }
    }
}

impl Store {
    /// After a claim found nothing, in a sweep of successive halving: when `bracket`'s
    /// current rung is complete (none of its folds pending or running), hands its configurations to
    /// `plan` (the sweep logic: which go on, and to how many epochs), records every
    /// one's rung score, sends the promoted on (their partial folds become pending with
    /// the next budget, continuing from their saved states) and prunes the others (their
    /// saved states are deleted). One transaction, conditional on the bracket's rung:
    /// several processes may call it at once and the rung advances once. A plan that
    /// fails (unreadable stored hyperparameters) changes nothing and is an error.
    // Long on purpose: one transaction, whose statements run on the one `tx` that
    // `with_pool!` types per backend; helpers would each need to be generic over
    // sqlx's `Database` to share it.
    pub async fn advance_rung_with(
        &self,
        sweep_id: i64,
        bracket: u32,
        plan: impl FnMut(u32, &[RungCandidate]) -> std::result::Result<RungPlan, String>,
    ) -> Result<RungStep> {
        let step = self.advance_rung_in_one(sweep_id, bracket, plan).await?;
        if step != RungStep::Waiting {
            // The pruned configurations' states were deleted: give their pages back.
            self.reclaim().await;
        }
        Ok(step)
    }

    async fn advance_rung_in_one(
        &self,
        sweep_id: i64,
        bracket: u32,
        mut plan: impl FnMut(u32, &[RungCandidate]) -> std::result::Result<RungPlan, String>,
    ) -> Result<RungStep> {
        let b = bracket as i64;
        with_pool!(self, p => {
            let mut tx = p.begin_with(self.dialect.begin()).await.in_db(self)?;
            let lock = self.dialect.for_update();
            let rung: Option<i64> = sqlx::query_scalar(&format!("SELECT rung FROM brackets WHERE sweep_id = $1 AND bracket = $2{lock}"))
                .bind(sweep_id)
                .bind(b)
                .fetch_optional(&mut *tx)
                .await
                .in_db(self)?;
            let Some(r) = rung else {
                tx.rollback().await.in_db(self)?;
                return Ok(RungStep::Finished);
            };
            let mut r = r;
            loop {
                let open: i64 = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM folds f JOIN configurations c ON c.sweep_id = f.sweep_id AND c.config_id = f.config_id
                     WHERE f.sweep_id = $1 AND c.bracket = $2 AND f.state IN ('pending', 'running')",
                )
                .bind(sweep_id)
                .bind(b)
                .fetch_one(&mut *tx)
                .await
                .in_db(self)?;
                if open > 0 {
                    tx.rollback().await.in_db(self)?;
                    return Ok(RungStep::Waiting);
                }
                let rows: Vec<CandidateColumns> = sqlx::query_as(&candidates_sql(""))
                .bind(sweep_id)
                .bind(r)
                .bind(b)
                .fetch_all(&mut *tx)
                .await
                .in_db(self)?;
                let candidates: Vec<RungCandidate> = rows.into_iter().map(RungCandidate::from).collect();
                // The decision is the sweep logic's, taken inside this transaction.
                let decided = match plan(r as u32, &candidates) {
                    Ok(d) => d,
                    Err(message) => {
                        tx.rollback().await.in_db(self)?;
                        return Err(StoreError::Corrupt { db: self.name.clone(), message });
                    }
                };
                let (mut pending, mut pruned, mut kept) = (0u64, 0usize, 0usize);
                for (c, d) in candidates.iter().zip(&decided.decisions) {
                    sqlx::query(
                        "INSERT INTO rung_scores (sweep_id, config_id, rung, resource_epochs, score, mean_val_accuracy, promoted, bracket)
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (sweep_id, config_id, rung) DO NOTHING",
                    )
                    .bind(sweep_id)
                    .bind(&c.config_id)
                    .bind(r)
                    .bind(d.epochs)
                    .bind(c.score)
                    .bind(c.mean_val_accuracy)
                    .bind(d.next_budget.is_some() as i64)
                    .bind(b)
                    .execute(&mut *tx)
                    .await
                    .in_db(self)?;
                    if decided.last {
                        continue;
                    }
                    if let Some(budget) = d.next_budget {
                        kept += 1;
                        for which in ["config_id", "trained_by"] {
                            sqlx::query(&format!("UPDATE configurations SET rung = $1 WHERE sweep_id = $2 AND {which} = $3"))
                                .bind(r + 1)
                                .bind(sweep_id)
                                .bind(&c.config_id)
                                .execute(&mut *tx)
                                .await
                                .in_db(self)?;
                        }
                        if c.resource_epochs.is_some() {
                            pending += sqlx::query(
                                "UPDATE folds SET state = 'pending', budget = $1, worker = NULL, lease_until = NULL
                                 WHERE sweep_id = $2 AND config_id = $3 AND state = 'done' AND partial = 1",
                            )
                            .bind(budget)
                            .bind(sweep_id)
                            .bind(&c.config_id)
                            .execute(&mut *tx)
                            .await
                            .in_db(self)?
                            .rows_affected();
                        }
                    } else if c.resource_epochs.is_some() || !c.scored {
                        pruned += 1;
                        // Marked pruned (with whatever shares its training), and its saved
                        // states deleted: it will not continue.
                        for sql in [
                            "UPDATE configurations SET pruned = 1 WHERE sweep_id = $1 AND config_id = $2",
                            "UPDATE configurations SET pruned = 1 WHERE sweep_id = $1 AND trained_by = $2",
                            "DELETE FROM checkpoints WHERE fold_id IN (SELECT id FROM folds WHERE sweep_id = $1 AND config_id = $2)",
                            "UPDATE folds SET checkpoint_epochs = NULL WHERE sweep_id = $1 AND config_id = $2",
                        ] {
                            sqlx::query(sql).bind(sweep_id).bind(&c.config_id).execute(&mut *tx).await.in_db(self)?;
                        }
                    }
                }
                if decided.last {
                    tx.commit().await.in_db(self)?;
                    return Ok(RungStep::Finished);
                }
                sqlx::query("UPDATE brackets SET rung = $1 WHERE sweep_id = $2 AND bracket = $3 AND rung = $4")
                    .bind(r + 1)
                    .bind(sweep_id)
                    .bind(b)
                    .bind(r)
                    .execute(&mut *tx)
                    .await
                    .in_db(self)?;
                if pending > 0 {
                    tx.commit().await.in_db(self)?;
                    return Ok(RungStep::Promoted { rung: r as u32 + 1, configurations: kept, pruned, folds: pending });
                }
                // Every configuration that went on had already trained to the next rung's
                // budget (their own epochs are below it): that rung is complete too, and is
                // decided (its scores recorded) in this same transaction, not at some later
                // call that may never come. (Such a rung is its bracket's last: what went on
                // holds no partial fold, so the planner ends there; the bound only guards a
                // damaged database against a loop.)
                r += 1;
                if r > 64 {
                    tx.commit().await.in_db(self)?;
                    return Ok(RungStep::Finished);
                }
            }
        })
    }

    /// While a rung is under way: hands `decide` the size of `config_id`'s rung (its
    /// bracket's current rung) and those of its configurations that are settled (every
    /// fold done at the rung's budget), and deletes the saved training states of the
    /// ones it returns (the sweep logic's: those that cannot go on). One transaction;
    /// a configuration with a fold pending or running is never touched. Returns the
    /// states deleted.
    pub async fn drop_states_with(
        &self,
        sweep_id: i64,
        config_id: &str,
        decide: impl FnOnce(usize, &[RungCandidate]) -> Vec<String>,
    ) -> Result<u64> {
        let dropped = self.drop_states_in_one(sweep_id, config_id, decide).await?;
        if dropped > 0 {
            self.reclaim().await;
        }
        Ok(dropped)
    }

    async fn drop_states_in_one(
        &self,
        sweep_id: i64,
        config_id: &str,
        decide: impl FnOnce(usize, &[RungCandidate]) -> Vec<String>,
    ) -> Result<u64> {
        with_pool!(self, p => {
            let mut tx = p.begin_with(self.dialect.begin()).await.in_db(self)?;
            let at: Option<(i64, Option<i64>)> = sqlx::query_as("SELECT bracket, rung FROM configurations WHERE sweep_id = $1 AND config_id = $2")
                .bind(sweep_id)
                .bind(config_id)
                .fetch_optional(&mut *tx)
                .await
                .in_db(self)?;
            let Some((bracket, Some(rung))) = at else {
                tx.rollback().await.in_db(self)?;
                return Ok(0);
            };
            let rows: Vec<CandidateColumns> = sqlx::query_as(&candidates_sql(
                " AND NOT EXISTS (SELECT 1 FROM folds f WHERE f.sweep_id = c.sweep_id AND f.config_id = c.config_id AND f.state IN ('pending', 'running'))",
            ))
            .bind(sweep_id)
            .bind(rung)
            .bind(bracket)
            .fetch_all(&mut *tx)
            .await
            .in_db(self)?;
            let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM configurations WHERE sweep_id = $1 AND trained_by IS NULL AND pruned = 0 AND rung = $2 AND bracket = $3")
                .bind(sweep_id)
                .bind(rung)
                .bind(bracket)
                .fetch_one(&mut *tx)
                .await
                .in_db(self)?;
            let settled: Vec<RungCandidate> = rows.into_iter().map(RungCandidate::from).collect();
            let mut dropped = 0u64;
            for id in decide(n as usize, &settled) {
                dropped += sqlx::query(
                    "DELETE FROM checkpoints WHERE fold_id IN (SELECT id FROM folds WHERE sweep_id = $1 AND config_id = $2 AND state = 'done')",
                )
                .bind(sweep_id)
                .bind(&id)
                .execute(&mut *tx)
                .await
                .in_db(self)?
                .rows_affected();
                sqlx::query("UPDATE folds SET checkpoint_epochs = NULL WHERE sweep_id = $1 AND config_id = $2 AND state = 'done'")
                    .bind(sweep_id)
                    .bind(&id)
                    .execute(&mut *tx)
                    .await
                    .in_db(self)?;
            }
            tx.commit().await.in_db(self)?;
            Ok(dropped)
        })
    }

    /// A staged sweep's rungs, bracket by bracket: per rung, the configurations trained
    /// in it, their epoch budget (the largest), how many of its folds are done (the
    /// rung in progress), and how many went on. None for a sweep without rungs.
    pub async fn rungs(&self, sweep_id: i64) -> Result<Option<Vec<RungRow>>> {
        with_pool!(self, p => {
            let current: Vec<(i64, i64)> = sqlx::query_as("SELECT bracket, rung FROM brackets WHERE sweep_id = $1 ORDER BY bracket")
                .bind(sweep_id)
                .fetch_all(p)
                .await
                .in_db(self)?;
            if current.is_empty() {
                return Ok(None);
            }
            let done: Vec<(i64, i64, i64, i64, Option<i64>)> = sqlx::query_as(
                "SELECT bracket, rung, COUNT(*), CAST(SUM(promoted) AS BIGINT), MAX(resource_epochs) FROM rung_scores WHERE sweep_id = $1
                 GROUP BY bracket, rung ORDER BY bracket, rung",
            )
            .bind(sweep_id)
            .fetch_all(p)
            .await
            .in_db(self)?;
            let mut out = Vec::new();
            for (bracket, now) in current {
                out.extend(done.iter().filter(|d| d.0 == bracket).map(|&(bracket, rung, n, promoted, epochs)| RungRow {
                    bracket,
                    rung,
                    configurations: n,
                    epochs,
                    folds_done: None,
                    folds: None,
                    // The current rung with recorded scores is the bracket's last one.
                    promoted: (rung < now).then_some(promoted),
                    decided: true,
                }));
                if out.iter().any(|r| r.bracket == bracket && r.rung == now) {
                    continue;
                }
                let (n, folds, fdone, epochs): (i64, i64, i64, Option<i64>) = sqlx::query_as(
                    "SELECT COUNT(DISTINCT c.config_id), COUNT(f.id), COALESCE(SUM(CASE WHEN f.state = 'done' THEN 1 ELSE 0 END), 0), MAX(f.budget)
                     FROM configurations c JOIN folds f ON f.sweep_id = c.sweep_id AND f.config_id = c.config_id
                     WHERE c.sweep_id = $1 AND c.trained_by IS NULL AND c.pruned = 0 AND c.rung = $2 AND c.bracket = $3 AND f.speculative = 0",
                )
                .bind(sweep_id)
                .bind(now)
                .bind(bracket)
                .fetch_one(p)
                .await
                .in_db(self)?;
                if n > 0 {
                    out.push(RungRow { bracket, rung: now, configurations: n, epochs, folds_done: Some(fdone), folds: Some(folds), promoted: None, decided: false });
                }
            }
            Ok(Some(out))
        })
    }

    /// Every recorded rung score of a sweep, by rung and configuration.
    pub async fn rung_scores(&self, sweep_id: i64) -> Result<Vec<RungScore>> {
        let rows: Vec<RungScoreColumns> = with_pool!(self, p => sqlx::query_as(RUNG_SCORES).bind(sweep_id).fetch_all(p).await.in_db(self))?;
        Ok(rows.into_iter().map(RungScore::from).collect())
    }
}
