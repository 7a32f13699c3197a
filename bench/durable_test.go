package bench

// Durable throughput: raw SQLite transactions, the store's own commits and
// commands over HTTP against the whole stack `cuesource serve` runs. See
// doc.go for what each benchmark measures.

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cuesource/cuesource/api"
	"github.com/cuesource/cuesource/api/nethttp"
	"github.com/cuesource/cuesource/engine"
	"github.com/cuesource/cuesource/interpreter"
	"github.com/cuesource/cuesource/native"
	"github.com/cuesource/cuesource/store"
	"github.com/cuesource/cuesource/store/sqlite"
)

var syncModes = []struct {
	name string
	sync sqlite.Sync
}{
	{"full", sqlite.SyncFull},
	{"normal", sqlite.SyncNormal},
}

// rawDSN is the write connection's DSN of store/sqlite (sqlite.go, open):
// the same pragmas in the same order and BEGIN IMMEDIATE, on the driver
// the store links (modernc.org/sqlite, registered as "sqlite" by the
// store/sqlite import).
func rawDSN(path string, durability sqlite.Sync) string {
	q := url.Values{
		"_pragma": {
			"busy_timeout(5000)",
			"journal_mode(WAL)",
			"synchronous(" + durability.String() + ")",
			"foreign_keys(ON)",
		},
		"_txlock": {"immediate"},
	}
	return "file:" + strings.NewReplacer("%", "%25", "?", "%3F", "#", "%23").Replace(filepath.ToSlash(path)) + "?" + q.Encode()
}

// rawEventsTable is the events table of store/sqlite/schema.go, with its
// two unique indexes.
const rawEventsTable = `CREATE TABLE events (
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
) STRICT`

// rawPayload brings a row to about 200 bytes of column data: 36 (id) + 4 +
// 6 (instance) + 9 (type) + 30 (time) + 36 (command id) + 79 (payload) =
// 200, plus three integers.
const rawPayload = `{"sku":"TEA-01","qty":1,"price":4.5,"note":"leave at the door, ring twice xyz"}`

// openRaw opens one connection with the store's settings and creates the
// events table.
func openRaw(b *testing.B, durability sqlite.Sync) *sql.DB {
	b.Helper()
	db, err := sql.Open("sqlite", rawDSN(filepath.Join(b.TempDir(), "raw.db"), durability))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	var mode string
	if err := db.QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
		b.Fatalf("journal_mode %q, %v", mode, err)
	}
	var syncNow int
	if err := db.QueryRow(`PRAGMA synchronous`).Scan(&syncNow); err != nil {
		b.Fatal(err)
	}
	if want := map[sqlite.Sync]int{sqlite.SyncNormal: 1, sqlite.SyncFull: 2}[durability]; syncNow != want {
		b.Fatalf("synchronous is %d, want %d", syncNow, want)
	}
	if _, err := db.Exec(rawEventsTable); err != nil {
		b.Fatal(err)
	}
	return db
}

// BenchmarkRawSQLite is the ceiling: database/sql on modernc.org/sqlite,
// one connection, the store's pragmas, no store code. One op is one
// transaction (BEGIN IMMEDIATE; INSERT rows; COMMIT) of 1 or 64 rows of
// about 200 bytes into a table shaped like the events table.
func BenchmarkRawSQLite(b *testing.B) {
	for _, m := range syncModes {
		for _, rows := range []int{1, 64} {
			b.Run(fmt.Sprintf("sync=%s/rows=%d", m.name, rows), func(b *testing.B) {
				db := openRaw(b, m.sync)
				ins, err := db.Prepare(`INSERT INTO events
					(id, aggregate, instance, version, type, schema_version, time, command_id, payload, meta)
					VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)`)
				if err != nil {
					b.Fatal(err)
				}
				defer ins.Close()
				n := 0
				tm := at.UTC().Format("2006-01-02T15:04:05.000000000Z07:00")
				for b.Loop() {
					tx, err := db.Begin()
					if err != nil {
						b.Fatal(err)
					}
					st := tx.Stmt(ins)
					for range rows {
						_, err := st.Exec(
							fmt.Sprintf("%08x-0000-4000-8000-%012x", 1, n),
							"cart", fmt.Sprintf("c-%04d", n%1000), n/1000+1, "ItemAdded", 1, tm,
							fmt.Sprintf("%08x-0000-4000-8000-%012x", 2, n), rawPayload)
						if err != nil {
							b.Fatal(err)
						}
						n++
					}
					if err := tx.Commit(); err != nil {
						b.Fatal(err)
					}
				}
				sec := b.Elapsed().Seconds()
				b.ReportMetric(float64(b.N)/sec, "tx/s")
				b.ReportMetric(float64(b.N*rows)/sec, "rows/s")
			})
		}
	}
}

