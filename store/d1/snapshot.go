package d1

// An Aggregate object's snapshot (store.Snapshots on Workers): its
// instance's state at a version with the hash of the definition that
// folded it, the newest only, as the native store keeps one row per
// instance. Apart from ObjectSchema so that the object's schema grows by
// a delimited step; both are applied (idempotently) when it starts.

// ObjectSnapshotSchema is the object's snapshot table: one row.
const ObjectSnapshotSchema = `
CREATE TABLE IF NOT EXISTS snapshot (
  k       INTEGER PRIMARY KEY CHECK (k = 1),
  version INTEGER NOT NULL,
  hash    TEXT    NOT NULL,
  state   TEXT    NOT NULL,
  time    TEXT    NOT NULL
);`

// The snapshot's statements.
const (
	// ObjectPutSnapshot (version, hash, state, time) keeps a snapshot
	// unless the object has one at a later version, whatever its hash
	// (a definition that changed never reads it again).
	ObjectPutSnapshot = `INSERT INTO snapshot (k, version, hash, state, time) VALUES (1, ?1, ?2, ?3, ?4)
ON CONFLICT (k) DO UPDATE SET version = excluded.version, hash = excluded.hash, state = excluded.state, time = excluded.time
WHERE excluded.version >= snapshot.version`
	// ObjectSnapshot (hash) reads (version, state, time) of the snapshot
	// taken under hash; no row: none.
	ObjectSnapshot = `SELECT version, state, time FROM snapshot WHERE hash = ?1`
	// ObjectEventsAfterSnapshot (hash) reads every event after the
	// snapshot taken under hash (all of them without one).
	ObjectEventsAfterSnapshot = `SELECT ` + ObjectEventColumns + ` FROM events
WHERE version > COALESCE((SELECT version FROM snapshot WHERE hash = ?1), 0) ORDER BY version`

	// ObjectPruneEvents (version, hash) deletes the object's events up to
	// a version that have left D1 for the archive: forwarded, owed no
	// delivery, and not after its snapshot under hash (which starts its
	// rehydration after them); none without one.
	ObjectPruneEvents = `DELETE FROM events WHERE version <= ?1 AND position IS NOT NULL
	AND version <= (SELECT version FROM snapshot WHERE hash = ?2)
	AND NOT EXISTS (SELECT 1 FROM outbox WHERE outbox.event_id = events.id)`
	// ObjectHotFrom reads (v): the version the object's history begins
	// at, NULL when it holds no event.
	ObjectHotFrom = `SELECT MIN(version) AS v FROM events`
)
