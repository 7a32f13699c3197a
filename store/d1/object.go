package d1

import (
	"strconv"

	"github.com/cuesource/cuesource/store"
)

// ObjectSchema is the schema of an Aggregate Durable Object's SQLite
// storage, applied (idempotently) whenever the object starts: its one
// instance row, its events (position is the event's place in the global
// log, NULL until forwarded), idempotency records, the outbox of
// deliveries owed and the forwarding's failure count; the unique keys the
// instance holds (held_keys, written in the transaction of the events
// that claim or release them: the truth of who holds a key); and, for an
// object that stands for one unique key rather than an instance, the
// instance it last reserved the key for (key_holder). The tables added
// later are created by the same statement in an object made before them:
// CREATE TABLE IF NOT EXISTS is the migration.
const ObjectSchema = `
CREATE TABLE IF NOT EXISTS instance (
  k         INTEGER PRIMARY KEY CHECK (k = 1),
  aggregate TEXT    NOT NULL,
  id        TEXT    NOT NULL,
  version   INTEGER NOT NULL,
  state     TEXT
);
CREATE TABLE IF NOT EXISTS events (
  version        INTEGER PRIMARY KEY,
  id             TEXT    NOT NULL UNIQUE,
  type           TEXT    NOT NULL,
  schema_version INTEGER NOT NULL,
  time           TEXT    NOT NULL,
  command_id     TEXT    NOT NULL,
  payload        TEXT,
  position       INTEGER
);
CREATE INDEX IF NOT EXISTS events_unforwarded ON events (version) WHERE position IS NULL;
CREATE TABLE IF NOT EXISTS idempotency (
  key          TEXT NOT NULL PRIMARY KEY,
  request_hash TEXT NOT NULL,
  response     TEXT,
  time         TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS outbox (
  seq        INTEGER PRIMARY KEY AUTOINCREMENT,
  event_id   TEXT    NOT NULL,
  consumer   TEXT    NOT NULL,
  attempts   INTEGER NOT NULL DEFAULT 0,
  due        INTEGER NOT NULL DEFAULT 0,
  last_error TEXT
);
CREATE TABLE IF NOT EXISTS forwarding (
  k        INTEGER PRIMARY KEY CHECK (k = 1),
  failures INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS held_keys (
  constraint_name TEXT NOT NULL PRIMARY KEY,
  key             TEXT NOT NULL
);
` + KeySchema

// KeySchema is the schema of an object that stands for one unique key, its
// holder alone: such an object applies it instead of ObjectSchema when it
// knows its name (ObjectSchema has the table too, for one that does not).
const KeySchema = `
CREATE TABLE IF NOT EXISTS key_holder (
  k          INTEGER PRIMARY KEY CHECK (k = 1),
  instance   TEXT NOT NULL,
  command_id TEXT NOT NULL
);`

// ObjectEventColumns are the columns of an object's events that its reads
// answer (the aggregate and instance are the object's; meta: see
// [ObjectMigrations]).
const ObjectEventColumns = `version, id, type, schema_version, time, command_id, payload, position, meta`

// ---- Object migration: events record their meta. ---------------------

// ObjectMigration is a change to an object's storage made after
// ObjectSchema (which, applied at every start, only creates what is
// missing): Check reads a row when the change is in place already,
// Apply makes it. The shell runs them in order when an object starts.
type ObjectMigration struct {
	Check string `json:"check"`
	Apply string `json:"apply"`
}

// ObjectMigrations are an object's migrations, in an object made before
// them as in a new one: its events gain the meta column (as the log's do
// with MetaMigration); its instance row gains first, the position of its
// first event in the log (ObjectSetFirst), set from its version 1 when
// the object still holds it (else NULL: unknown).
var ObjectMigrations = []ObjectMigration{
	{Check: `SELECT 1 FROM pragma_table_info('events') WHERE name = 'meta'`, Apply: AddMetaColumn},
	{Check: `SELECT 1 FROM pragma_table_info('instance') WHERE name = 'first'`,
		Apply: `ALTER TABLE instance ADD COLUMN first INTEGER; UPDATE instance SET first = (SELECT position FROM events WHERE version = 1)`},
}

// ---- end of the object migration -------------------------------------

