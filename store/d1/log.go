package d1

import (
	"strings"

	"github.com/cuesource/cuesource/internal/projections/rows"
	"github.com/cuesource/cuesource/store"
)

// EventsSchema is the global log. Positions are given explicitly
// ([Forward]: MAX+1 inside each D1 batch, which is a transaction on D1's
// single writer), never left to SQLite, which keeps them gap-free in
// commit order.
const EventsSchema = `CREATE TABLE IF NOT EXISTS events (
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
	UNIQUE (aggregate, instance, version)
)`

// DeadLettersSchema is the table of deliveries that gave up, as natively;
// event is the event as JSON, so a redelivery needs no read of the log.
const DeadLettersSchema = `CREATE TABLE IF NOT EXISTS dead_letters (
	id        INTEGER PRIMARY KEY,
	event_id  TEXT    NOT NULL,
	effect    TEXT    NOT NULL,
	attempts  INTEGER NOT NULL,
	error     TEXT    NOT NULL,
	rejection TEXT,
	time      TEXT    NOT NULL,
	event     TEXT    NOT NULL
)`

// LogSchema is the D1 schema of a context: the global log, the dead
// letters and the projections' checkpoints (the projections' own tables
// are made by the projector, from their definitions). Every statement is
// idempotent.
var LogSchema = []string{EventsSchema, DeadLettersSchema, rows.CheckpointDDL}

// Migration is the D1 migration `cuesource worker build` writes
// (migrations/0001_cuesource.sql): LogSchema as one SQL file.
func Migration() []byte {
	var b strings.Builder
	b.WriteString("-- Written by `cuesource worker build`: the global log of the context.\n")
	for _, s := range LogSchema {
		b.WriteString(strings.TrimSpace(s))
		b.WriteString(";\n\n")
	}
	return []byte(b.String())
}

// ---- Migration 0002: events record their meta. ----------------------

// MetaMigration is the D1 migration `cuesource worker build` writes as
// migrations/0002_meta.sql: the log's events gain a meta column, the JSON
// metadata an event records as natively (its actor, correlation and
// causation ids and the context's declared metadata; NULL for an event
// written without). A separate migration, after Migration's schema, so
// that a database made before it gains the column when it is applied
// (wrangler applies each migration file once).
func MetaMigration() []byte {
	return []byte("-- Written by `cuesource worker build`: events record their meta.\n" + AddMetaColumn + ";\n")
}

// AddMetaColumn adds the meta column to an events table: the log's (by
// MetaMigration) and an object's (by ObjectMigrations).
const AddMetaColumn = `ALTER TABLE events ADD COLUMN meta TEXT`

// Migrations are the D1 migration files `cuesource worker build` writes,
// by name: applied in name order, each once.
func Migrations() map[string][]byte {
	return map[string][]byte{"0001_cuesource.sql": Migration(), "0002_meta.sql": MetaMigration(), ArchiveMigrationName: ArchiveMigration(),
		HotLogMigrationName: HotLogMigration()}
}

// ---- end of migration 0002 -------------------------------------------

// EventColumns are the columns of the log's events in the order [Event]
// decodes them (meta: see [MetaMigration]).
const EventColumns = `position, id, aggregate, instance, version, type, schema_version, time, command_id, payload, meta`

// MaxForward is how many events one forward writes: an instance's
// unforwarded events go in runs of at most this many, oldest first. D1
// bounds a batch's statements and a statement's size.
const MaxForward = 50

// The log's statements.
const (
	// Forward (id, aggregate, instance, version, type, schema_version,
	// time, command_id, payload, meta) appends one event unless its id is in
	// the log already: a forward that was applied but not acknowledged is
	// retried harmlessly, and an ignored insert takes no position. Run in
	// one batch with the rest of its run and [Positions].
	Forward = `INSERT INTO events (` + EventColumns + `)
SELECT (SELECT COALESCE(MAX(position), 0) + 1 FROM events), ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10
WHERE NOT EXISTS (SELECT 1 FROM events WHERE id = ?1)`
	// Positions (ids as a JSON array) reads (id, position) of the events
	// with those ids.
	Positions = `SELECT id, position FROM events WHERE id IN (SELECT value FROM json_each(?1))`
	// EventsAfter (after, limit) reads EventColumns of the events after a
	// position: the projector's read, bounded by its batch.
	EventsAfter = `SELECT ` + EventColumns + ` FROM events WHERE position > ?1 ORDER BY position LIMIT ?2`
	// Head reads the last position of the log, 0 when it is empty.
	Head = `SELECT COALESCE(MAX(position), 0) FROM events`
)

// ReadAll (after, limit, bound) reads a page of the log after a position,
// EventColumns, by the page rule of [store.PageSQL] (bound is
// [store.PageBytes]).
var ReadAll = store.PageSQL(EventColumns, `position > ?1`, `position`, `?2`, `?3`)

// DeadLetterColumns are the columns [DeadLetter] decodes, in its order.
const DeadLetterColumns = `id, event_id, effect, attempts, error, rejection, time`

// The dead letters' statements.
const (
	// DeadLetterAdd (event_id, effect, attempts, error, rejection or
	// NULL, time, event as JSON) records a delivery that gave up.
	DeadLetterAdd = `INSERT INTO dead_letters (event_id, effect, attempts, error, rejection, time, event) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)`
	// DeadLetterList reads DeadLetterColumns of every dead letter, oldest
	// first.
	DeadLetterList = `SELECT ` + DeadLetterColumns + ` FROM dead_letters ORDER BY id`
	// DeadLetterGet (id) reads (effect, event) of one: what a redelivery
	// sends.
	DeadLetterGet = `SELECT effect, event FROM dead_letters WHERE id = ?1`
	// DeadLetterRemove (id) removes one, answering its id: no row says
	// there was none (a discard, or a redelivery once sent).
	DeadLetterRemove = `DELETE FROM dead_letters WHERE id = ?1 RETURNING id`
)

// The projector's checkpoint statements on D1 are the native ones
// (package rows), the Worker's projector keeping the same table, and two
// of its own.
const (
	// CheckpointRebuild (name, hash, updated) starts a projection over
	// from the beginning of the log: rebuilding, or running when the log
	// is empty, as natively.
	CheckpointRebuild = `INSERT INTO projections (name, position, hash, state, error, error_position, updated)
	VALUES (?1, 0, ?2, CASE WHEN EXISTS (SELECT 1 FROM events) THEN 'rebuilding' ELSE 'running' END, NULL, NULL, ?3)
	ON CONFLICT (name) DO UPDATE SET position = 0, hash = excluded.hash, state = excluded.state,
		error = NULL, error_position = NULL, updated = excluded.updated`
	// CheckpointAdvance (to, state, updated, name, from) moves a
	// checkpoint that is still at from and has not failed, setting its
	// state (a rebuild ends running at the head).
	CheckpointAdvance = `UPDATE projections SET position = ?1, state = ?2, updated = ?3 WHERE name = ?4 AND position = ?5 AND state <> 'failed'`

	CheckpointAll    = rows.CheckpointAll
	CheckpointSet    = rows.CheckpointSet
	CheckpointFail   = rows.CheckpointFail
	CheckpointSkip   = rows.CheckpointSkip
	CheckpointResume = rows.CheckpointResume
)
