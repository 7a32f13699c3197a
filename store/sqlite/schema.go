package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
)

// ErrSchemaTooNew: the database was migrated by a newer build than this one.
// Opening it anyway could write rows that build no longer understands.
var ErrSchemaTooNew = errors.New("sqlite: database schema is newer than this build")

// migrations are applied in order; the database's PRAGMA user_version is how
// many have run. Never edit or reorder a released entry: append a new one.
var migrations = []string{
	// 1: the log, snapshots, idempotency records and the outbox.
	//
	// events.position is the rowid and is always given explicitly by Append
	// (MAX+1 inside the writer transaction), never left to SQLite, which is
	// what keeps it gap-free; see appendTx. Times are fixed-width RFC 3339
	// UTC text, so text order is time order. JSON columns are TEXT bound as
	// strings and never re-encoded, so payloads round-trip byte for byte.
	// STRICT makes SQLite refuse a value of the wrong type instead of
	// silently storing it.
	`
CREATE TABLE events (
	position       INTEGER PRIMARY KEY,
	id             TEXT    NOT NULL UNIQUE,
	aggregate      TEXT    NOT NULL,
	instance       TEXT    NOT NULL,
	version        INTEGER NOT NULL,
	type           TEXT    NOT NULL,
	schema_version INTEGER NOT NULL,
	time           TEXT    NOT NULL,
	command_id     TEXT    NOT NULL,
	payload        TEXT,
	meta           TEXT,
	UNIQUE (aggregate, instance, version)
) STRICT;

CREATE TABLE instances (
	aggregate TEXT    NOT NULL,
	instance  TEXT    NOT NULL,
	version   INTEGER NOT NULL,
	state     TEXT,
	PRIMARY KEY (aggregate, instance)
) STRICT;

CREATE TABLE idempotency (
	key          TEXT NOT NULL PRIMARY KEY,
	request_hash TEXT NOT NULL,
	response     TEXT,
	time         TEXT NOT NULL
) STRICT;

-- PruneIdempotency deletes by age.
CREATE INDEX idempotency_time ON idempotency (time);

-- The transactional outbox: deliveries events owe to effects (consumer is
-- the effect's name), written in the commit that writes the events.
CREATE TABLE outbox (
	position     INTEGER PRIMARY KEY AUTOINCREMENT,
	event_id     TEXT    NOT NULL REFERENCES events (id),
	consumer     TEXT    NOT NULL,
	payload      TEXT,
	attempts     INTEGER NOT NULL DEFAULT 0,
	next_attempt TEXT,
	last_error   TEXT,
	created      TEXT    NOT NULL
) STRICT;
`,
	// 2: sync effect delivery finds a command's outbox rows by event id.
	`CREATE INDEX outbox_event ON outbox (event_id);`,
	// 3: snapshots (store.Snapshots): the newest of each instance, with
	// the hash of the definition that folded it.
	`
CREATE TABLE snapshots (
	aggregate TEXT    NOT NULL,
	instance  TEXT    NOT NULL,
	version   INTEGER NOT NULL,
	hash      TEXT    NOT NULL,
	state     TEXT    NOT NULL,
	time      TEXT    NOT NULL,
	PRIMARY KEY (aggregate, instance)
) STRICT;
`,
	// 4: unique keys (store.Keys): who holds each key of an aggregate's
	// unique constraint (name), one key per instance and constraint; and
	// what each aggregate's keys were last rebuilt from the log for
	// (store.KeyRebuilder; conflicts is a JSON array). WITHOUT ROWID: a
	// claim writes two b-trees (the key's and the instance's), not three.
	`
CREATE TABLE unique_keys (
	aggregate TEXT NOT NULL,
	name      TEXT NOT NULL,
	key       TEXT NOT NULL,
	instance  TEXT NOT NULL,
	PRIMARY KEY (aggregate, name, key),
	UNIQUE (aggregate, name, instance)
) STRICT, WITHOUT ROWID;

CREATE TABLE unique_constraints (
	aggregate TEXT NOT NULL PRIMARY KEY,
	hash      TEXT NOT NULL,
	conflicts TEXT
) STRICT;
`,
	// 5: the hot log's size (hot_log, one row), as the byte budget counts
	// it. See hotLogMigration.
	hotLogMigration(),
	// 6: the position of each instance's first event (instances.first),
	// written when it is appended: where a read of the instance's events
	// that left the hot store begins its scan of the log (First). An
	// instance whose first event is no longer hot keeps NULL (unknown).
	`
ALTER TABLE instances ADD COLUMN first INTEGER;
UPDATE instances SET first = (SELECT e.position FROM events AS e
	WHERE e.aggregate = instances.aggregate AND e.instance = instances.instance AND e.version = 1);
`,
}

// tableExists matches SQLite's error for a CREATE TABLE of a name taken.
var tableExists = regexp.MustCompile(`table "?(\w+)"? already exists`)

// migrate brings the database to len(migrations) in one transaction, so a
// failed migration leaves the previous version intact. The transaction is
// IMMEDIATE (the write pool's _txlock), so two processes opening one new
// file do not both run migration 1.
func migrate(ctx context.Context, db *sql.DB) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: migrate: %w", err)
	}
	defer tx.Rollback()

	var version int
	if err := tx.QueryRowContext(ctx, `PRAGMA user_version`).Scan(&version); err != nil {
		return fmt.Errorf("sqlite: read schema version: %w", err)
	}
	known := len(migrations)
	if version > known {
		return fmt.Errorf("%w: the database is at schema version %d, this build knows versions up to %d; open it with a newer cuesource",
			ErrSchemaTooNew, version, known)
	}
	if version < 0 {
		return fmt.Errorf("sqlite: database has invalid schema version %d", version)
	}
	if version == known {
		return nil
	}
	for i := version; i < known; i++ {
		if _, err := tx.ExecContext(ctx, migrations[i]); err != nil {
			if m := tableExists.FindStringSubmatch(err.Error()); m != nil {
				// Projections keep their tables here under their own
				// names, and a name the store takes later may be one.
				return fmt.Errorf("sqlite: migration %d: the database has a table %s already, a projection's from a build before the store took the name: rename the projection (vet refuses the name now), drop its table (DROP TABLE %s; a projection is rebuilt from the log) and open the database again: %w",
					i+1, m[1], m[1], err)
			}
			return fmt.Errorf("sqlite: migration %d: %w", i+1, err)
		}
	}
	// user_version lives in the database header and is written inside the
	// transaction, so it moves together with the migrations.
	if _, err := tx.ExecContext(ctx, fmt.Sprintf(`PRAGMA user_version = %d`, known)); err != nil {
		return fmt.Errorf("sqlite: set schema version: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: migrate: %w", err)
	}
	return nil
}
