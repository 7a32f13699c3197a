package projections_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cuesource/cuesource"
	"github.com/cuesource/cuesource/api"
	"github.com/cuesource/cuesource/compiler"
	"github.com/cuesource/cuesource/engine"
	"github.com/cuesource/cuesource/interpreter"
	"github.com/cuesource/cuesource/native"
	"github.com/cuesource/cuesource/projections"
	"github.com/cuesource/cuesource/store"
	"github.com/cuesource/cuesource/store/sqlite"
)

func TestBasics(t *testing.T) {
	p := compile(t, bank)
	st := openStore(t, filepath.Join(t.TempDir(), "bank.db"))
	defer st.Close()
	r := newRunner(t, p, st, projections.Options{})
	a := newAppender(st)
	a.commit(t, "a1", opened(), deposited(10, "x"))
	// Inline: the row is there as soon as the append returns.
	assert.Equal(t, map[string]int{"a1": 2}, applied(t, st, "accounts"))
	a.commit(t, "a1", deposited(5, "y"))
	a.commit(t, "a2", opened(), deposited(7, "x"))
	caughtUp(t, r)
	checkCounts(t, st)
	rows, err := r.Query(context.Background(), "rich", map[string]any{"min": 0, "limit": 10})
	require.NoError(t, err)
	require.Len(t, rows, 2)
	// JSON columns come back decoded, REAL as float, INTEGER as int.
	assert.Equal(t, map[string]any{"account": "a1", "balance": 15, "tags": []any{"x", "y"}, "mean": 5.0}, rows[0])
	assert.Equal(t, []string{
		"key=string:x applied=int64:2 first_position=int64:2 total=int64:17 ",
		"key=string:y applied=int64:1 first_position=int64:3 total=int64:5 ",
	}, dump(t, st, "by_tag"))

	// Closed deletes the row; a reopened account starts a new one.
	a.commit(t, "a1", closed())
	assert.NotContains(t, applied(t, st, "accounts"), "a1")
	a.commit(t, "a1", opened())
	assert.Equal(t, 1, applied(t, st, "accounts")["a1"])
	caughtUp(t, r)
	checkCounts(t, st)

	// A group commit whose second commit fails: the first commit's rows
	// and checkpoint move with it, the failed one's are undone with it.
	res, err := st.AppendBatch(context.Background(), []store.Commit{
		{Aggregate: "acct", Instance: "a2", ExpectedVersion: 2, Events: []store.Event{{ID: "g1", Type: "Deposited", Time: clock, Payload: json.RawMessage(`{"amount":1,"tag":"z"}`)}}},
		{Aggregate: "acct", Instance: "a1", ExpectedVersion: 99, Events: []store.Event{{ID: "g2", Type: "Deposited", Time: clock, Payload: json.RawMessage(`{"amount":1,"tag":"z"}`)}}},
	})
	require.NoError(t, err)
	require.NoError(t, res[0].Err)
	require.ErrorIs(t, res[1].Err, store.ErrVersionConflict)
	assert.Equal(t, map[string]int{"a1": 1, "a2": 3}, applied(t, st, "accounts"))
	caughtUp(t, r)
	checkCounts(t, st)

	s := status(t, r, "accounts")
	assert.Equal(t, cuesource.ProjectionStatus{Name: "accounts", Mode: "inline", State: "running", Position: 8, Head: 8, Hash: p.Projections["accounts"].Hash}, s)
	s = status(t, r, "by_tag")
	assert.Equal(t, "async", s.Mode)
	assert.Equal(t, int64(8), s.Position)
}

// execute sends one command through the native backend.
func execute(t testing.TB, b *native.Backend, id, cmd, payload string) api.Response {
	t.Helper()
	a, err := b.Execute(context.Background(), &cuesource.CommandRequest{
		Aggregate: "acct", ID: id, Command: cmd, Payload: json.RawMessage(payload),
		CommandID: cuesource.NewID(), Time: clock, ExpectedVersion: engine.AnyVersion,
	})
	require.NoError(t, err)
	return api.Answer(a, "acct", id)
}

// randomCommands sends n random commands per worker over a few accounts.
func randomCommands(t testing.TB, b *native.Backend, seed uint64, workers, n, accounts int) {
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rnd := rand.New(rand.NewPCG(seed, uint64(w)))
			for range n {
				id := fmt.Sprintf("a%02d", rnd.IntN(accounts))
				switch k := rnd.IntN(10); {
				case k == 0:
					execute(t, b, id, "Close", `{}`)
				case k == 1:
					execute(t, b, id, "Reopen", `{}`)
				case k == 2:
					execute(t, b, id, "Open", `{}`)
				default:
					execute(t, b, id, "Deposit", fmt.Sprintf(`{"amount":%d,"tag":"t%d"}`, rnd.IntN(100)-20, rnd.IntN(7)))
				}
			}
		}()
	}
	wg.Wait()
}

// tables dumps every projection table of the bank context.
func tables(t testing.TB, st *sqlite.Store) map[string][]string {
	return map[string][]string{"accounts": dump(t, st, "accounts"), "by_tag": dump(t, st, "by_tag")}
}

// After random command sequences (concurrent, so commits are grouped and
// the inline hook runs several commits in one transaction, while the
// async projection catches up in small batches), every projection equals
// its rebuild from scratch, and every row applied each of its events once.
func TestRandomCommandsEqualRebuild(t *testing.T) {
	p := compile(t, bank)
	for _, seed := range []uint64{1, 2, 3} {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			st := openStore(t, filepath.Join(t.TempDir(), "bank.db"))
			defer st.Close()
			b := native.New(p, st, engine.Options{})
			defer b.Close()
			r := newRunner(t, p, st, projections.Options{Waiter: b, BatchSize: 7})
			randomCommands(t, b, seed, 6, 80, 12)
			caughtUp(t, r)
			checkCounts(t, st)
			before := tables(t, st)
			require.NotEmpty(t, before["accounts"])
			require.NotEmpty(t, before["by_tag"])
			for _, name := range []string{"accounts", "by_tag"} {
				require.NoError(t, r.Rebuild(context.Background(), name))
			}
			caughtUp(t, r)
			assert.Equal(t, before, tables(t, st))

			// And in a fresh database holding the same log, built by a
			// runner that starts after the fact with another batch size.
			evs, err := st.ReadAll(context.Background(), 0, 0)
			require.NoError(t, err)
			st2 := openStore(t, filepath.Join(t.TempDir(), "copy.db"))
			defer st2.Close()
			copyLog(t, st2, evs)
			r2 := newRunner(t, p, st2, projections.Options{BatchSize: 500})
			caughtUp(t, r2)
			assert.Equal(t, before, tables(t, st2))
		})
	}
}

// copyLog appends evs to st, commit by commit as they were written.
func copyLog(t testing.TB, st *sqlite.Store, evs []store.Event) {
	t.Helper()
	for i := 0; i < len(evs); {
		j := i + 1
		for j < len(evs) && evs[j].CommandID == evs[i].CommandID && evs[j].Instance == evs[i].Instance {
			j++
		}
		c := store.Commit{Aggregate: evs[i].Aggregate, Instance: evs[i].Instance, ExpectedVersion: evs[i].Version - 1}
		c.Events = append(c.Events, evs[i:j]...)
		_, err := st.Append(context.Background(), c)
		require.NoError(t, err)
		i = j
	}
}

// An inline projection's row is written in the command's transaction: it
// is there when the command returns, also under concurrent commands that
// share a group commit.
func TestInlineReadYourWrites(t *testing.T) {
	p := compile(t, bank)
	st := openStore(t, filepath.Join(t.TempDir(), "bank.db"))
	defer st.Close()
	b := native.New(p, st, engine.Options{})
	defer b.Close()
	r := newRunner(t, p, st, projections.Options{Waiter: b})
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := fmt.Sprintf("w%d", w)
			require.Equal(t, http.StatusCreated, execute(t, b, id, "Open", `{}`).Status)
			for i := 1; i <= 25; i++ {
				resp := execute(t, b, id, "Deposit", fmt.Sprintf(`{"amount":%d,"tag":"x"}`, i))
				require.Equal(t, http.StatusOK, resp.Status, "%s", resp.Body)
				var n, balance int
				require.NoError(t, st.Read().QueryRow(`SELECT applied, balance FROM accounts WHERE key = ?`, id).Scan(&n, &balance))
				assert.Equal(t, i+1, n)
				assert.Equal(t, i*(i+1)/2, balance)
			}
		}()
	}
	wg.Wait()
	caughtUp(t, r)
	checkCounts(t, st)
}

