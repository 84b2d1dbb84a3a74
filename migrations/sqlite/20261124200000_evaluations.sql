-- One row per `gridsweep evaluate`: a configuration trained once more on the training
-- part and scored on the test part, with the baselines on the same split.
CREATE TABLE evaluations (
    id               INTEGER PRIMARY KEY,
    sweep_id         INTEGER NOT NULL REFERENCES sweeps(id),
    config_id        TEXT    NOT NULL,
    created_at       REAL    NOT NULL,
    test_accuracy    REAL    NOT NULL,
    model_dir        TEXT,              -- where the model was saved, if it was
    evaluation_json  TEXT    NOT NULL,  -- metrics, curves, history, baselines
    FOREIGN KEY (sweep_id, config_id) REFERENCES configurations(sweep_id, config_id)
);

CREATE INDEX evaluations_by_sweep ON evaluations(sweep_id, created_at);