// cartState is a cart's snapshot as the HTTP path stores it.
var cartState = []byte(`{"customer":"ada","discount":0,"items":{"MUG-02":{"price":12,"qty":3},"TEA-01":{"price":4.5,"qty":4}},"status":"open","total":54}`)

// BenchmarkStoreAppend is one step up from the ceiling: the store's own
// write transaction (check query, event insert, snapshot upsert) for the
// commit an AddItem makes, one per transaction (Append, as without group
// commit) or 64 instances' commits in one (AppendBatch, as the group
// committer does). One op is one transaction.
func BenchmarkStoreAppend(b *testing.B) {
	for _, m := range syncModes {
		for _, commits := range []int{1, 64} {
			b.Run(fmt.Sprintf("sync=%s/commits=%d", m.name, commits), func(b *testing.B) {
				st, err := sqlite.Open(b.Context(), filepath.Join(b.TempDir(), "store.db"), sqlite.Options{Sync: m.sync})
				if err != nil {
					b.Fatal(err)
				}
				defer st.Close()
				versions := make([]int64, 1000)
				n := 0
				next := func() store.Commit {
					i := n % len(versions)
					c := store.Commit{Aggregate: "cart", Instance: fmt.Sprintf("c-%04d", i), ExpectedVersion: versions[i], State: cartState,
						Events: []store.Event{{ID: fmt.Sprintf("e-%d", n), Type: "ItemAdded", SchemaVersion: 1, Time: at,
							CommandID: fmt.Sprintf("c-%d", n), Payload: []byte(`{"price":4.5,"qty":1,"sku":"TEA-01"}`)}}}
					versions[i]++
					n++
					return c
				}
				batch := make([]store.Commit, commits)
				for b.Loop() {
					if commits == 1 {
						if _, err := st.Append(b.Context(), next()); err != nil {
							b.Fatal(err)
						}
						continue
					}
					for i := range batch {
						batch[i] = next()
					}
					res, err := st.AppendBatch(b.Context(), batch)
					if err != nil {
						b.Fatal(err)
					}
					for _, r := range res {
						if r.Err != nil {
							b.Fatal(r.Err)
						}
					}
				}
				sec := b.Elapsed().Seconds()
				b.ReportMetric(float64(b.N)/sec, "tx/s")
				b.ReportMetric(float64(b.N*commits)/sec, "commits/s")
			})
		}
	}
}

// countingStore counts the store transactions of the group committer, to
// report how many commands share one. It is a store.Batcher like the
// store it wraps, so the backend groups commits exactly as it does in
// `cuesource serve`.
type countingStore struct {
	*sqlite.Store
	txs, commits atomic.Int64
}

func (s *countingStore) AppendBatch(ctx context.Context, commits []store.Commit) ([]store.BatchResult, error) {
	s.txs.Add(1)
	s.commits.Add(int64(len(commits)))
	return s.Store.AppendBatch(ctx, commits)
}

var _ store.Batcher = (*countingStore)(nil)

const (
	maxClients = 64
	spreadOver = 1000
)

// skus are the items AddItem adds, each at its fixed price, so the "price
// changed for sku" guard passes and a cart never holds more than four of
// the twenty different items its invariant allows.
var skus = []string{"TEA-01", "MUG-02", "PEN-03", "CUP-04"}

var addItemBodies = func() [][]byte {
	out := make([][]byte, len(skus))
	for i, s := range skus {
		out[i] = fmt.Appendf(nil, `{"sku":%q,"qty":1,"price":%d.5}`, s, i+2)
	}
	return out
}()

// stack is what `cuesource serve` runs, on a real TCP loopback listener:
// nethttp.Handler over api.Service over native.Backend over sqlite.Store in a
// temporary directory, with maxClients keep-alive clients, each with its
// own transport and an open connection.
type stack struct {
	st      *countingStore
	backend *native.Backend
	srv     *httptest.Server
	clients []*http.Client
}

