package edge

import (
	"encoding/json"
	"fmt"

	"github.com/cuesource/cuesource/store"
)

// LogSchema is the D1 schema of the global log, applied by the build's
// first migration (and idempotently by the shell at start, so a dev
// database needs no step). Positions are given explicitly (MAX+1 inside
// each D1 batch, which is a transaction on D1's single writer), never left
// to SQLite, which keeps them gap-free in commit order.
var LogSchema = []string{
	`CREATE TABLE IF NOT EXISTS events (
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
)`,
	DeadLettersSchema,
}

const eventColumns = `position, id, aggregate, instance, version, type, schema_version, time, command_id, payload`

var sqlReadAll = store.PageSQL(eventColumns, `position > ?1`, `position`, `?2`, `?3`)

// objectEventColumns are the columns of an Aggregate object's events table
// that the shell reads (its eventCols).
const objectEventColumns = `version, id, type, schema_version, time, command_id, payload, position`

// The reads of an instance's events in its object's storage: every one
// after a version, or a page of them (store.Page), with the parameters
// after, limit and the page's byte bound.
var (
	objectEvents     = `SELECT ` + objectEventColumns + ` FROM events WHERE version > ?1 ORDER BY version`
	objectEventsPage = store.PageSQL(objectEventColumns, `version > ?1`, `version`, `?2`, `?3`)
)

// sqlForward appends one event unless its id is in the log already: a
// forward that was applied but not acknowledged is retried harmlessly, and
// an ignored insert takes no position.
const sqlForward = `INSERT INTO events (` + eventColumns + `)
SELECT (SELECT COALESCE(MAX(position), 0) + 1 FROM events), ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9
WHERE NOT EXISTS (SELECT 1 FROM events WHERE id = ?1)`

const sqlPositions = `SELECT id, position FROM events WHERE id IN (SELECT value FROM json_each(?1))`

// MaxForward is how many events one forward writes; the shell sends an
// instance's unforwarded events in runs of at most this many, oldest
// first. D1 bounds a batch's statements and a statement's size.
const MaxForward = 50

type forwardInput struct {
	Events []wireEvent `json:"events"`
}

// Forwarded maps event ids to their positions in the global log.
type Forwarded struct {
	Positions map[string]int64 `json:"positions"`
}

// forward writes a run of one instance's events to the global log, in
// order, and answers their positions: the object records them and stops
// retrying those events. Done is Forwarded.
func (c *Core) forward(in []byte, h *host) (any, error) {
	var fi forwardInput
	if err := decodeInput(in, &fi); err != nil {
		return nil, err
	}
	if len(fi.Events) > MaxForward {
		return nil, fmt.Errorf("forward takes at most %d events, got %d", MaxForward, len(fi.Events))
	}
	ids := make([]string, 0, len(fi.Events))
	stmts := make([]Statement, 0, len(fi.Events)+1)
	for _, e := range fi.Events {
		ids = append(ids, e.ID)
		stmts = append(stmts, Statement{SQL: sqlForward, Params: []any{e.ID, e.Aggregate, e.Instance, e.Version, e.Type, e.SchemaVersion, e.Time, e.CommandID, e.Payload}})
	}
	idList, _ := json.Marshal(ids)
	stmts = append(stmts, Statement{SQL: sqlPositions, Params: []any{string(idList)}})
	var res [][]struct {
		ID       string `json:"id"`
		Position int64  `json:"position"`
	}
	out := Forwarded{Positions: map[string]int64{}}
	if err := h.do(Op{Kind: "batch", Statements: stmts}, &res); err != nil {
		return nil, err
	}
	if len(res) != len(stmts) {
		return nil, fmt.Errorf("forward: batch answered %d results for %d statements", len(res), len(stmts))
	}
	for _, r := range res[len(res)-1] {
		out.Positions[r.ID] = r.Position
	}
	for _, id := range ids {
		if _, ok := out.Positions[id]; !ok {
			return nil, fmt.Errorf("forward: event %s is not in the log after its insert", id)
		}
	}
	return out, nil
}
