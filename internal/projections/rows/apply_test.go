package rows_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cuesource/cuesource/compiler"
	"github.com/cuesource/cuesource/internal/projections/rows"
	"github.com/cuesource/cuesource/interpreter"
	"github.com/cuesource/cuesource/store"
	"github.com/cuesource/cuesource/value"
)

const ctx = `
package bank

import "github.com/cuesource/cuesource/schema"

schema.#Context & {
	name: "bank"
	aggregates: acct: {
		#state: {open: bool}
		initial: open: false
		commands: Open: {
			instance: "new"
			emit: [{event: "Opened"}]
		}
		events: {
			Opened: apply: open: "true"
			Deposited: #payload: {amount: int, tag: string}
			Closed: apply: open: "false"
			Noted: {}
		}
	}
	projections: accounts: {
		columns: {balance: "INTEGER", applied: "INTEGER", tags: "JSON", mean: "REAL", last: "TEXT"}
		indexes: by_balance: ["balance", "last"]
		on: {
			"acct.Opened": upsert: {balance: "0", applied: "(row.applied ?? 0) + 1", last: "meta.eventId"}
			"acct.Deposited": upsert: {
				balance: "(row.balance ?? 0) + event.amount"
				applied: "(row.applied ?? 0) + 1"
				tags:    "row.tags == nil ? [event.tag] : append(row.tags, event.tag)"
				mean:    "((row.balance ?? 0) + event.amount) / ((row.applied ?? 0) + 1)"
				last:    "meta.eventId"
			}
			"acct.Closed": delete: true
		}
	}
}
`

func accounts(t *testing.T) *rows.Table {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ctx.cue")
	require.NoError(t, os.WriteFile(path, []byte(ctx), 0o644))
	m, err := compiler.Compile(path)
	require.NoError(t, err)
	p, err := interpreter.Compile(m)
	require.NoError(t, err)
	return rows.NewTable(p.Projections["accounts"])
}

// memTable holds rows as a database gives them back: natively (the
// values bound) or, like D1, as JSON decoded by value.Decode.
type memTable struct {
	t      *rows.Table
	asJSON bool
	rows   map[string][]any // key -> bound values after the key
}

// run applies evs as a runtime does: load, Apply, write back.
func (m *memTable) run(t *testing.T, evs []store.Event) rows.Outcome {
	t.Helper()
	b := rows.Prepare(m.t, evs, nil)
	loaded := map[string]*rows.Row{}
	for _, k := range b.Keys {
		vals, ok := m.rows[k]
		if !ok {
			continue
		}
		if m.asJSON {
			j, err := json.Marshal(vals)
			require.NoError(t, err)
			vals = value.MustDecode(j).([]any)
		}
		r, err := m.t.Load(vals)
		require.NoError(t, err)
		loaded[k] = r
	}
	out := b.Apply(loaded)
	for _, k := range b.Keys {
		switch r := loaded[k]; {
		case !r.Dirty:
		case r.Deleted:
			delete(m.rows, k)
		default:
			m.rows[k] = m.t.Args(nil, k, r)[1:]
		}
	}
	return out
}

func events(from int64, evs ...store.Event) []store.Event {
	for i := range evs {
		evs[i].Position = from + int64(i)
		evs[i].Aggregate = "acct"
		evs[i].ID = fmt.Sprintf("e%d", evs[i].Position)
		evs[i].Time = time.Date(2026, 3, 1, 9, 30, 0, 0, time.UTC)
	}
	return evs
}

func ev(id, typ, payload string) store.Event {
	return store.Event{Instance: id, Type: typ, Payload: json.RawMessage(payload)}
}

// The batch rules in memory, and the same rows whichever way the
// database gives them back.
func TestApply(t *testing.T) {
	tbl := accounts(t)
	var names []string
	for _, c := range tbl.Cols {
		names = append(names, c.Name)
	}
	require.Equal(t, []string{"applied", "balance", "last", "mean", "tags"}, names)
	var got []map[string][]any
	for _, asJSON := range []bool{false, true} {
		m := &memTable{t: tbl, asJSON: asJSON, rows: map[string][]any{}}
		out := m.run(t, events(1,
			ev("a", "Opened", `{}`),
			ev("a", "Deposited", `{"amount":4,"tag":"x"}`),
			ev("b", "Opened", `{}`),
			ev("a", "Noted", `{}`), // no handler: passed over
			ev("a", "Deposited", `{"amount":2,"tag":"y"}`),
		))
		assert.Equal(t, rows.Outcome{Last: 5}, out)
		assert.Equal(t, map[string][]any{ // applied, balance, last, mean, tags
			"a": {int64(3), int64(6), "e5", 2.0, `["x","y"]`},
			"b": {int64(1), int64(0), "e3", nil, nil},
		}, m.rows)

		// A value the column does not take stops the batch there; the
		// rows keep what the events before it did.
		out = m.run(t, events(6,
			ev("b", "Deposited", `{"amount":1,"tag":"z"}`),
			ev("b", "Deposited", `{"amount":0.5,"tag":"z"}`),
			ev("a", "Closed", `{}`),
		))
		assert.Equal(t, rows.Outcome{Last: 6, Fail: &rows.Failure{Position: 7,
			Msg: "acct.Deposited at position 7: column balance: INTEGER does not take the number 1.5"}}, out)
		assert.Equal(t, []any{int64(2), int64(1), "e6", 0.5, `["z"]`}, m.rows["b"])
		assert.Contains(t, m.rows, "a")

		// A payload that does not decode stops the batch before it, after
		// the events before it are applied.
		out = m.run(t, events(7, ev("a", "Closed", `{}`), ev("b", "Deposited", `{`)))
		assert.Equal(t, int64(7), out.Last)
		require.NotNil(t, out.Fail)
		assert.Equal(t, int64(8), out.Fail.Position)
		assert.Contains(t, out.Fail.Msg, "acct.Deposited at position 8: payload: ")
		assert.NotContains(t, m.rows, "a")
		got = append(got, m.rows)
	}
	assert.Equal(t, got[0], got[1])
}

func TestPrepare(t *testing.T) {
	tbl := accounts(t)
	evs := events(10, ev("b", "Opened", `{}`), ev("a", "Noted", `{}`), ev("a", "Opened", `{}`), ev("b", "Closed", `{}`))
	b := rows.Prepare(tbl, evs, rows.DecodeAll(tbl, evs))
	assert.Equal(t, []string{"b", "a"}, b.Keys)
	assert.Nil(t, b.Fail)
	out := b.Apply(map[string]*rows.Row{})
	assert.Equal(t, rows.Outcome{Last: 13}, out)

	// Nothing handled: nothing to load, every event passed over.
	b = rows.Prepare(tbl, events(20, ev("a", "Noted", `{}`)), nil)
	assert.Empty(t, b.Keys)
	assert.Equal(t, rows.Outcome{Last: 20}, b.Apply(nil))
}
