package rows

import "time"

// Projection states as stored in the checkpoint table.
const (
	StateRunning    = "running"
	StateRebuilding = "rebuilding"
	StateFailed     = "failed"
	// StateNew and StateStale are only reported by a runner that was not
	// started (the offline `cuesource projections status`): a projection
	// never built, and one whose stored definition hash differs from the
	// context's (the next start rebuilds it).
	StateNew   = "new"
	StateStale = "stale"
)

// CheckpointDDL creates the checkpoint table `projections`: how far each
// projection has applied the log, the hash of the definition it was built
// with, its state, and the failure that stopped it.
const CheckpointDDL = `CREATE TABLE IF NOT EXISTS projections (
	name           TEXT    NOT NULL PRIMARY KEY,
	position       INTEGER NOT NULL DEFAULT 0,
	hash           TEXT    NOT NULL,
	state          TEXT    NOT NULL,
	error          TEXT,
	error_position INTEGER,
	updated        TEXT    NOT NULL
) STRICT`

// Checkpoint statements. Arguments are in the order of the placeholders;
// `updated` takes [Stamp].
const (
	// CheckpointGet reads (position, state) of a name.
	CheckpointGet = `SELECT position, state FROM projections WHERE name = ?`
	// CheckpointAdvanceIf (to, updated, name, from) moves a checkpoint
	// that is at `from` and not failed: the inline apply's guard, one row
	// affected when it did.
	CheckpointAdvanceIf = `UPDATE projections SET position = ?, state = 'running', updated = ? WHERE name = ? AND position = ? AND state <> 'failed'`
	// CheckpointSet (position, state, updated, name).
	CheckpointSet = `UPDATE projections SET position = ?, state = ?, updated = ? WHERE name = ?`
	// CheckpointFail (position, error, error_position, updated, name)
	// records a failure: position is the last event applied.
	CheckpointFail = `UPDATE projections SET position = ?, state = 'failed', error = ?, error_position = ?, updated = ? WHERE name = ?`
	// CheckpointReset (name, hash, state, updated) starts a projection
	// over from the beginning of the log.
	CheckpointReset = `INSERT INTO projections (name, position, hash, state, error, error_position, updated)
		VALUES (?, 0, ?, ?, NULL, NULL, ?)
		ON CONFLICT (name) DO UPDATE SET position = 0, hash = excluded.hash, state = excluded.state,
			error = NULL, error_position = NULL, updated = excluded.updated`
	// CheckpointHash reads (hash) of a name.
	CheckpointHash = `SELECT hash FROM projections WHERE name = ?`
	// CheckpointFailure reads (error, error_position) of a name, '' and 0
	// when it has not failed.
	CheckpointFailure = `SELECT COALESCE(error, ''), COALESCE(error_position, 0) FROM projections WHERE name = ?`
	// CheckpointFailedAt reads (state, error_position) of a name.
	CheckpointFailedAt = `SELECT state, error_position FROM projections WHERE name = ?`
	// CheckpointResume (updated, name) retries the failed event.
	CheckpointResume = `UPDATE projections SET state = 'running', error = NULL, error_position = NULL, updated = ? WHERE name = ?`
	// CheckpointSkip (position, updated, name) moves past the failed event:
	// position is its error_position.
	CheckpointSkip = `UPDATE projections SET position = ?, state = 'running', error = NULL, error_position = NULL, updated = ? WHERE name = ?`
	// CheckpointAll reads (name, position, hash, state, error,
	// error_position) of every projection, '' and 0 for no failure.
	CheckpointAll = `SELECT name, position, hash, state, COALESCE(error, ''), COALESCE(error_position, 0) FROM projections`
	// TableCount (name) counts the tables called name, 0 or 1: whether a
	// projection's table, or the checkpoint table, exists.
	TableCount = `SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?`
)

// Stamp is the checkpoint's `updated` text for t.
func Stamp(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }
