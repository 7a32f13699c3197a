package native_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cuesource/cuesource"
	"github.com/cuesource/cuesource/api"
	"github.com/cuesource/cuesource/api/nethttp"
	"github.com/cuesource/cuesource/compiler"
	"github.com/cuesource/cuesource/engine"
	"github.com/cuesource/cuesource/interpreter"
	"github.com/cuesource/cuesource/native"
	"github.com/cuesource/cuesource/store"
	"github.com/cuesource/cuesource/store/memory"
	"github.com/cuesource/cuesource/store/sqlite"
)

// ---------------------------------------------------------------------------
// Harness

var (
	exampleOnce sync.Once
	exampleProg *interpreter.Program
	exampleErr  error
)

func example(t *testing.T) *interpreter.Program {
	t.Helper()
	exampleOnce.Do(func() {
		m, err := compiler.Compile("../contexts/example.cue")
		if err != nil {
			exampleErr = err
			return
		}
		exampleProg, exampleErr = interpreter.Compile(m)
	})
	require.NoError(t, exampleErr)
	return exampleProg
}

func openSQLite(t *testing.T) *sqlite.Store {
	t.Helper()
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "shop.db"), sqlite.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, st.Close()) })
	return st
}

// stores are the two paths of the backend: SQLite commits through the
// group committer, the memory store appends directly.
var stores = []struct {
	name string
	open func(t *testing.T) store.Store
}{
	{"sqlite", func(t *testing.T) store.Store { return openSQLite(t) }},
	{"memory", func(t *testing.T) store.Store { return memory.New() }},
}

func newBackend(t *testing.T, st store.Store) *native.Backend {
	t.Helper()
	b := native.New(example(t), st, engine.Options{})
	t.Cleanup(b.Close)
	return b
}