// An object's statements. Parameters are positional (?), in the order
// given; times are [FormatTime] text, except the outbox's due, which is
// milliseconds since the Unix epoch.
const (
	// ObjectInstance reads (version, state) of the instance; no row: none yet.
	ObjectInstance = `SELECT version, state FROM instance`
	// ObjectInstanceKey reads (aggregate, id): which instance the object holds.
	ObjectInstanceKey = `SELECT aggregate, id FROM instance`
	// ObjectPutInstance (aggregate, id, version, state) writes the instance row.
	ObjectPutInstance = `INSERT INTO instance (k, aggregate, id, version, state) VALUES (1, ?, ?, ?, ?) ON CONFLICT (k) DO UPDATE SET version = excluded.version, state = excluded.state`
	// ObjectSetState (state) replaces the state (a rehydration's fix).
	ObjectSetState = `UPDATE instance SET state = ?`

	// ObjectAddEvent (version, id, type, schema_version, time,
	// command_id, payload, meta) appends an event, not yet forwarded.
	ObjectAddEvent = `INSERT INTO events (version, id, type, schema_version, time, command_id, payload, meta) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`
	// ObjectAllEvents reads every event, oldest first.
	ObjectAllEvents = `SELECT ` + ObjectEventColumns + ` FROM events ORDER BY version`
	// ObjectEventByID (id) reads one event.
	ObjectEventByID = `SELECT ` + ObjectEventColumns + ` FROM events WHERE id = ?`
	// ObjectEvents (after) reads every event after a version.
	ObjectEvents = `SELECT ` + ObjectEventColumns + ` FROM events WHERE version > ?1 ORDER BY version`
	// ObjectSetPosition (position, id) records where an event is in the
	// global log: it is forwarded.
	ObjectSetPosition = `UPDATE events SET position = ? WHERE id = ?`
	// ObjectSetFirst (position) records the position of the instance's
	// first event, with the forwarding that learns it: before the object
	// can let go of the event, the start of a scan of the log for the
	// events it let go.
	ObjectSetFirst = `UPDATE instance SET first = ? WHERE first IS NULL`
	// ObjectFirst reads (p): the position of the instance's first event,
	// NULL when unknown.
	ObjectFirst = `SELECT first AS p FROM instance`

	// ObjectAddIdempotency (key, request_hash, response, time).
	ObjectAddIdempotency = `INSERT INTO idempotency (key, request_hash, response, time) VALUES (?, ?, ?, ?)`
	// ObjectIdempotency (key) reads (key, request_hash, response, time).
	ObjectIdempotency = `SELECT key, request_hash, response, time FROM idempotency WHERE key = ?`
	// ObjectIdempotencyExpire (time) removes the records older than it.
	ObjectIdempotencyExpire = `DELETE FROM idempotency WHERE time < ?`
	// ObjectIdempotencyOldest reads (t): the oldest record's time, NULL if none.
	ObjectIdempotencyOldest = `SELECT MIN(time) AS t FROM idempotency`

	// ObjectAddOutbox (event_id, consumer) owes a delivery, due now.
	ObjectAddOutbox = `INSERT INTO outbox (event_id, consumer) VALUES (?, ?)`
	// ObjectOutboxDue (now) reads (seq, event_id, consumer, attempts) of
	// the deliveries due, in commit order.
	ObjectOutboxDue = `SELECT seq, event_id, consumer, attempts FROM outbox WHERE due <= ? ORDER BY seq`
	// ObjectOutboxNextDue reads (due): when the next delivery is due, NULL if none.
	ObjectOutboxNextDue = `SELECT MIN(due) AS due FROM outbox`
	// ObjectOutboxRetry (due, last_error, seq) counts a failed attempt.
	ObjectOutboxRetry = `UPDATE outbox SET attempts = attempts + 1, due = ?, last_error = ? WHERE seq = ?`
	// ObjectOutboxRemove (seq) settles a delivery.
	ObjectOutboxRemove = `DELETE FROM outbox WHERE seq = ?`

	// ObjectForwardingFailures reads (failures) of the forwarding, no row: none.
	ObjectForwardingFailures = `SELECT failures FROM forwarding`
	// ObjectForwardingSet (failures) counts the forwarding's failures in a row.
	ObjectForwardingSet = `INSERT INTO forwarding (k, failures) VALUES (1, ?) ON CONFLICT (k) DO UPDATE SET failures = excluded.failures`
	// ObjectForwardingClear forgets them: the forwarding succeeded.
	ObjectForwardingClear = `DELETE FROM forwarding`

	// ObjectHeldKeys reads (constraint_name, key): every unique key the
	// instance holds, at most one per constraint.
	ObjectHeldKeys = `SELECT constraint_name, key FROM held_keys ORDER BY constraint_name`
	// ObjectHoldKey (constraint_name, key) has the instance hold a key,
	// replacing the one it held under that constraint.
	ObjectHoldKey = `INSERT INTO held_keys (constraint_name, key) VALUES (?, ?) ON CONFLICT (constraint_name) DO UPDATE SET key = excluded.key`
	// ObjectReleaseKey (constraint_name) lets go of the key held under a
	// constraint.
	ObjectReleaseKey = `DELETE FROM held_keys WHERE constraint_name = ?`

	// KeyHolder reads (instance, command_id) of a key's object: the
	// instance it last reserved the key for and the command that asked;
	// no row: never reserved.
	KeyHolder = `SELECT instance, command_id FROM key_holder`
	// KeySetHolder (instance, command_id) records a reservation.
	KeySetHolder = `INSERT INTO key_holder (k, instance, command_id) VALUES (1, ?, ?) ON CONFLICT (k) DO UPDATE SET instance = excluded.instance, command_id = excluded.command_id`
)

// ObjectUnforwarded reads the next run (at most MaxForward) of events not
// yet in the global log, oldest first.
var ObjectUnforwarded = `SELECT ` + ObjectEventColumns + ` FROM events WHERE position IS NULL ORDER BY version LIMIT ` + strconv.Itoa(MaxForward)

// ObjectEventsPage (after, limit, bound) reads a page of an object's
// events after a version by the page rule of [store.PageSQL].
var ObjectEventsPage = store.PageSQL(ObjectEventColumns, `version > ?1`, `version`, `?2`, `?3`)
