package projections_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cuesource/cuesource"
	"github.com/cuesource/cuesource/compiler"
	"github.com/cuesource/cuesource/interpreter"
	"github.com/cuesource/cuesource/projections"
	"github.com/cuesource/cuesource/store"
	"github.com/cuesource/cuesource/store/sqlite"
)

// bank is the test context: accounts (inline, keyed by instance, deleted
// on Closed) and by_tag (async, keyed by a payload field). Every handler
// counts the events it applied to its row in `applied`.
const bank = `
package bank

import "github.com/cuesource/cuesource/schema"

schema.#Context & {
	name: "bank"
	aggregates: acct: {
		#state: {open: bool, balance: int}
		initial: {open: false, balance: 0}
		commands: {
			Open: {
				instance: "new"
				emit: [{event: "Opened"}]
			}
			Deposit: {
				#payload: {amount: int, tag: string}
				require: "open": "state.open"
				emit: [{event: "Deposited", payload: {amount: "cmd.amount", tag: "cmd.tag"}}]
			}
			Close: {
				require: "open": "state.open"
				emit: [{event: "Closed"}]
			}
			Reopen: {
				require: "closed": "!state.open"
				emit: [{event: "Opened"}]
			}
		}
		events: {
			Opened: apply: open: "true"
			Deposited: {
				#payload: {amount: int, tag: string}
				apply: balance: "state.balance + event.amount"
			}
			Closed: apply: open: "false"
		}
	}
	projections: {
		accounts: {
			mode: "inline"
			columns: {balance: "INTEGER", applied: "INTEGER", tags: "JSON", mean: "REAL", last: "TEXT"}
			indexes: by_balance: ["balance", "last"]
			on: {
				"acct.Opened": upsert: {balance: "0", applied: "(row.applied ?? 0) + 1", last: "meta.eventId"}
				"acct.Deposited": upsert: {
					balance: "(row.balance ?? 0) + event.amount"
					applied: "(row.applied ?? 0) + 1"
					tags:    "row.tags == nil ? [event.tag] : (event.tag in row.tags ? row.tags : append(row.tags, event.tag))"
					mean:    "((row.balance ?? 0) + event.amount) / ((row.applied ?? 0) + 1)"
					last:    "meta.eventId"
				}
				"acct.Closed": delete: true
			}
		}
		by_tag: {
			key: "event.tag"
			columns: {applied: "INTEGER", total: "INTEGER", first_position: "INTEGER"}
			on: "acct.Deposited": upsert: {
				applied:        "(row.applied ?? 0) + 1"
				total:          "(row.total ?? 0) + event.amount"
				first_position: "row.first_position ?? meta.position"
			}
		}
	}
	queries: {
		rich: {
			sql: "SELECT key AS account, balance, tags, mean FROM accounts WHERE balance >= COALESCE(:min, 0) ORDER BY key LIMIT COALESCE(:limit, 10)"
			#params: {min?: int, limit?: int & >0 & <=100}
		}
		tags: {
			sql: "SELECT key AS tag, applied, total FROM by_tag WHERE (:tag IS NULL OR key = :tag) ORDER BY key"
			#params: tag?: string
		}
	}
}
`

func compile(t testing.TB, src string) *interpreter.Program {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ctx.cue")
	require.NoError(t, os.WriteFile(path, []byte(src), 0o644))
	m, err := compiler.Compile(path)
	require.NoError(t, err)
	p, err := interpreter.Compile(m)
	require.NoError(t, err)
	return p
}

func openStore(t testing.TB, path string) *sqlite.Store {
	t.Helper()
	st, err := sqlite.Open(context.Background(), path, sqlite.Options{Sync: sqlite.SyncNormal})
	require.NoError(t, err)
	return st
}

// newRunner starts a runner; the cleanup closes it.
func newRunner(t testing.TB, p *interpreter.Program, st projections.Store, opt projections.Options) *projections.Runner {
	t.Helper()
	if opt.PollInterval == 0 {
		opt.PollInterval = 5 * time.Millisecond
	}
	r, err := projections.New(p, st, opt)
	require.NoError(t, err)
	require.NoError(t, r.Start(context.Background()))
	t.Cleanup(r.Close)
	return r
}

var clock = time.Date(2026, 3, 1, 9, 30, 0, 0, time.UTC)

// appender appends commits of the bank context directly to a store.
type appender struct {
	st      *sqlite.Store
	version map[string]int64
	n       int
}

func newAppender(st *sqlite.Store) *appender {
	return &appender{st: st, version: map[string]int64{}}
}

