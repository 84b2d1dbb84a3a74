-- Hyperband: several successive halvings (brackets) in one sweep, each with its own
-- rung. Plain successive halving is one bracket, number 0.
--
-- configurations.bracket: the bracket a configuration is in (0 for every other
-- search); rung_scores.bracket: likewise, for the rung plot and the agreement.
-- brackets: per bracket of a staged sweep, the rung it is in. It replaces
-- sweeps.rung, whose value becomes bracket 0's.
ALTER TABLE configurations ADD COLUMN bracket INTEGER NOT NULL DEFAULT 0;
ALTER TABLE rung_scores ADD COLUMN bracket INTEGER NOT NULL DEFAULT 0;

CREATE TABLE brackets (
    sweep_id  INTEGER NOT NULL REFERENCES sweeps(id),
    bracket   INTEGER NOT NULL,
    rung      INTEGER NOT NULL,
    PRIMARY KEY (sweep_id, bracket)
);

INSERT INTO brackets (sweep_id, bracket, rung) SELECT id, 0, rung FROM sweeps WHERE rung IS NOT NULL;
ALTER TABLE sweeps DROP COLUMN rung;
