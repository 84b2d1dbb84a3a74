-- Grid rows that train the same network share one training: `training_key` is the
-- hash of the configuration's effective form (what the model and the training use),
-- `trained_by` the configuration whose folds hold that training (NULL: its own).
ALTER TABLE configurations ADD COLUMN training_key TEXT;
ALTER TABLE configurations ADD COLUMN trained_by TEXT;
-- A training's last fold updates every configuration that shares it.
CREATE INDEX configurations_trained_by ON configurations(sweep_id, trained_by) WHERE trained_by IS NOT NULL;