// fill appends n events over accounts (opens, deposits, some closes) in
// group commits.
func fill(t testing.TB, st *sqlite.Store, n, accounts int) {
	t.Helper()
	version := map[string]int64{}
	seq := 0
	var batch []store.Commit
	flush := func() {
		res, err := st.AppendBatch(context.Background(), batch)
		require.NoError(t, err)
		for _, r := range res {
			require.NoError(t, r.Err)
		}
		batch = batch[:0]
	}
	for seq < n {
		id := fmt.Sprintf("a%04d", seq%accounts)
		var ev store.Event
		switch v := version[id]; {
		case v == 0:
			ev = opened()
		case v%13 == 12:
			ev = closed()
		case v%13 == 0:
			ev = opened()
		default:
			ev = deposited(seq%50, fmt.Sprintf("t%d", seq%17))
		}
		seq++
		ev.ID, ev.Time, ev.CommandID = fmt.Sprintf("f%d", seq), clock, fmt.Sprintf("c%d", seq)
		batch = append(batch, store.Commit{Aggregate: "acct", Instance: id, ExpectedVersion: version[id], Events: []store.Event{ev}})
		version[id]++
		if len(batch) == 256 {
			flush()
		}
	}
	if len(batch) > 0 {
		flush()
	}
}

// A crash in the middle of a catch-up batch (the transaction never
// commits) loses the batch whole; after a restart the projections
// converge and no event is applied twice.
func TestCrashDuringCatchUp(t *testing.T) {
	p := compile(t, bank)
	path := filepath.Join(t.TempDir(), "bank.db")
	st := openStore(t, path)
	fill(t, st, 3000, 40)

	ctx, cancel := context.WithCancel(context.Background())
	var batches atomic.Int32
	projections.SetTestHookBatch(func(string, int64) {
		if batches.Add(1) == 9 {
			cancel() // the process dies here: rows written, checkpoint not moved, nothing committed
		}
	})
	defer projections.SetTestHookBatch(nil)
	r, err := projections.New(p, st, projections.Options{BatchSize: 100})
	require.NoError(t, err)
	require.NoError(t, r.Start(ctx))
	<-ctx.Done()
	r.Close()
	projections.SetTestHookBatch(nil)
	for _, s := range mustStatus(t, r) {
		assert.Less(t, s.Position, s.Head, "%s finished before the crash", s.Name)
		assert.Zero(t, s.Position%100, "%s: checkpoints move by whole batches", s.Name)
	}
	require.NoError(t, st.Close())

	st = openStore(t, path)
	defer st.Close()
	r2 := newRunner(t, p, st, projections.Options{BatchSize: 100})
	caughtUp(t, r2)
	checkCounts(t, st)
	before := tables(t, st)
	require.NoError(t, r2.Rebuild(context.Background(), "accounts"))
	require.NoError(t, r2.Rebuild(context.Background(), "by_tag"))
	assert.Equal(t, before, tables(t, st))
}

func mustStatus(t testing.TB, r *projections.Runner) []cuesource.ProjectionStatus {
	t.Helper()
	st, err := r.Status(context.Background())
	require.NoError(t, err)
	return st
}

// A rebuild that dies half-way resumes at the next start from its last
// committed batch.
func TestCrashDuringRebuild(t *testing.T) {
	p := compile(t, bank)
	path := filepath.Join(t.TempDir(), "bank.db")
	st := openStore(t, path)
	fill(t, st, 3000, 40)
	r := newRunner(t, p, st, projections.Options{BatchSize: 100})
	caughtUp(t, r)
	want := tables(t, st)
	r.Close()

	// Offline, as `cuesource projections rebuild` runs.
	off, err := projections.New(p, st, projections.Options{BatchSize: 100})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	var batches atomic.Int32
	projections.SetTestHookBatch(func(name string, _ int64) {
		if name == "by_tag" && batches.Add(1) == 12 {
			cancel()
		}
	})
	defer projections.SetTestHookBatch(nil)
	var progress []int64
	err = off.RebuildProgress(ctx, "by_tag", func(done, total int64) {
		assert.Equal(t, int64(3000), total)
		progress = append(progress, done)
	})
	require.ErrorIs(t, err, context.Canceled)
	projections.SetTestHookBatch(nil)
	assert.Equal(t, []int64{0, 100, 200, 300, 400, 500, 600, 700, 800, 900, 1000, 1100}, progress)
	s := status(t, off, "by_tag")
	assert.Equal(t, projections.StateRebuilding, s.State)
	assert.Equal(t, int64(1100), s.Position)
	require.NoError(t, st.Close())

	st = openStore(t, path)
	defer st.Close()
	r2 := newRunner(t, p, st, projections.Options{BatchSize: 100})
	caughtUp(t, r2)
	checkCounts(t, st)
	assert.Equal(t, want, tables(t, st))
}

// failing is the bank context with two projections that fail on a
// deposit of 0 (100/0 is +Inf, which a REAL column refuses), one inline
// and one async.
func failing(expr string) string {
	return strings.Replace(bank, "\tprojections: {\n", fmt.Sprintf(`	projections: {
		ratio: {
			columns: {r: "REAL", applied: "INTEGER"}
			on: "acct.Deposited": upsert: {r: %[1]q, applied: "(row.applied ?? 0) + 1"}
		}
		ratio_inline: {
			mode: "inline"
			columns: {r: "REAL", applied: "INTEGER"}
			on: "acct.Deposited": upsert: {r: %[1]q, applied: "(row.applied ?? 0) + 1"}
		}
`, expr), 1)
}

func TestFailureSkipResumeAndFix(t *testing.T) {
	broken := compile(t, failing("100 / event.amount"))
	path := filepath.Join(t.TempDir(), "bank.db")
	st := openStore(t, path)
	b := native.New(broken, st, engine.Options{})
	r := newRunner(t, broken, st, projections.Options{Waiter: b})
	execute(t, b, "a1", "Open", `{}`)
	execute(t, b, "a1", "Deposit", `{"amount":5,"tag":"x"}`)
	// The inline projection fails in the command's transaction; the
	// command commits all the same.
	resp := execute(t, b, "a1", "Deposit", `{"amount":0,"tag":"x"}`)
	require.Equal(t, http.StatusOK, resp.Status, "%s", resp.Body)
	execute(t, b, "a1", "Deposit", `{"amount":4,"tag":"y"}`)
	assert.Equal(t, 4, applied(t, st, "accounts")["a1"], "other inline projections are not affected")

	failed := func(name string) cuesource.ProjectionStatus {
		t.Helper()
		require.Eventually(t, func() bool { return status(t, r, name).State == projections.StateFailed }, 10*time.Second, time.Millisecond)
		return status(t, r, name)
	}
	for _, name := range []string{"ratio", "ratio_inline"} {
		s := failed(name)
		assert.Equal(t, int64(3), s.ErrorPosition, name)
		assert.Equal(t, int64(2), s.Position, name)
		assert.Equal(t, int64(2), s.Lag, name)
		assert.Contains(t, s.Error, "acct.Deposited at position 3: column r: REAL takes finite numbers", name)
	}
	assert.Equal(t, map[string]int{"a1": 1}, applied(t, st, "ratio"))
	assert.Equal(t, map[string]int{"a1": 1}, applied(t, st, "ratio_inline"))
	// It stays there: no silent skipping. A failed projection's loop sleeps
	// until Skip, Resume or Rebuild; one that skipped on its own would do
	// so on its next pass, and passes come at least every 5ms (the
	// harness's PollInterval): 30ms is six passes.
	time.Sleep(30 * time.Millisecond)
	assert.Equal(t, int64(2), status(t, r, "ratio").Position)

	// Skip moves past the event and carries on.
	require.NoError(t, r.Skip(context.Background(), "ratio"))
	require.Eventually(t, func() bool {
		s := status(t, r, "ratio")
		return s.State == projections.StateRunning && s.Lag == 0
	}, 10*time.Second, time.Millisecond)
	assert.Equal(t, map[string]int{"a1": 2}, applied(t, st, "ratio"))
	assert.ErrorIs(t, r.Skip(context.Background(), "ratio"), projections.ErrNotFailed)
	assert.ErrorIs(t, r.Resume(context.Background(), "nope"), cuesource.ErrUnknown)

	// Resume retries the same event: still broken, it fails again there.
	require.NoError(t, r.Resume(context.Background(), "ratio_inline"))
	s := failed("ratio_inline")
	assert.Equal(t, int64(3), s.ErrorPosition)
	r.Close()
	b.Close()
	require.NoError(t, st.Close())

	// The fixed definition has another hash: the next start rebuilds.
	fixed := compile(t, failing("event.amount == 0 ? 0.0 : 100 / event.amount"))
	require.NotEqual(t, broken.Projections["ratio"].Hash, fixed.Projections["ratio"].Hash)
	require.Equal(t, broken.Projections["accounts"].Hash, fixed.Projections["accounts"].Hash)
	st = openStore(t, path)
	defer st.Close()
	r2 := newRunner(t, fixed, st, projections.Options{})
	caughtUp(t, r2)
	assert.Equal(t, map[string]int{"a1": 3}, applied(t, st, "ratio"))
	assert.Equal(t, map[string]int{"a1": 3}, applied(t, st, "ratio_inline"))
	assert.Equal(t, map[string]int{"a1": 4}, applied(t, st, "accounts"))
	for _, s := range mustStatus(t, r2) {
		assert.Empty(t, s.Error)
		assert.Equal(t, fixed.Projections[s.Name].Hash, s.Hash)
	}
}

// An unstarted runner reports projections never built and ones whose
// definition changed without touching anything.
func TestOfflineStatus(t *testing.T) {
	p := compile(t, bank)
	path := filepath.Join(t.TempDir(), "bank.db")
	st := openStore(t, path)
	defer st.Close()
	fill(t, st, 50, 5)
	off, err := projections.New(p, st, projections.Options{})
	require.NoError(t, err)
	for _, s := range mustStatus(t, off) {
		assert.Equal(t, projections.StateNew, s.State)
		assert.Equal(t, int64(50), s.Lag)
	}
	r := newRunner(t, p, st, projections.Options{})
	caughtUp(t, r)
	r.Close()
	changed := compile(t, strings.Replace(bank, `"(row.total ?? 0) + event.amount"`, `"(row.total ?? 0) + 2 * event.amount"`, 1))
	off, err = projections.New(changed, st, projections.Options{})
	require.NoError(t, err)
	s := status(t, off, "by_tag")
	assert.Equal(t, projections.StateStale, s.State)
	assert.Equal(t, p.Projections["by_tag"].Hash, s.Hash)
	assert.Equal(t, projections.StateRunning, status(t, off, "accounts").State)
}

// Queries end to end through the HTTP API: parameters are validated by
// their #params (typed violations, 400), optional ones bind NULL.
func TestQueryEndToEnd(t *testing.T) {
	p := compile(t, bank)
	st := openStore(t, filepath.Join(t.TempDir(), "bank.db"))
	defer st.Close()
	b := native.New(p, st, engine.Options{})
	defer b.Close()
	r := newRunner(t, p, st, projections.Options{Waiter: b})
	svc := api.New(p, b, api.Options{ReadModels: r})
	get := func(path string, q url.Values) (int, map[string]any) {
		t.Helper()
		resp := svc.Serve(context.Background(), &api.Request{Method: http.MethodGet, Path: path, Query: q, Header: api.Header{}})
		var body map[string]any
		require.NoError(t, json.Unmarshal(resp.Body, &body), "%s", resp.Body)
		return resp.Status, body
	}
	execute(t, b, "a1", "Open", `{}`)
	execute(t, b, "a1", "Deposit", `{"amount":50,"tag":"x"}`)
	execute(t, b, "a2", "Open", `{}`)
	execute(t, b, "a2", "Deposit", `{"amount":5,"tag":"y"}`)
	caughtUp(t, r)

	params, vs := p.Queries["rich"].Params(url.Values{"min": {"10"}})
	require.Empty(t, vs)
	_, err := r.Query(context.Background(), "rich", params)
	require.NoError(t, err)
	code, body := get("/queries/rich", url.Values{"min": {"10"}})
	require.Equal(t, http.StatusOK, code, "%v", body)
	assert.Equal(t, []any{map[string]any{"account": "a1", "balance": 50.0, "tags": []any{"x"}, "mean": 25.0}}, body["rows"])

	code, body = get("/queries/rich", url.Values{"limit": {"abc"}})
	assert.Equal(t, http.StatusBadRequest, code)
	assert.Equal(t, "invalid_parameter", body["kind"], "%v", body)
	assert.Contains(t, fmt.Sprint(body["violations"]), "/limit")

	code, body = get("/queries/rich", url.Values{"limit": {"1000"}})
	assert.Equal(t, http.StatusBadRequest, code, "%v", body)

	code, body = get("/queries/tags", nil)
	require.Equal(t, http.StatusOK, code, "%v", body)
	assert.Len(t, body["rows"], 2)
	code, body = get("/queries/tags", url.Values{"tag": {"y"}})
	require.Equal(t, http.StatusOK, code, "%v", body)
	assert.Equal(t, []any{map[string]any{"tag": "y", "applied": 1.0, "total": 5.0}}, body["rows"])

	code, _ = get("/queries/nope", nil)
	assert.Equal(t, http.StatusNotFound, code)
	_, err = r.Query(context.Background(), "nope", nil)
	assert.ErrorIs(t, err, cuesource.ErrUnknown)

	code, body = get("/projections", nil)
	require.Equal(t, http.StatusOK, code)
	assert.Len(t, body["projections"], 2)

	// The parameters' violations are typed, by parameter.
	_, vs = p.Queries["rich"].Params(url.Values{"limit": {"0"}, "min": {"x"}})
	require.NotEmpty(t, vs)
	assert.Equal(t, "/min", vs[0].Pointer)
}

func TestCheckQueries(t *testing.T) {
	src := strings.Replace(bank, "\tqueries: {\n", `	queries: {
		unknown_table: sql: "SELECT * FROM carts"
		unknown_column: sql: "SELECT nope FROM accounts"
		writes: sql: "WITH x AS (SELECT 1) DELETE FROM accounts"
		two: sql: "SELECT 1; DELETE FROM accounts"
		store_table: sql: "SELECT * FROM events"
		schema_table: sql: "SELECT * FROM sqlite_master"
		positional: sql: "SELECT * FROM accounts WHERE key = ?"
		digit: sql: "SELECT * FROM accounts WHERE key = :1"
		trailing_semicolon: sql: "SELECT key FROM accounts; -- fine"
		cte: sql: "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < :max) SELECT i, (SELECT COUNT(*) FROM by_tag) AS tags FROM n"
		joined: sql: "SELECT a.key, json_array_length(a.tags) AS n, t.total FROM accounts a JOIN by_tag t ON t.key = a.last WHERE a.balance > :min LIMIT :limit"
`, 1)
	p := compile(t, src)
	errs := projections.CheckQueries(p)
	got := map[string]string{}
	for _, e := range errs {
		name := strings.Fields(strings.TrimPrefix(e.Msg, "query "))[0]
		name = strings.TrimSuffix(name, ":")
		got[name] = e.Msg
		assert.Equal(t, p.Queries[name].Pos, e.Pos, name)
		assert.Positive(t, e.Pos.Line)
		assert.Contains(t, e.Error(), "ctx.cue:")
	}
	assert.Equal(t, map[string]string{
		"unknown_table":  "query unknown_table: no such table: carts",
		"unknown_column": "query unknown_column: no such column: nope",
		"writes":         "query writes: only SELECT over projection tables is allowed",
		"two":            "query two: only one statement is allowed (remove what follows the ';')",
		"store_table":    "query store_table: no such table: events",
		"schema_table":   "query schema_table: it reads sqlite_master, which is not a projection table",
		"positional":     "query positional: use named parameters (:name), not ? placeholders",
		"digit":          "query digit: parameter :1 must start with a letter",
	}, got)

	_, err := projections.New(p, nil, projections.Options{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "query")

	assert.Empty(t, projections.CheckQueries(compile(t, bank)))
}

// The example context's projections and queries work as written.
func TestExampleContext(t *testing.T) {
	m, err := compiler.Compile("../contexts/example.cue")
	require.NoError(t, err)
	p, err := interpreter.Compile(m)
	require.NoError(t, err)
	require.Empty(t, projections.CheckQueries(p))
	st := openStore(t, filepath.Join(t.TempDir(), "shop.db"))
	defer st.Close()
	b := native.New(p, st, engine.Options{})
	defer b.Close()
	r := newRunner(t, p, st, projections.Options{Waiter: b})
	send := func(agg, id, cmd, payload string) {
		t.Helper()
		a, err := b.Execute(context.Background(), &cuesource.CommandRequest{Aggregate: agg, ID: id, Command: cmd, Payload: json.RawMessage(payload),
			CommandID: cuesource.NewID(), Time: clock, ExpectedVersion: engine.AnyVersion})
		require.NoError(t, err)
		resp := api.Answer(a, agg, id)
		require.Less(t, resp.Status, 300, "%s", resp.Body)
	}
	send("cart", "c1", "Open", `{"customer":"ada"}`)
	send("cart", "c1", "AddItem", `{"sku":"TEA-01","qty":2,"price":4.5}`)
	send("cart", "c2", "Open", `{"customer":"bob"}`)
	send("cart", "c2", "AddItem", `{"sku":"TEA-01","qty":1,"price":4.5}`)
	send("cart", "c2", "AddItem", `{"sku":"MUG-02","qty":1,"price":12}`)
	send("cart", "c2", "CheckOut", `{}`)
	// Inline: read your writes.
	rows, err := r.Query(context.Background(), "open_carts", map[string]any{"limit": 10})
	require.NoError(t, err)
	assert.Equal(t, []map[string]any{{"cart": "c1", "customer": "ada", "due": 9.0}}, rows)
	caughtUp(t, r)
	rows, err = r.Query(context.Background(), "top_skus", map[string]any{"min_qty": 1})
	require.NoError(t, err)
	assert.Equal(t, []map[string]any{
		{"sku": "TEA-01", "qty": 3, "revenue": 13.5},
		{"sku": "MUG-02", "qty": 1, "revenue": 12.0},
	}, rows)
	var carts string
	require.NoError(t, st.Read().QueryRow(`SELECT carts FROM sales_by_sku WHERE key = 'TEA-01'`).Scan(&carts))
	assert.JSONEq(t, `["c1","c2"]`, carts)
}

// A query over a failed projection answers the rows it has and says they
// are stale, naming the projection, its state and where it stopped; a
// query over running projections says they are not.
func TestQueryAnswerSaysHowCurrentItIs(t *testing.T) {
	src := strings.Replace(failing("100 / event.amount"), "\tqueries: {\n", "\tqueries: {\n\t\tratios: sql: \"SELECT key AS account, r FROM ratio\"\n", 1)
	p := compile(t, src)
	st := openStore(t, filepath.Join(t.TempDir(), "bank.db"))
	defer st.Close()
	b := native.New(p, st, engine.Options{})
	defer b.Close()
	r := newRunner(t, p, st, projections.Options{Waiter: b})
	svc := api.New(p, b, api.Options{ReadModels: r})
	get := func(path string) map[string]any {
		t.Helper()
		resp := svc.Serve(context.Background(), &api.Request{Method: http.MethodGet, Path: path, Header: api.Header{}})
		require.Equal(t, http.StatusOK, resp.Status, "%s", resp.Body)
		var body map[string]any
		require.NoError(t, json.Unmarshal(resp.Body, &body), "%s", resp.Body)
		return body
	}
	execute(t, b, "a1", "Open", `{}`)
	execute(t, b, "a1", "Deposit", `{"amount":5,"tag":"x"}`)
	caughtUp(t, r)
	body := get("/queries/ratios")
	assert.Equal(t, false, body["stale"], "%v", body)
	read := body["projections"].([]any)
	require.Len(t, read, 1)
	assert.Equal(t, "ratio", read[0].(map[string]any)["name"])
	assert.Equal(t, "running", read[0].(map[string]any)["state"])

	execute(t, b, "a1", "Deposit", `{"amount":0,"tag":"x"}`) // 100 / 0 fails the projection
	require.Eventually(t, func() bool { return status(t, r, "ratio").State == projections.StateFailed }, 10*time.Second, time.Millisecond)
	body = get("/queries/ratios")
	assert.Equal(t, true, body["stale"], "%v", body)
	assert.Len(t, body["rows"], 1, "the rows it has")
	st0 := body["projections"].([]any)[0].(map[string]any)
	assert.Equal(t, "failed", st0["state"])
	assert.Equal(t, 3.0, st0["errorPosition"])
}
