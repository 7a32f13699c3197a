package d1_test

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	_ "modernc.org/sqlite"

	"github.com/cuesource/cuesource/store"
	"github.com/cuesource/cuesource/store/d1"
)

// The statements run here as the shell runs them on D1: a batch is one
// transaction (D1's is), results are read column by column into any, as
// D1's raw rows are, and decoded by the package's decoders.

func open(t *testing.T, schema ...string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(t.TempDir(), "d1.db"))
	require.NoError(t, err)
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	for _, s := range schema {
		_, err := db.Exec(s)
		require.NoError(t, err, s)
	}
	return db
}

type stmt struct {
	sql    string
	params []any
}

// batch runs stmts in one transaction and answers each one's rows.
func batch(t *testing.T, db *sql.DB, stmts ...stmt) [][][]any {
	t.Helper()
	tx, err := db.Begin()
	require.NoError(t, err)
	defer tx.Rollback()
	var out [][][]any
	for _, s := range stmts {
		out = append(out, rowsOf(t, tx, s.sql, s.params...))
	}
	require.NoError(t, tx.Commit())
	return out
}

type querier interface {
	Query(string, ...any) (*sql.Rows, error)
}

func rowsOf(t *testing.T, q querier, query string, params ...any) [][]any {
	t.Helper()
	rs, err := q.Query(query, params...)
	require.NoError(t, err, query)
	defer rs.Close()
	cols, err := rs.Columns()
	require.NoError(t, err)
	out := [][]any{}
	for rs.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		require.NoError(t, rs.Scan(ptrs...))
		out = append(out, vals)
	}
	require.NoError(t, rs.Err())
	return out
}

func logDB(t *testing.T) *sql.DB {
	return open(t, string(d1.Migration())+string(d1.MetaMigration()))
}

type ev struct {
	id, agg, inst string
	version       int64
	payload       any
}

// forward runs one forward as internal/edge does: a Forward per event and
// Positions, in one batch; it answers the positions by id.
func forward(t *testing.T, db *sql.DB, evs ...ev) map[string]int64 {
	t.Helper()
	require.LessOrEqual(t, len(evs), d1.MaxForward)
	var stmts []stmt
	var ids []string
	for _, e := range evs {
		ids = append(ids, e.id)
		stmts = append(stmts, stmt{d1.Forward, []any{e.id, e.agg, e.inst, e.version, "Happened", 1, "2026-01-02T03:04:05.006Z", "cmd-" + e.id, e.payload, nil}})
	}
	idList, _ := json.Marshal(ids)
	stmts = append(stmts, stmt{d1.Positions, []any{string(idList)}})
	res := batch(t, db, stmts...)
	out := map[string]int64{}
	for _, r := range res[len(res)-1] {
		id, err := d1.Text(r[0])
		require.NoError(t, err)
		pos, err := d1.Int(r[1])
		require.NoError(t, err)
		out[id] = pos
	}
	require.Len(t, out, len(evs), "every event forwarded has a position")
	return out
}

func readAll(t *testing.T, db *sql.DB, after int64, limit int) []store.Event {
	t.Helper()
	var out []store.Event
	for _, r := range rowsOf(t, db, d1.ReadAll, after, limit, store.PageBytes) {
		e, err := d1.DecodeEvent(r)
		require.NoError(t, err)
		out = append(out, e)
	}
	return out
}

func TestMigrationIsIdempotent(t *testing.T) {
	db := logDB(t)
	_, err := db.Exec(string(d1.Migration()))
	require.NoError(t, err, "a migration applied again changes nothing")
	var names []string
	for _, r := range rowsOf(t, db, `SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name`) {
		names = append(names, r[0].(string))
	}
	assert.Equal(t, []string{"dead_letters", "events", "projections"}, names)
	assert.True(t, strings.HasPrefix(string(d1.Migration()), "-- Written by `cuesource worker build`"))
}

