-- Claims look for pending folds first: a partial index keeps that lookup small
-- however many folds are done or running (without it every claim rescans them).
CREATE INDEX folds_pending ON folds(sweep_id, id) WHERE state = 'pending';
-- Heartbeats: when each running fold's owner last renewed its lease (for `status`).
ALTER TABLE folds ADD COLUMN heartbeat_at REAL;