// serve puts a backend behind a real HTTP server and returns its URL and a
// client that keeps enough connections for the tests' clients.
func serve(t *testing.T, b *native.Backend) (string, *http.Client) {
	t.Helper()
	svc := api.New(example(t), b, api.Options{})
	ts := httptest.NewServer(nethttp.Handler(svc, nethttp.Options{}))
	t.Cleanup(ts.Close)
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	t.Cleanup(tr.CloseIdleConnections)
	return ts.URL, &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

var cmdSeq atomic.Int64

// command is a request as the API hands it to the backend.
func command(aggregate, id, name, payload string) *cuesource.CommandRequest {
	return &cuesource.CommandRequest{
		Aggregate: aggregate, ID: id, Command: name, Payload: json.RawMessage(payload),
		CommandID: fmt.Sprintf("cmd-%d-%s", cmdSeq.Add(1), cuesource.NewID()), Time: time.Now().UTC(),
		ExpectedVersion: engine.AnyVersion,
	}
}

func execute(t *testing.T, b *native.Backend, req *cuesource.CommandRequest, status int) decision {
	t.Helper()
	a, err := b.Execute(t.Context(), req)
	require.NoError(t, err)
	resp := api.Answer(a, req.Aggregate, req.ID)
	require.Equal(t, status, resp.Status, "%s: %s", req.Command, resp.Body)
	return decode(t, resp.Body)
}

type decision struct {
	Version int64 `json:"version"`
	Events  []struct {
		ID      string `json:"id"`
		Type    string `json:"type"`
		Version int64  `json:"version"`
	} `json:"events"`
	State map[string]any `json:"state"`
}

func decode(t *testing.T, body []byte) decision {
	t.Helper()
	var d decision
	require.NoError(t, json.Unmarshal(body, &d), "body: %s", body)
	return d
}

// checkLog asserts the global log's positions are 1..n without gaps and
// returns it.
func checkLog(t *testing.T, st store.Store) []store.Event {
	t.Helper()
	log, err := st.ReadAll(t.Context(), 0, 0)
	require.NoError(t, err)
	for i, e := range log {
		require.Equal(t, int64(i+1), e.Position, "position %d of the global log", i+1)
	}
	return log
}

// checkInstance asserts the instance's events have versions 1..version,
// its snapshot is at version and equals the fold of its events.
func checkInstance(t *testing.T, b *native.Backend, st store.Store, aggregate, id string, version int64) store.Instance {
	t.Helper()
	evs, err := st.Events(t.Context(), aggregate, id, 0, 0)
	require.NoError(t, err)
	require.Len(t, evs, int(version))
	for i, e := range evs {
		require.Equal(t, int64(i+1), e.Version, "version of event %d of %s %s", i+1, aggregate, id)
	}
	cur, err := st.Load(t.Context(), aggregate, id)
	require.NoError(t, err)
	require.Equal(t, version, cur.Version)
	d, err := b.Rehydrate(t.Context(), aggregate, id, false)
	require.NoError(t, err)
	assert.Empty(t, d.Error)
	assert.False(t, d.Drifted, "stored %s, rebuilt %s", d.Stored, d.Rebuilt)
	assert.Equal(t, version, d.Version)
	assert.Equal(t, int(version), d.Events)
	return cur
}

func contiguous(from int64, n int) []int64 {
	out := make([]int64, n)
	for i := range out {
		out[i] = from + int64(i)
	}
	return out
}

// ---------------------------------------------------------------------------
// Many clients on one instance

const (
	clients   = 32
	perClient = 16
	total     = 1_000_000 // the order's total: payments of 1 never complete it
)

// TestConcurrentBlind: every client sends its commands without If-Match;
// the instance's writer serializes them and all are accepted.
func TestConcurrentBlind(t *testing.T) {
	for _, sc := range stores {
		t.Run(sc.name, func(t *testing.T) { concurrentBlind(t, sc.open(t)) })
	}
}

// TestConcurrentIfMatch: every client reads the ETag just before sending
// its command with If-Match; each command is accepted or refused with 412.
func TestConcurrentIfMatch(t *testing.T) {
	for _, sc := range stores {
		t.Run(sc.name, func(t *testing.T) { concurrentIfMatch(t, sc.open(t)) })
	}
}

// post sends one command over HTTP.
func post(client *http.Client, url, body string, headers ...string) (int, []byte, error) {
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	return resp.StatusCode, data, err
}

func concurrentBlind(t *testing.T, st store.Store) {
	b := newBackend(t, st)
	url, client := serve(t, b)
	status, body, err := post(client, url+"/order/o1/Place", fmt.Sprintf(`{"cart":"c1","total":%d}`, total))
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, status, string(body))

	var mu sync.Mutex
	var versions []int64
	var eventIDs []string
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range clients {
		wg.Go(func() {
			<-start
			for range perClient {
				status, body, err := post(client, url+"/order/o1/Pay", `{"amount":1}`)
				if !assert.NoError(t, err) || !assert.Equal(t, http.StatusOK, status, string(body)) {
					return
				}
				var d decision
				if !assert.NoError(t, json.Unmarshal(body, &d)) || !assert.Len(t, d.Events, 1) {
					return
				}
				assert.Equal(t, d.Version, d.Events[0].Version)
				mu.Lock()
				versions = append(versions, d.Version)
				eventIDs = append(eventIDs, d.Events[0].ID)
				mu.Unlock()
			}
		})
	}
	close(start)
	wg.Wait()

	const n = clients * perClient
	slices.Sort(versions)
	require.Equal(t, contiguous(2, n), versions, "every command accepted, versions contiguous, no duplicates")
	cur := checkInstance(t, b, st, "order", "o1", n+1)
	var state map[string]any
	require.NoError(t, json.Unmarshal(cur.State, &state))
	assert.Equal(t, float64(n), state["paid"])
	assert.Equal(t, "placed", state["status"])

	log := checkLog(t, st)
	require.Len(t, log, n+1)
	inLog := map[string]bool{}
	for _, e := range log {
		inLog[e.ID] = true
	}
	for _, id := range eventIDs {
		assert.True(t, inLog[id], "acknowledged event %s is in the log", id)
	}
}