func TestForwardIsIdempotentByEventID(t *testing.T) {
	db := logDB(t)
	first := forward(t, db, ev{"a-1", "cart", "a", 1, `{"n":1}`}, ev{"a-2", "cart", "a", 2, nil})
	assert.Equal(t, map[string]int64{"a-1": 1, "a-2": 2}, first)
	// The same run again (its answer was lost): the same positions, no new
	// rows, and no position taken.
	again := forward(t, db, ev{"a-1", "cart", "a", 1, `{"n":1}`}, ev{"a-2", "cart", "a", 2, nil})
	assert.Equal(t, first, again)
	// A run overlapping the last: only the new event takes a position,
	// the next one.
	next := forward(t, db, ev{"a-2", "cart", "a", 2, nil}, ev{"a-3", "cart", "a", 3, `{}`})
	assert.Equal(t, map[string]int64{"a-2": 2, "a-3": 3}, next)
	evs := readAll(t, db, 0, 100)
	require.Len(t, evs, 3)
	for i, e := range evs {
		assert.Equal(t, int64(i+1), e.Position)
		assert.Equal(t, int64(i+1), e.Version)
	}
	assert.JSONEq(t, `{"n":1}`, string(evs[0].Payload))
	assert.Nil(t, evs[1].Payload, "an event without a payload reads back without one")
	assert.Equal(t, time.Date(2026, 1, 2, 3, 4, 5, 6e6, time.UTC), evs[0].Time)
	assert.Equal(t, "cmd-a-1", evs[0].CommandID)
	assert.Equal(t, 1, evs[0].SchemaVersion)
}

func TestPositionsAreGapFreeInCommitOrder(t *testing.T) {
	db := logDB(t)
	// Three instances forward interleaved runs, some retried: each batch
	// commits after the last, so positions follow commit order.
	var order []string
	runs := [][]ev{
		{{"a-1", "cart", "a", 1, nil}, {"a-2", "cart", "a", 2, nil}},
		{{"b-1", "cart", "b", 1, nil}},
		{{"a-1", "cart", "a", 1, nil}, {"a-2", "cart", "a", 2, nil}}, // retried
		{{"c-1", "order", "c", 1, nil}, {"c-2", "order", "c", 2, nil}, {"c-3", "order", "c", 3, nil}},
		{{"b-1", "cart", "b", 1, nil}, {"b-2", "cart", "b", 2, nil}}, // overlapping retry
		{{"a-3", "cart", "a", 3, nil}},
	}
	seen := map[string]bool{}
	for _, run := range runs {
		forward(t, db, run...)
		for _, e := range run {
			if !seen[e.id] {
				seen[e.id] = true
				order = append(order, e.id)
			}
		}
	}
	evs := readAll(t, db, 0, 100)
	require.Len(t, evs, len(order))
	last := map[string]int64{}
	for i, e := range evs {
		assert.Equal(t, int64(i+1), e.Position, "no gap")
		assert.Equal(t, order[i], e.ID, "commit order")
		key := e.Aggregate + "/" + e.Instance
		assert.Equal(t, last[key]+1, e.Version, "an instance's events in its order")
		last[key] = e.Version
	}
	h, err := d1.DecodeHead(rowsOf(t, db, d1.Head))
	require.NoError(t, err)
	assert.Equal(t, int64(len(order)), h)
}

func TestHeadOfAnEmptyLogIsZero(t *testing.T) {
	db := logDB(t)
	h, err := d1.DecodeHead(rowsOf(t, db, d1.Head))
	require.NoError(t, err)
	assert.Zero(t, h)
	_, err = d1.DecodeHead(nil)
	assert.EqualError(t, err, "d1: the head is not one value")
}

