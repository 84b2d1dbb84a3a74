-- A race's speculative folds: while a barrier waits on its last folds, idle workers
-- train the next fold of the configurations still in the race. speculative = 1 until
-- the barrier decides: a configuration that goes on keeps it as its next fold (0), one
-- that leaves has it deleted. Barriers, summaries and exports read only speculative = 0.
ALTER TABLE folds ADD COLUMN speculative BIGINT NOT NULL DEFAULT 0;