func newStack(b *testing.B, p *interpreter.Program, dir string, durability sqlite.Sync) *stack {
	b.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.Fatal(err)
	}
	st, err := sqlite.Open(context.Background(), filepath.Join(dir, "shop.db"), sqlite.Options{Sync: durability})
	if err != nil {
		b.Fatal(err)
	}
	s := &stack{st: &countingStore{Store: st}}
	s.backend = native.New(p, s.st, engine.Options{})
	svc := api.New(p, s.backend, api.Options{})
	s.srv = httptest.NewServer(nethttp.Handler(svc, nethttp.Options{}))
	for range maxClients {
		s.clients = append(s.clients, &http.Client{Transport: &http.Transport{
			MaxIdleConns: 16, MaxIdleConnsPerHost: 16, DisableCompression: true,
		}})
	}
	// Open each client's connection, then the hot cart and the spread
	// carts, maxClients at a time.
	ids := []string{"hot"}
	for i := range spreadOver {
		ids = append(ids, spreadID(i))
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, maxClients)
	for _, c := range s.clients {
		wg.Go(func() {
			resp, err := c.Get(s.srv.URL + "/healthz")
			if err != nil {
				errs <- err
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			for {
				i := int(next.Add(1)) - 1
				if i >= len(ids) {
					return
				}
				status, err := post(c, s.srv.URL+"/cart/"+ids[i]+"/Open", []byte(`{"customer":"ada"}`))
				if err == nil && status/100 != 2 {
					err = fmt.Errorf("Open %s: status %d", ids[i], status)
				}
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		s.close()
		b.Fatal(err)
	}
	return s
}

func spreadID(i int) string { return fmt.Sprintf("c-%04d", i) }

func (s *stack) close() {
	for _, c := range s.clients {
		c.CloseIdleConnections()
	}
	s.srv.Close()
	s.backend.Close()
	s.st.Close()
}

// post sends one command and reads the whole answer, so the connection is
// reused.
func post(c *http.Client, url string, body []byte) (int, error) {
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, err
}

// BenchmarkHTTP: durable AddItem commands/s over HTTP, sync FULL, from 1,
// 8 and 64 concurrent clients, all on one hot cart (commands serialize on
// the instance) or spread round-robin over 1000 open carts (commands of
// different carts share the group committer's transactions).
func BenchmarkHTTP(b *testing.B) { benchmarkHTTP(b, sqlite.SyncFull) }

// BenchmarkHTTPSyncNormal is BenchmarkHTTP with `--sync normal`.
func BenchmarkHTTPSyncNormal(b *testing.B) { benchmarkHTTP(b, sqlite.SyncNormal) }

func benchmarkHTTP(b *testing.B, durability sqlite.Sync) {
	p := compile(b)
	dir := b.TempDir()
	// One stack per sub-benchmark, built on its first run and kept for
	// its -count runs (which follow one another); the next sub-benchmark
	// closes it. Every sub-benchmark starts from a fresh database.
	var cur *stack
	var curName string
	b.Cleanup(func() {
		if cur != nil {
			cur.close()
		}
	})
	for _, mode := range []string{"hot", "spread"} {
		for _, clients := range []int{1, 8, maxClients} {
			name := fmt.Sprintf("%s/clients=%d", mode, clients)
			b.Run(name, func(b *testing.B) {
				if curName != name {
					if cur != nil {
						cur.close()
					}
					cur, curName = nil, name
					cur = newStack(b, p, filepath.Join(dir, strings.ReplaceAll(name, "/", "-")), durability)
				}
				runClients(b, cur, mode == "hot", clients)
			})
		}
	}
}

// runClients sends b.N AddItem commands from the first `clients` clients
// of s, each client one request at a time, and reports commands/s, the
// median and 99th percentile latency and the commands per store
// transaction. Any failed command fails the benchmark.
func runClients(b *testing.B, s *stack, hot bool, clients int) {
	urls := make([]string, spreadOver)
	for i := range urls {
		id := spreadID(i)
		if hot {
			id = "hot"
		}
		urls[i] = s.srv.URL + "/cart/" + id + "/AddItem"
	}
	durs := make([]time.Duration, b.N)
	var next, failed atomic.Int64
	var errMu sync.Mutex
	var firstErr error
	txs0, commits0 := s.st.txs.Load(), s.st.commits.Load()
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for _, c := range s.clients[:clients] {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= b.N {
					return
				}
				// Round-robin over the carts: no two clients in flight
				// share one. Each cart cycles through the skus.
				body := addItemBodies[(i/len(urls))%len(skus)]
				if hot {
					body = addItemBodies[i%len(skus)]
				}
				t0 := time.Now()
				status, err := post(c, urls[i%len(urls)], body)
				durs[i] = time.Since(t0)
				if err == nil && status/100 != 2 {
					err = fmt.Errorf("status %d", status)
				}
				if err != nil {
					if failed.Add(1) == 1 {
						errMu.Lock()
						firstErr = err
						errMu.Unlock()
					}
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	if n := failed.Load(); n > 0 {
		b.Fatalf("%d of %d commands failed; first: %v", n, b.N, firstErr)
	}
	slices.Sort(durs)
	pct := func(q float64) float64 {
		return float64(durs[int(q*float64(len(durs)-1))]) / 1e6
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "cmd/s")
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	if txs := s.st.txs.Load() - txs0; txs > 0 {
		b.ReportMetric(float64(s.st.commits.Load()-commits0)/float64(txs), "cmd/tx")
	}
}