func TestReadAllPages(t *testing.T) {
	db := logDB(t)
	for i := 1; i <= 10; i++ {
		forward(t, db, ev{fmt.Sprint("e-", i), "cart", "a", int64(i), fmt.Sprintf(`{"i":%d}`, i)})
	}
	ids := func(evs []store.Event) (out []string) {
		for _, e := range evs {
			out = append(out, e.ID)
		}
		return out
	}
	assert.Equal(t, []string{"e-1", "e-2", "e-3"}, ids(readAll(t, db, 0, 3)))
	assert.Equal(t, []string{"e-4", "e-5", "e-6"}, ids(readAll(t, db, 3, 3)))
	assert.Equal(t, []string{"e-10"}, ids(readAll(t, db, 9, 3)))
	assert.Empty(t, readAll(t, db, 10, 3))
	// EventsAfter, the projector's read, has no byte bound.
	rs := rowsOf(t, db, d1.EventsAfter, 8, 100)
	require.Len(t, rs, 2)
	e, err := d1.DecodeEvent(rs[0])
	require.NoError(t, err)
	assert.Equal(t, int64(9), e.Position)
}

func TestReadAllEndsAPageAtPageBytes(t *testing.T) {
	db := logDB(t)
	// Payloads of 1.5 MB: the third takes a page past PageBytes (4 MB),
	// so a page holds three, whatever its limit; as store.Page cuts it.
	big := `"` + strings.Repeat("x", 3<<19) + `"`
	for i := 1; i <= 5; i++ {
		forward(t, db, ev{fmt.Sprint("e-", i), "cart", "a", int64(i), big})
	}
	var all []store.Event
	for _, r := range rowsOf(t, db, d1.EventsAfter, 0, 100) {
		e, err := d1.DecodeEvent(r)
		require.NoError(t, err)
		all = append(all, e)
	}
	require.Len(t, all, 5)
	page := readAll(t, db, 0, 100)
	require.Len(t, page, 3)
	assert.Equal(t, store.Page(all), page, "the same rule as store.Page")
	rest := readAll(t, db, 3, 100)
	require.Len(t, rest, 2)
	assert.Equal(t, int64(4), rest[0].Position)
	// A limit under the bound ends the page first.
	assert.Len(t, readAll(t, db, 0, 2), 2)
}

func TestDeadLetters(t *testing.T) {
	db := logDB(t)
	event := `{"id":"a-1","aggregate":"cart","instance":"a","version":1}`
	batch(t, db,
		stmt{d1.DeadLetterAdd, []any{"a-1", "notify", 5, "gave up after 5 attempts", nil, "2026-01-02T03:04:05.006Z", event}},
		stmt{d1.DeadLetterAdd, []any{"a-2", "reserve", 1, "rejected", `{"kind":"rejected","name":"Reserve"}`, "2026-01-02T03:04:06.000Z", event}},
	)
	var list []store.DeadLetter
	for _, r := range rowsOf(t, db, d1.DeadLetterList) {
		d, err := d1.DecodeDeadLetter(r)
		require.NoError(t, err)
		list = append(list, d)
	}
	require.Len(t, list, 2)
	assert.Equal(t, store.DeadLetter{ID: 1, EventID: "a-1", Consumer: "notify", Attempts: 5, Error: "gave up after 5 attempts",
		Time: time.Date(2026, 1, 2, 3, 4, 5, 6e6, time.UTC)}, list[0])
	assert.JSONEq(t, `{"kind":"rejected","name":"Reserve"}`, string(list[1].Rejection))

	// A redelivery reads what to send, then removes the letter.
	got := rowsOf(t, db, d1.DeadLetterGet, 1)
	require.Len(t, got, 1)
	effect, evJSON, err := d1.DecodeRedelivery(got[0])
	require.NoError(t, err)
	assert.Equal(t, "notify", effect)
	assert.JSONEq(t, event, string(evJSON))
	assert.Len(t, rowsOf(t, db, d1.DeadLetterRemove, 1), 1)
	// Removed: no row says so, for a redelivery and a discard alike.
	assert.Empty(t, rowsOf(t, db, d1.DeadLetterGet, 1))
	assert.Empty(t, rowsOf(t, db, d1.DeadLetterRemove, 1))
	assert.Len(t, rowsOf(t, db, d1.DeadLetterList), 1)
}

