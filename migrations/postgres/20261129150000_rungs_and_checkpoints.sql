-- Folds that stop and continue: a saved training state per fold (only the latest),
-- and the epoch budgets of successive halving.
--
-- folds.budget: the epochs the fold trains to when next claimed (NULL: all of them).
-- folds.partial: 1 when the recorded result is of a fold stopped at its budget with
-- epochs left (a rung's result), 0 when the fold is complete.
-- folds.checkpoint_epochs: epochs of the saved state in `checkpoints`, if any.
ALTER TABLE folds ADD COLUMN budget BIGINT;
ALTER TABLE folds ADD COLUMN partial BIGINT NOT NULL DEFAULT 0;
ALTER TABLE folds ADD COLUMN checkpoint_epochs BIGINT;

-- configurations.rung: the highest rung the configuration was trained in (halving);
-- resource_epochs: the budget its summary was taken at when that summary is partial
-- (NULL: complete); pruned: 1 when successive halving stopped it.
ALTER TABLE configurations ADD COLUMN rung BIGINT;
ALTER TABLE configurations ADD COLUMN resource_epochs BIGINT;
ALTER TABLE configurations ADD COLUMN pruned BIGINT NOT NULL DEFAULT 0;

-- sweeps.rung: the rung successive halving is in (NULL: not a halving sweep).
ALTER TABLE sweeps ADD COLUMN rung BIGINT;

CREATE TABLE checkpoints (
    fold_id   BIGINT PRIMARY KEY REFERENCES folds(id),
    epochs    BIGINT NOT NULL,
    saved_at  DOUBLE PRECISION NOT NULL,
    state     BYTEA   NOT NULL
);

-- Each configuration's result at each complete rung of successive halving, and
-- whether it went on: the rung plot and the rank correlation read it.
CREATE TABLE rung_scores (
    sweep_id          BIGINT NOT NULL REFERENCES sweeps(id),
    config_id         TEXT NOT NULL,
    rung              BIGINT NOT NULL,
    resource_epochs   BIGINT,
    score             DOUBLE PRECISION,
    mean_val_accuracy DOUBLE PRECISION,
    promoted          BIGINT NOT NULL,
    PRIMARY KEY (sweep_id, config_id, rung)
);