func concurrentIfMatch(t *testing.T, st store.Store) {
	b := newBackend(t, st)
	url, client := serve(t, b)
	status, body, err := post(client, url+"/order/o1/Place", fmt.Sprintf(`{"cart":"c1","total":%d}`, total))
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, status, string(body))

	var mu sync.Mutex
	var accepted []int64
	var conflicts, issued int
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range clients {
		wg.Go(func() {
			<-start
			for range perClient {
				resp, err := client.Get(url + "/order/o1")
				if !assert.NoError(t, err) {
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				etag := resp.Header.Get("ETag")
				if !assert.Equal(t, http.StatusOK, resp.StatusCode) || !assert.NotEmpty(t, etag) {
					return
				}
				status, body, err := post(client, url+"/order/o1/Pay", `{"amount":1}`, "If-Match", etag)
				if !assert.NoError(t, err) {
					return
				}
				mu.Lock()
				issued++
				mu.Unlock()
				switch status {
				case http.StatusOK:
					var d decision
					if !assert.NoError(t, json.Unmarshal(body, &d)) {
						return
					}
					assert.Equal(t, api.ETag(d.Version-1), etag, "accepted on the version it was sent for")
					mu.Lock()
					accepted = append(accepted, d.Version)
					mu.Unlock()
				case http.StatusPreconditionFailed:
					var p struct {
						Kind    string `json:"kind"`
						Version int64  `json:"version"`
						ETag    string `json:"etag"`
					}
					if !assert.NoError(t, json.Unmarshal(body, &p)) {
						return
					}
					assert.Equal(t, "version_conflict", p.Kind)
					assert.Equal(t, api.ETag(p.Version), p.ETag)
					assert.NotEqual(t, etag, p.ETag, "a 412 names a newer version")
					mu.Lock()
					conflicts++
					mu.Unlock()
				default:
					assert.Failf(t, "unexpected answer", "%d %s", status, body)
				}
			}
		})
	}
	close(start)
	wg.Wait()

	const n = clients * perClient
	require.Equal(t, n, issued)
	require.Equal(t, n, len(accepted)+conflicts, "every command is accepted or refused with 412")
	require.NotEmpty(t, accepted)
	slices.Sort(accepted)
	require.Equal(t, contiguous(2, len(accepted)), accepted, "accepted versions are contiguous, no duplicates")
	t.Logf("%d accepted, %d conflicts", len(accepted), conflicts)

	cur := checkInstance(t, b, st, "order", "o1", int64(len(accepted))+1)
	var state map[string]any
	require.NoError(t, json.Unmarshal(cur.State, &state))
	assert.Equal(t, float64(len(accepted)), state["paid"])
	require.Len(t, checkLog(t, st), len(accepted)+1)
}

// Two backends over one database are two processes: they do not share
// instance writers, so the store's version check is what keeps the log
// consistent, and the loser of a race answers 409 concurrent_write.
func TestTwoWritersOneStore(t *testing.T) {
	for _, sc := range stores {
		t.Run(sc.name, func(t *testing.T) {
			st := sc.open(t)
			b1, b2 := newBackend(t, st), newBackend(t, st)
			execute(t, b1, command("order", "o1", "Place", fmt.Sprintf(`{"cart":"c1","total":%d}`, total)), http.StatusCreated)

			const workers, rounds = 8, 25
			var mu sync.Mutex
			var accepted []int64
			conflicts := 0
			var wg sync.WaitGroup
			for w := range workers {
				b := b1
				if w%2 == 1 {
					b = b2
				}
				wg.Go(func() {
					for range rounds {
						a, err := b.Execute(t.Context(), command("order", "o1", "Pay", `{"amount":1}`))
						if !assert.NoError(t, err) {
							return
						}
						resp := api.Answer(a, "order", "o1")
						mu.Lock()
						switch resp.Status {
						case http.StatusOK:
							var d decision
							assert.NoError(t, json.Unmarshal(resp.Body, &d))
							accepted = append(accepted, d.Version)
						case http.StatusConflict:
							assert.Contains(t, string(resp.Body), `"kind":"concurrent_write"`)
							conflicts++
						default:
							assert.Failf(t, "unexpected answer", "%d %s", resp.Status, resp.Body)
						}
						mu.Unlock()
					}
				})
			}
			wg.Wait()
			require.Equal(t, workers*rounds, len(accepted)+conflicts)
			slices.Sort(accepted)
			require.Equal(t, contiguous(2, len(accepted)), accepted)
			t.Logf("%d accepted, %d conflicts", len(accepted), conflicts)
			checkInstance(t, b1, st, "order", "o1", int64(len(accepted))+1)
			checkLog(t, st)
		})
	}
}

// ---------------------------------------------------------------------------
// Group commit

// hookStore is a SQLite store that counts group commits and lets a test
// hold Load or AppendBatch. It implements AppendBatch itself, so the
// backend still finds its Batcher.
type hookStore struct {
	*sqlite.Store
	batches, commits atomic.Int64
	loads            atomic.Int64
	onLoad           func()
	onBatch          func(n int)
}

var _ store.Batcher = (*hookStore)(nil)

func (h *hookStore) Load(ctx context.Context, aggregate, id string) (store.Instance, error) {
	h.loads.Add(1)
	if h.onLoad != nil {
		h.onLoad()
	}
	return h.Store.Load(ctx, aggregate, id)
}