func TestCheckpointsDecode(t *testing.T) {
	db := logDB(t)
	batch(t, db,
		// An empty log: the rebuilds start running.
		stmt{d1.CheckpointRebuild, []any{"totals", "h1", "2026-01-02T03:04:05.006Z"}},
		stmt{d1.CheckpointRebuild, []any{"carts", "h2", "2026-01-02T03:04:05.006Z"}},
		stmt{d1.CheckpointFail, []any{int64(4), "boom", int64(5), "2026-01-02T03:04:05.006Z", "carts"}},
	)
	got := map[string]d1.Checkpoint{}
	for _, r := range rowsOf(t, db, d1.CheckpointAll) {
		cp, err := d1.DecodeCheckpoint(r)
		require.NoError(t, err)
		got[cp.Name] = cp
	}
	assert.Equal(t, map[string]d1.Checkpoint{
		"totals": {Name: "totals", Hash: "h1", State: "running"},
		"carts":  {Name: "carts", Position: 4, Hash: "h2", State: "failed", Error: "boom", ErrorPosition: 5},
	}, got)
}

func TestDecodersRefuseWrongTypes(t *testing.T) {
	good := []any{float64(1), "e-1", "cart", "a", float64(1), "Opened", float64(1), "2026-01-02T03:04:05.006Z", "c-1", nil, nil}
	e, err := d1.DecodeEvent(good)
	require.NoError(t, err, "D1's JSON numbers are float64")
	assert.Equal(t, int64(1), e.Position)
	with := func(i int, v any) []any {
		r := append([]any(nil), good...)
		r[i] = v
		return r
	}
	for _, tc := range []struct {
		row  []any
		want string
	}{
		{with(0, "1"), "d1: column position: want an integer, got text"},
		{with(0, 1.5), "d1: column position: want an integer, got 1.5"},
		{with(1, nil), "d1: column id: want text, got NULL"},
		{with(4, []byte("1")), "d1: column version: want an integer, got a blob"},
		{with(7, "yesterday"), `d1: column time: want an RFC 3339 time, got "yesterday"`},
		{with(7, "2026-13-02T03:04:05Z"), `d1: column time: want an RFC 3339 time, got "2026-13-02T03:04:05Z"`},
		{with(9, float64(3)), "d1: column payload: want text, got 3"},
		{good[:10], "d1: event row has 10 columns, want 11"},
	} {
		_, err := d1.DecodeEvent(tc.row)
		assert.EqualError(t, err, tc.want)
	}
	_, err = d1.DecodeDeadLetter([]any{int64(1), "e-1", "notify", int64(2), "x", nil, "not a time"})
	assert.EqualError(t, err, `d1: column time: want an RFC 3339 time, got "not a time"`)
	_, err = d1.DecodeCheckpoint([]any{"p", "0", "h", "running", "", int64(0)})
	assert.EqualError(t, err, "d1: column position: want an integer, got text")
	_, _, err = d1.DecodeRedelivery([]any{"notify", float64(1)})
	assert.EqualError(t, err, "d1: column event: want text, got 1")
}

func TestFormatTimeIsJavaScriptsText(t *testing.T) {
	// toISOString's text: milliseconds, always three digits, so texts
	// compare in time order.
	at := time.Date(2026, 1, 2, 3, 4, 5, 123456789, time.FixedZone("x", 3600))
	assert.Equal(t, "2026-01-02T02:04:05.123Z", d1.FormatTime(at))
	assert.Equal(t, "2026-01-02T02:04:05.000Z", d1.FormatTime(at.Truncate(time.Second)))
	assert.Less(t, d1.FormatTime(at.Truncate(time.Second)), d1.FormatTime(at))
	back, err := d1.Time(d1.FormatTime(at))
	require.NoError(t, err)
	assert.True(t, back.Equal(at.Truncate(time.Millisecond)))
}