func (a *appender) commit(t testing.TB, id string, evs ...store.Event) []store.Event {
	t.Helper()
	for i := range evs {
		a.n++
		evs[i].ID = fmt.Sprintf("e%d", a.n)
		evs[i].Time = clock.Add(time.Duration(a.n) * time.Millisecond)
		evs[i].CommandID = fmt.Sprintf("c%d", a.n)
	}
	out, err := a.st.Append(context.Background(), store.Commit{Aggregate: "acct", Instance: id, ExpectedVersion: a.version[id], Events: evs})
	require.NoError(t, err)
	a.version[id] += int64(len(evs))
	return out
}

func opened() store.Event { return store.Event{Type: "Opened"} }
func closed() store.Event { return store.Event{Type: "Closed"} }
func deposited(amount int, tag string) store.Event {
	return store.Event{Type: "Deposited", Payload: json.RawMessage(fmt.Sprintf(`{"amount":%d,"tag":%q}`, amount, tag))}
}

// dump returns a table's rows, ordered, as text.
func dump(t testing.TB, st *sqlite.Store, table string) []string {
	t.Helper()
	rs, err := st.Read().Query(`SELECT * FROM "` + table + `" ORDER BY key`)
	require.NoError(t, err)
	defer rs.Close()
	cols, err := rs.Columns()
	require.NoError(t, err)
	var out []string
	for rs.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		require.NoError(t, rs.Scan(ptrs...))
		var b strings.Builder
		for i, c := range cols {
			fmt.Fprintf(&b, "%s=%T:%v ", c, vals[i], vals[i])
		}
		out = append(out, b.String())
	}
	require.NoError(t, rs.Err())
	return out
}

func status(t testing.TB, r *projections.Runner, name string) cuesource.ProjectionStatus {
	t.Helper()
	st, err := r.Status(context.Background())
	require.NoError(t, err)
	for _, s := range st {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("no projection %s", name)
	return cuesource.ProjectionStatus{}
}

// caughtUp waits until every projection is running at the head (or one
// failed, which fails the test unless allowed).
func caughtUp(t testing.TB, r *projections.Runner) {
	t.Helper()
	var st []cuesource.ProjectionStatus
	var err error
	done := func() bool {
		if st, err = r.Status(context.Background()); err != nil {
			return true // reported below
		}
		for _, s := range st {
			if s.State == projections.StateFailed {
				return true // reported below
			}
			if s.State != projections.StateRunning || s.Lag != 0 {
				return false
			}
		}
		return true
	}
	if !assert.Eventually(t, done, 20*time.Second, 2*time.Millisecond) {
		st, err := r.Status(context.Background())
		t.Fatalf("projections did not catch up: %+v %v", st, err)
	}
	// Eventually has received done's last answer: st and err are that
	// call's.
	require.NoError(t, err)
	for _, s := range st {
		require.NotEqual(t, projections.StateFailed, s.State, "%s failed: %s", s.Name, s.Error)
	}
}

// expected computes, from the log, what `applied` must be per key in
// each projection of the bank context.
func expected(t testing.TB, st *sqlite.Store) (accounts, byTag map[string]int) {
	t.Helper()
	evs, err := st.ReadAll(context.Background(), 0, 0)
	require.NoError(t, err)
	accounts, byTag = map[string]int{}, map[string]int{}
	for _, e := range evs {
		switch e.Type {
		case "Opened":
			accounts[e.Instance]++
		case "Deposited":
			accounts[e.Instance]++
			var p struct{ Tag string }
			require.NoError(t, json.Unmarshal(e.Payload, &p))
			byTag[p.Tag]++
		case "Closed":
			delete(accounts, e.Instance)
		}
	}
	return accounts, byTag
}

// applied reads the `applied` column per key.
func applied(t testing.TB, st *sqlite.Store, table string) map[string]int {
	t.Helper()
	rs, err := st.Read().Query(`SELECT key, applied FROM "` + table + `"`)
	require.NoError(t, err)
	defer rs.Close()
	out := map[string]int{}
	for rs.Next() {
		var k string
		var n int
		require.NoError(t, rs.Scan(&k, &n))
		out[k] = n
	}
	require.NoError(t, rs.Err())
	return out
}

// checkCounts requires every row to have applied exactly its events.
func checkCounts(t testing.TB, st *sqlite.Store) {
	t.Helper()
	acc, tags := expected(t, st)
	assert.Equal(t, acc, applied(t, st, "accounts"), "accounts: applied per key")
	assert.Equal(t, tags, applied(t, st, "by_tag"), "by_tag: applied per key")
}
