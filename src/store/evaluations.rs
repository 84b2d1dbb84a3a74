//! Evaluations of a chosen configuration on the test split (`evaluate`).

use super::*;

impl Store {
    /// Records an evaluation; returns its id.
    pub async fn add_evaluation(
        &self,
        sweep_id: i64,
        config_id: &str,
        test_accuracy: f64,
        model_dir: Option<&str>,
        evaluation_json: &str,
    ) -> Result<i64> {
        with_pool!(self, p => sqlx::query_scalar(
            "INSERT INTO evaluations (sweep_id, config_id, created_at, test_accuracy, model_dir, evaluation_json)
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(sweep_id)
        .bind(config_id)
        .bind(now())
        .bind(test_accuracy)
        .bind(model_dir)
        .bind(evaluation_json)
        .fetch_one(p)
        .await
        .in_db(self))
    }

    /// The newest evaluation's JSON of a sweep (of one configuration, if given).
    pub async fn latest_evaluation(
        &self,
        sweep_id: i64,
        config_id: Option<&str>,
    ) -> Result<Option<String>> {
        with_pool!(self, p => sqlx::query_scalar(
            "SELECT evaluation_json FROM evaluations WHERE sweep_id = $1 AND (config_id = $2 OR $3)
             ORDER BY created_at DESC, id DESC LIMIT 1",
        )
        .bind(sweep_id)
        .bind(config_id.unwrap_or(""))
        .bind(config_id.is_none())
        .fetch_optional(p)
        .await
        .in_db(self))
    }
}
