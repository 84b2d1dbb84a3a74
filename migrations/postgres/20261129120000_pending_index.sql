CREATE INDEX folds_pending ON folds(sweep_id, id) WHERE state = 'pending';
ALTER TABLE folds ADD COLUMN heartbeat_at DOUBLE PRECISION;
