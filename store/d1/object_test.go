package d1_test

import (
	"database/sql"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cuesource/cuesource/store"
	"github.com/cuesource/cuesource/store/d1"
)

// An object's statements, each run once on its schema as the shell runs
// them: a command's writes, the forwarding's, the outbox's and the
// alarm's reads.
func TestObjectStatements(t *testing.T) {
	db := open(t, d1.ObjectSchema)
	_, err := db.Exec(d1.ObjectSchema)
	require.NoError(t, err, "the schema applies at every start")
	migrateObject(t, db)
	migrateObject(t, db) // as at the next start: applied once
	assert.Empty(t, rowsOf(t, db, d1.ObjectInstance), "no instance yet")

	var stmts []stmt
	for v := int64(1); v <= d1.MaxForward+2; v++ {
		stmts = append(stmts, stmt{d1.ObjectAddEvent, []any{v, "e-" + strconv.FormatInt(v, 10), "Happened", 1, "2026-01-02T03:04:05.006Z", "c-1", `{"v":1}`, `{"actor":"ada"}`}})
	}
	stmts = append(stmts,
		stmt{d1.ObjectPutInstance, []any{"cart", "a", d1.MaxForward + 2, `{"open":true}`}},
		stmt{d1.ObjectAddIdempotency, []any{"k1", "h1", `{"status":201}`, "2026-01-02T03:04:05.006Z"}},
		stmt{d1.ObjectAddIdempotency, []any{"k2", "h2", nil, "2026-01-03T03:04:05.006Z"}},
		stmt{d1.ObjectAddOutbox, []any{"e-1", "notify"}},
		stmt{d1.ObjectAddOutbox, []any{"e-2", "notify"}},
	)
	batch(t, db, stmts...)
	assert.Equal(t, [][]any{{int64(d1.MaxForward + 2), `{"open":true}`}}, rowsOf(t, db, d1.ObjectInstance))
	assert.Equal(t, [][]any{{"cart", "a"}}, rowsOf(t, db, d1.ObjectInstanceKey))
	// A second put replaces the version and state, not the key.
	batch(t, db, stmt{d1.ObjectPutInstance, []any{"other", "b", 60, `{}`}})
	assert.Equal(t, [][]any{{"cart", "a"}}, rowsOf(t, db, d1.ObjectInstanceKey))
	batch(t, db, stmt{d1.ObjectSetState, []any{`{"open":false}`}})
	assert.Equal(t, [][]any{{int64(60), `{"open":false}`}}, rowsOf(t, db, d1.ObjectInstance))

	// Forwarding: runs of MaxForward, oldest first, until all have a position.
	un := rowsOf(t, db, d1.ObjectUnforwarded)
	require.Len(t, un, d1.MaxForward)
	assert.Equal(t, int64(1), un[0][0])
	for _, r := range un {
		batch(t, db, stmt{d1.ObjectSetPosition, []any{r[0], r[1]}})
	}
	un = rowsOf(t, db, d1.ObjectUnforwarded)
	require.Len(t, un, 2)
	assert.Equal(t, int64(d1.MaxForward+1), un[0][0])
	batch(t, db, stmt{d1.ObjectForwardingSet, []any{1}}, stmt{d1.ObjectForwardingSet, []any{2}})
	assert.Equal(t, [][]any{{int64(2)}}, rowsOf(t, db, d1.ObjectForwardingFailures))
	batch(t, db, stmt{d1.ObjectForwardingClear, nil})
	assert.Empty(t, rowsOf(t, db, d1.ObjectForwardingFailures))

	// Reads of the events: all, after a version, a page, by id.
	assert.Len(t, rowsOf(t, db, d1.ObjectAllEvents), d1.MaxForward+2)
	assert.Len(t, rowsOf(t, db, d1.ObjectEvents, 50), 2)
	assert.Len(t, rowsOf(t, db, d1.ObjectEventsPage, 0, 3, store.PageBytes), 3)
	byID := rowsOf(t, db, d1.ObjectEventByID, "e-2")
	require.Len(t, byID, 1)
	assert.Equal(t, []any{int64(2), "e-2", "Happened", int64(1), "2026-01-02T03:04:05.006Z", "c-1", `{"v":1}`, int64(2), `{"actor":"ada"}`}, byID[0])

	// Idempotency: read, the oldest, expiry by time text.
	assert.Equal(t, [][]any{{"k2", "h2", nil, "2026-01-03T03:04:05.006Z"}}, rowsOf(t, db, d1.ObjectIdempotency, "k2"))
	assert.Equal(t, [][]any{{"2026-01-02T03:04:05.006Z"}}, rowsOf(t, db, d1.ObjectIdempotencyOldest))
	batch(t, db, stmt{d1.ObjectIdempotencyExpire, []any{"2026-01-03T00:00:00.000Z"}})
	assert.Equal(t, [][]any{{"2026-01-03T03:04:05.006Z"}}, rowsOf(t, db, d1.ObjectIdempotencyOldest))

	// Outbox: due in commit order, a retry later, settled.
	assert.Equal(t, [][]any{{int64(1), "e-1", "notify", int64(0)}, {int64(2), "e-2", "notify", int64(0)}}, rowsOf(t, db, d1.ObjectOutboxDue, 1000))
	batch(t, db, stmt{d1.ObjectOutboxRetry, []any{5000, "503", 1}}, stmt{d1.ObjectOutboxRemove, []any{2}})
	assert.Empty(t, rowsOf(t, db, d1.ObjectOutboxDue, 1000))
	assert.Equal(t, [][]any{{int64(5000)}}, rowsOf(t, db, d1.ObjectOutboxNextDue))
	assert.Equal(t, [][]any{{int64(1), "e-1", "notify", int64(1)}}, rowsOf(t, db, d1.ObjectOutboxDue, 5000))
}