func TestCheckpointRebuildAndAdvance(t *testing.T) {
	db := logDB(t)
	state := func(name string) (int64, string) {
		t.Helper()
		for _, r := range rowsOf(t, db, d1.CheckpointAll) {
			cp, err := d1.DecodeCheckpoint(r)
			require.NoError(t, err)
			if cp.Name == name {
				return cp.Position, cp.State
			}
		}
		t.Fatalf("no checkpoint %s", name)
		return 0, ""
	}
	// On an empty log a rebuild is done at once: running, as natively.
	batch(t, db, stmt{d1.CheckpointRebuild, []any{"p", "h1", "2026-01-02T03:04:05.006Z"}})
	_, st := state("p")
	assert.Equal(t, "running", st)
	forward(t, db, ev{"a-1", "cart", "a", 1, nil}, ev{"a-2", "cart", "a", 2, nil})
	batch(t, db, stmt{d1.CheckpointAdvance, []any{int64(2), "running", "2026-01-02T03:04:05.006Z", "p", int64(0)}})
	pos, _ := state("p")
	assert.Equal(t, int64(2), pos)
	// Otherwise rebuilding from the start, until an advance at the head.
	batch(t, db, stmt{d1.CheckpointRebuild, []any{"p", "h2", "2026-01-02T03:04:05.006Z"}})
	pos, st = state("p")
	assert.Equal(t, int64(0), pos)
	assert.Equal(t, "rebuilding", st)
	batch(t, db, stmt{d1.CheckpointAdvance, []any{int64(1), "rebuilding", "2026-01-02T03:04:05.006Z", "p", int64(0)}})
	// An advance from elsewhere than the checkpoint changes nothing.
	batch(t, db, stmt{d1.CheckpointAdvance, []any{int64(9), "running", "2026-01-02T03:04:05.006Z", "p", int64(0)}})
	pos, st = state("p")
	assert.Equal(t, int64(1), pos)
	assert.Equal(t, "rebuilding", st)
	batch(t, db, stmt{d1.CheckpointAdvance, []any{int64(2), "running", "2026-01-02T03:04:05.006Z", "p", int64(1)}})
	pos, st = state("p")
	assert.Equal(t, int64(2), pos)
	assert.Equal(t, "running", st)
}

// A log made before migration 0002 gains the meta column when it is
// applied: its events read with a NULL meta, events forwarded after it
// with theirs.
func TestMetaMigration(t *testing.T) {
	db := open(t, string(d1.Migration()))
	_, err := db.Exec(`INSERT INTO events (position, id, aggregate, instance, version, type, schema_version, time, command_id, payload)
		VALUES (1, 'e-old', 'cart', 'c1', 1, 'Happened', 1, '2026-01-02T03:04:05.006Z', 'cmd-1', '{}')`)
	require.NoError(t, err)
	_, err = db.Exec(string(d1.MetaMigration()))
	require.NoError(t, err)
	batch(t, db, stmt{d1.Forward, []any{"e-new", "cart", "c1", 2, "Happened", 1, "2026-01-02T03:04:05.006Z", "cmd-2", `{}`, `{"actor":"ada"}`}})
	var evs []store.Event
	for _, r := range rowsOf(t, db, d1.ReadAll, 0, 10, store.PageBytes) {
		e, err := d1.DecodeEvent(r)
		require.NoError(t, err)
		evs = append(evs, e)
	}
	require.Len(t, evs, 2)
	assert.Nil(t, evs[0].Meta)
	assert.JSONEq(t, `{"actor":"ada"}`, string(evs[1].Meta))
	assert.Equal(t, []string{"0001_cuesource.sql", "0002_meta.sql", "0003_archive.sql", "0004_hot_log.sql"}, slices.Sorted(maps.Keys(d1.Migrations())))
}