func (h *hookStore) AppendBatch(ctx context.Context, commits []store.Commit) ([]store.BatchResult, error) {
	h.batches.Add(1)
	h.commits.Add(int64(len(commits)))
	if h.onBatch != nil {
		h.onBatch(len(commits))
	}
	return h.Store.AppendBatch(ctx, commits)
}

func TestGroupCommit(t *testing.T) {
	st := &hookStore{Store: openSQLite(t)}
	b := newBackend(t, st)

	const n = 64
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			id := fmt.Sprintf("g%02d", i)
			a, err := b.Execute(t.Context(), command("cart", id, "Open", `{"customer":"ada"}`))
			resp := api.Answer(a, "cart", id)
			if !assert.NoError(t, err) || !assert.Equal(t, http.StatusCreated, resp.Status, string(resp.Body)) {
				return
			}
			// Acknowledged only once committed: the events are in the
			// store the moment the answer arrives.
			var d decision
			if !assert.NoError(t, json.Unmarshal(resp.Body, &d)) {
				return
			}
			evs, err := st.Events(context.Background(), "cart", id, 0, 0)
			if !assert.NoError(t, err) || !assert.Len(t, evs, len(d.Events)) {
				return
			}
			for j, e := range evs {
				assert.Equal(t, d.Events[j].ID, e.ID)
				assert.Equal(t, d.Events[j].Version, e.Version)
			}
			cur, err := st.Store.Load(context.Background(), "cart", id)
			assert.NoError(t, err)
			assert.Equal(t, int64(1), cur.Version)
		})
	}
	close(start)
	wg.Wait()

	batches := st.batches.Load()
	t.Logf("%d commands in %d group commits", n, batches)
	assert.Equal(t, int64(n), st.commits.Load(), "every command went through the group committer")
	assert.Less(t, batches, int64(n), "concurrent commands share transactions")
	require.Len(t, checkLog(t, st), n)
}

// ---------------------------------------------------------------------------
// Close

func TestCloseDrainsQueuedCommits(t *testing.T) {
	// Every group commit reports its size and waits for a token. The
	// committer received its commits before it calls AppendBatch, so once
	// the batches seen add up to all commands, every command has been
	// handed to the committer (and the test may Close without racing a
	// send), and the last batch is still being written.
	entered := make(chan int)
	gate := make(chan struct{})
	st := &hookStore{Store: openSQLite(t)}
	st.onBatch = func(n int) {
		entered <- n
		<-gate
	}
	b := native.New(example(t), st, engine.Options{})
	t.Cleanup(b.Close)

	const n = 16
	results := runInFlight(t, b, n, "q")
	seen, batches := 0, 0
	for {
		select {
		case k := <-entered:
			seen += k
			batches++
		case <-time.After(5 * time.Second):
			t.Fatal("no group commit")
		}
		if seen == n {
			break
		}
		gate <- struct{}{}
	}
	t.Logf("%d commands in %d group commits", n, batches)

	closed := make(chan struct{})
	go func() { b.Close(); close(closed) }()
	// Close must not return while the last batch is held at the gate. It
	// has nothing else to wait for, so a Close that does not wait for the
	// batch returns within microseconds: 50ms is ample.
	select {
	case <-closed:
		t.Fatal("Close returned while commits were still being written")
	case <-time.After(50 * time.Millisecond):
	}
	gate <- struct{}{}
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return")
	}
	checkInFlight(t, results, n)
	for i := range n {
		cur, err := st.Store.Load(t.Context(), "cart", fmt.Sprintf("q%02d", i))
		require.NoError(t, err)
		assert.Equal(t, int64(1), cur.Version)
	}
	require.Len(t, checkLog(t, st), n)
}

// A command that is still being decided when Close is called completes too
// (a graceful shutdown whose HTTP drain timed out closes the backend under
// running handlers).
func TestCloseDrainsDecidingCommands(t *testing.T) {
	gate := make(chan struct{})
	st := &hookStore{Store: openSQLite(t)}
	const n = 8
	// The n commands wait in Load; the probes below do not.
	st.onLoad = func() {
		if st.loads.Load() <= n {
			<-gate
		}
	}
	b := native.New(example(t), st, engine.Options{})
	t.Cleanup(b.Close)

	results := runInFlight(t, b, n, "d")
	require.Eventually(t, func() bool { return st.loads.Load() == n }, 5*time.Second, time.Millisecond)

	closed := make(chan struct{})
	go func() { b.Close(); close(closed) }()
	// Close has begun once new writes are refused.
	require.Eventually(t, func() bool {
		_, err := b.Execute(context.Background(), command("cart", "probe", "Open", `{"customer":"ada"}`))
		return errors.Is(err, native.ErrClosed)
	}, 5*time.Second, time.Millisecond, "Close refuses new writes")
	close(gate)
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return")
	}
	checkInFlight(t, results, n)
}

type inFlight struct {
	status int
	err    error
	panic  any
}

// runInFlight starts n commands on n new carts and returns their outcomes
// (filled once each ends).
func runInFlight(t *testing.T, b *native.Backend, n int, prefix string) chan inFlight {
	out := make(chan inFlight, n)
	for i := range n {
		go func() {
			var r inFlight
			defer func() {
				if p := recover(); p != nil {
					r.panic = p
				}
				out <- r
			}()
			id := fmt.Sprintf("%s%02d", prefix, i)
			a, err := b.Execute(context.Background(), command("cart", id, "Open", `{"customer":"ada"}`))
			if r.err = err; err == nil {
				r.status = api.Answer(a, "cart", id).Status
			}
		}()
	}
	return out
}

func checkInFlight(t *testing.T, results chan inFlight, n int) {
	t.Helper()
	for range n {
		select {
		case r := <-results:
			assert.Nil(t, r.panic, "Execute panicked")
			assert.NoError(t, r.err)
			if r.panic == nil {
				assert.Equal(t, http.StatusCreated, r.status)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("an in-flight command did not complete")
		}
	}
}

// ---------------------------------------------------------------------------
// Rehydrate

func TestRehydrateFix(t *testing.T) {
	for _, sc := range stores {
		t.Run(sc.name, func(t *testing.T) {
			st := sc.open(t)
			b := newBackend(t, st)
			ctx := t.Context()
			execute(t, b, command("cart", "r1", "Open", `{"customer":"ada"}`), http.StatusCreated)
			good := execute(t, b, command("cart", "r1", "AddItem", `{"sku":"TEA-01","qty":2,"price":4.5}`), http.StatusOK)
			goodState, err := json.Marshal(good.State)
			require.NoError(t, err)

			d, err := b.Rehydrate(ctx, "cart", "r1", false)
			require.NoError(t, err)
			assert.False(t, d.Drifted)
			assert.Empty(t, d.Error)

			// Corrupt the snapshot: a commit with no events and a wrong state.
			bad := json.RawMessage(`{"status":"open","customer":"eve","items":{},"total":999,"discount":0}`)
			evs, err := st.Append(ctx, store.Commit{Aggregate: "cart", Instance: "r1", ExpectedVersion: 2, State: bad})
			require.NoError(t, err)
			assert.Empty(t, evs)
			cur, err := st.Load(ctx, "cart", "r1")
			require.NoError(t, err)
			require.Equal(t, int64(2), cur.Version, "a commit without events keeps the version")
			require.JSONEq(t, string(bad), string(cur.State))

			d, err = b.Rehydrate(ctx, "cart", "r1", false)
			require.NoError(t, err)
			assert.True(t, d.Drifted)
			assert.False(t, d.Fixed)
			assert.Empty(t, d.Error)
			assert.Equal(t, int64(2), d.Version)
			assert.Equal(t, 2, d.Events)
			assert.JSONEq(t, string(bad), string(d.Stored))
			assert.JSONEq(t, string(goodState), string(d.Rebuilt))
			cur, err = st.Load(ctx, "cart", "r1")
			require.NoError(t, err)
			assert.JSONEq(t, string(bad), string(cur.State), "without fix nothing is written")

			d, err = b.Rehydrate(ctx, "cart", "r1", true)
			require.NoError(t, err)
			assert.True(t, d.Drifted)
			assert.True(t, d.Fixed)
			cur, err = st.Load(ctx, "cart", "r1")
			require.NoError(t, err)
			assert.Equal(t, int64(2), cur.Version)
			assert.JSONEq(t, string(goodState), string(cur.State))

			d, err = b.Rehydrate(ctx, "cart", "r1", false)
			require.NoError(t, err)
			assert.False(t, d.Drifted)
			assert.False(t, d.Fixed)
			require.Len(t, checkLog(t, st), 2, "fixing appends no event")

			// The fixed instance takes commands on the rebuilt state.
			next := execute(t, b, command("cart", "r1", "AddItem", `{"sku":"TEA-01","qty":1,"price":4.5}`), http.StatusOK)
			assert.Equal(t, 13.5, next.State["total"])
			assert.Equal(t, "ada", next.State["customer"])

			// A missing instance: version 0, nothing to compare or fix.
			d, err = b.Rehydrate(ctx, "cart", "none", true)
			require.NoError(t, err)
			assert.Equal(t, int64(0), d.Version)
			assert.False(t, d.Drifted)
			assert.False(t, d.Fixed)
		})
	}
}

// ---------------------------------------------------------------------------
// Wait and Seed

func TestWait(t *testing.T) {
	for _, sc := range stores {
		t.Run(sc.name, func(t *testing.T) {
			st := sc.open(t)
			b := newBackend(t, st)

			// A Wait that did not wait would return at once: 50ms is ample
			// to see that it waits.
			short, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
			defer cancel()
			assert.ErrorIs(t, b.Wait(short, 0), context.DeadlineExceeded, "an empty log makes Wait wait")

			woke := make(chan error, 1)
			go func() { woke <- b.Wait(t.Context(), 0) }()
			// Nothing is committed, so Wait must not return. One that did
			// not wait would return at once: 50ms is ample to see it.
			select {
			case err := <-woke:
				t.Fatalf("Wait returned before any commit: %v", err)
			case <-time.After(50 * time.Millisecond):
			}
			execute(t, b, command("cart", "w1", "Open", `{"customer":"ada"}`), http.StatusCreated)
			select {
			case err := <-woke:
				assert.NoError(t, err)
			case <-time.After(5 * time.Second):
				t.Fatal("a commit did not wake Wait")
			}
			assert.NoError(t, b.Wait(t.Context(), 0), "an event after 0 is there already")
			short2, cancel2 := context.WithTimeout(t.Context(), 50*time.Millisecond)
			defer cancel2()
			assert.ErrorIs(t, b.Wait(short2, 1), context.DeadlineExceeded)
		})
	}
}

func TestSeed(t *testing.T) {
	for _, sc := range stores {
		t.Run(sc.name, func(t *testing.T) {
			st := sc.open(t)
			b := newBackend(t, st)
			req := &cuesource.SeedRequest{Aggregate: "order", ID: "s1", CommandID: "seed-1", Time: time.Now().UTC(), Events: []cuesource.SeedEvent{
				{Event: "OrderPlaced", Payload: json.RawMessage(`{"cart":"c1","total":100}`)},
				{Event: "PaymentReceived", Payload: json.RawMessage(`{"amount":100}`)},
				{Event: "OrderPaid"},
			}}
			a, err := b.Seed(t.Context(), req)
			require.NoError(t, err)
			resp := api.Answer(a, "order", "s1")
			require.Equal(t, http.StatusCreated, resp.Status, string(resp.Body))
			cur := checkInstance(t, b, st, "order", "s1", 3)
			assert.JSONEq(t, `{"status":"paid","cart":"c1","total":100,"paid":100}`, string(cur.State))

			req.CommandID = "seed-2"
			a, err = b.Seed(t.Context(), req)
			require.NoError(t, err)
			resp = api.Answer(a, "order", "s1")
			assert.Equal(t, http.StatusConflict, resp.Status, string(resp.Body))
			require.Len(t, checkLog(t, st), 3)
		})
	}
}

// After Close, writes are refused as unavailable (503 through the API).
func TestExecuteAfterCloseIsUnavailable(t *testing.T) {
	p := example(t)
	b := native.New(p, memory.New(), engine.Options{})
	b.Close()
	_, err := b.Execute(context.Background(), &cuesource.CommandRequest{Aggregate: "cart", ID: "c", Command: "Open", Payload: []byte(`{"customer":"a"}`), CommandID: "x", ExpectedVersion: engine.AnyVersion})
	require.ErrorIs(t, err, cuesource.ErrUnavailable)
	svc := api.New(p, b, api.Options{})
	resp := svc.Serve(context.Background(), &api.Request{Method: "POST", Path: "/cart/c/Open", Header: api.Header{"Content-Type": {"application/json"}}, Body: []byte(`{"customer":"a"}`)})
	require.Equal(t, http.StatusServiceUnavailable, resp.Status)
	require.Equal(t, "1", resp.Header.Get("Retry-After"))
}