// migrateObject runs d1.ObjectMigrations as the shell does when an object
// starts: each whose check reads no row.
func migrateObject(t *testing.T, db *sql.DB) {
	t.Helper()
	for _, m := range d1.ObjectMigrations {
		if len(rowsOf(t, db, m.Check)) == 0 {
			_, err := db.Exec(m.Apply)
			require.NoError(t, err)
		}
	}
}

// An object made before its events had a meta column gains it when it
// starts again: its old events read with a NULL meta, new ones with theirs.
func TestObjectMigrationAddsMeta(t *testing.T) {
	db := open(t, d1.ObjectSchema) // its events without meta, as they were made
	assert.Empty(t, rowsOf(t, db, d1.ObjectMigrations[0].Check))
	_, err := db.Exec(`INSERT INTO events (version, id, type, schema_version, time, command_id, payload) VALUES (1, 'e-1', 'Happened', 1, '2026-01-02T03:04:05.006Z', 'c-1', '{}')`)
	require.NoError(t, err)
	migrateObject(t, db)
	batch(t, db, stmt{d1.ObjectAddEvent, []any{2, "e-2", "Happened", 1, "2026-01-02T03:04:05.006Z", "c-2", `{}`, `{"actor":"ada"}`}})
	rows := rowsOf(t, db, d1.ObjectAllEvents)
	require.Len(t, rows, 2)
	assert.Nil(t, rows[0][8])
	assert.Equal(t, `{"actor":"ada"}`, rows[1][8])
}

// An object made before it records first gains it when it starts again:
// from its version 1 when it holds that (NULL, unknown, when it let go of
// it); ObjectSetFirst writes it once.
func TestObjectMigrationAddsFirst(t *testing.T) {
	for _, c := range []struct {
		name  string
		holds string // its events
		want  any
	}{
		{"holds version 1", `(1, 'e-1', 'Happened', 1, 't', 'c-1', 7), (2, 'e-2', 'Happened', 1, 't', 'c-2', 9)`, int64(7)},
		{"let go of version 1", `(2, 'e-2', 'Happened', 1, 't', 'c-2', 9)`, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			db := open(t, d1.ObjectSchema)
			_, err := db.Exec(`INSERT INTO instance (k, aggregate, id, version) VALUES (1, 'cart', 'c1', 2);
				INSERT INTO events (version, id, type, schema_version, time, command_id, position) VALUES ` + c.holds)
			require.NoError(t, err)
			migrateObject(t, db)
			assert.Equal(t, [][]any{{c.want}}, rowsOf(t, db, d1.ObjectFirst))
			batch(t, db, stmt{d1.ObjectSetFirst, []any{11}})
			if c.want == nil {
				c.want = int64(11)
			}
			assert.Equal(t, [][]any{{c.want}}, rowsOf(t, db, d1.ObjectFirst), "written once")
		})
	}
}

// The unique keys an instance holds and a key object's holder: claimed,
// replaced, released, read; and an object made before these tables gets
// them when it starts (its schema is applied again).
func TestObjectKeys(t *testing.T) {
	db := open(t, objectSchemaBeforeKeys)
	batch(t, db, stmt{d1.ObjectPutInstance, []any{"cart", "a", 1, `{}`}})
	_, err := db.Exec(d1.ObjectSchema)
	require.NoError(t, err, "the schema applies over an object made before the key tables")
	assert.Equal(t, [][]any{{"cart", "a"}}, rowsOf(t, db, d1.ObjectInstanceKey), "its rows stay")
	assert.Empty(t, rowsOf(t, db, d1.ObjectHeldKeys), "it holds no key")

	batch(t, db, stmt{d1.ObjectHoldKey, []any{"openCartPerClient", "c-1"}}, stmt{d1.ObjectHoldKey, []any{"byEmail", "a@x"}})
	assert.Equal(t, [][]any{{"byEmail", "a@x"}, {"openCartPerClient", "c-1"}}, rowsOf(t, db, d1.ObjectHeldKeys), "sorted by constraint")
	batch(t, db, stmt{d1.ObjectHoldKey, []any{"openCartPerClient", "c-2"}})
	assert.Equal(t, [][]any{{"byEmail", "a@x"}, {"openCartPerClient", "c-2"}}, rowsOf(t, db, d1.ObjectHeldKeys), "a claim replaces the key held under its constraint")
	batch(t, db, stmt{d1.ObjectReleaseKey, []any{"openCartPerClient"}}, stmt{d1.ObjectReleaseKey, []any{"never"}})
	assert.Equal(t, [][]any{{"byEmail", "a@x"}}, rowsOf(t, db, d1.ObjectHeldKeys))

	// A key's object, with the object schema or its own: no holder, then
	// the last reservation.
	for _, kdb := range []*sql.DB{db, open(t, d1.KeySchema)} {
		assert.Empty(t, rowsOf(t, kdb, d1.KeyHolder))
		batch(t, kdb, stmt{d1.KeySetHolder, []any{"a", "cmd-1"}})
		batch(t, kdb, stmt{d1.KeySetHolder, []any{"b", "cmd-2"}})
		assert.Equal(t, [][]any{{"b", "cmd-2"}}, rowsOf(t, kdb, d1.KeyHolder))
	}
}

// objectSchemaBeforeKeys is ObjectSchema as objects were made before
// unique keys.
const objectSchemaBeforeKeys = `
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
);`
