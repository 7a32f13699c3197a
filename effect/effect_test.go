package effect_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
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
	"github.com/cuesource/cuesource/effect"
	"github.com/cuesource/cuesource/effect/egress"
	"github.com/cuesource/cuesource/engine"
	"github.com/cuesource/cuesource/interpreter"
	"github.com/cuesource/cuesource/manifest"
	"github.com/cuesource/cuesource/native"
	"github.com/cuesource/cuesource/store/sqlite"
)

// ---------------------------------------------------------------------------
// Harness

// contextSrc is a context with carts, orders, accounts and transfers; the
// effects block is the test's.
const contextSrc = `package fx

import "github.com/cuesource/cuesource/schema"

schema.#Context & {
	name: "fx"
	env: {
		HOOK_URL: {}
		TOKEN: default: "s3cret"
	}
	aggregates: {
		cart: {
			#state: {status: string, total: number}
			initial: {status: "new", total: 0}
			commands: {
				Open: {instance: "new", emit: [{event: "Opened"}]}
				CheckOut: {
					instance: "any"
					#payload: total: number
					emit: [{event: "CheckedOut", payload: total: "cmd.total"}]
				}
			}
			events: {
				Opened: apply: status: "'open'"
				CheckedOut: {
					#payload: total: number
					apply: {status: "'checkedOut'", total: "event.total"}
				}
			}
		}
		order: {
			#state: {status: string, cart: string, total: number}
			initial: {status: "new", cart: "", total: 0}
			commands: Place: {
				instance: "new"
				#payload: {cart: string, total: number}
				emit: [{event: "Placed", payload: {cart: "cmd.cart", total: "cmd.total"}}]
			}
			events: Placed: {
				#payload: {cart: string, total: number}
				apply: {status: "'placed'", cart: "event.cart", total: "event.total"}
			}
		}
		account: {
			#state: balance: number
			initial: balance: 0
			commands: {
				Deposit: {
					instance: "any"
					#payload: amount: number & >0
					emit: [{event: "Deposited", payload: amount: "cmd.amount"}]
				}
				Withdraw: {
					#payload: {amount: number & >0, transfer: string}
					require: "insufficient funds": "state.balance >= cmd.amount"
					emit: [{event: "Withdrawn", payload: {amount: "cmd.amount", transfer: "cmd.transfer"}}]
				}
			}
			events: {
				Deposited: {#payload: amount: number, apply: balance: "state.balance + event.amount"}
				Withdrawn: {#payload: {amount: number, transfer: string}, apply: balance: "state.balance - event.amount"}
			}
		}
		transfer: {
			#state: {status: string, reason: string}
			initial: {status: "new", reason: ""}
			commands: {
				Start: {
					instance: "new"
					#payload: {from: string, amount: number}
					emit: [{event: "Started", payload: {from: "cmd.from", amount: "cmd.amount"}}]
				}
				Request: {
					instance: "new"
					#payload: {from: string, amount: number}
					emit: [{event: "Requested", payload: {from: "cmd.from", amount: "cmd.amount"}}]
				}
				Fail: {
					#payload: reason: string
					emit: [{event: "Failed", payload: reason: "cmd.reason"}]
				}
			}
			events: {
				Started: {#payload: {from: string, amount: number}, apply: status: "'started'"}
				Requested: {#payload: {from: string, amount: number}, apply: status: "'requested'"}
				Failed: {#payload: reason: string, apply: {status: "'failed'", reason: "event.reason"}}
			}
		}
	}
	effects: {
%s
	}
}
`

// Effects the tests combine.
const (
	notifyHook = `notify: {
		on: "cart.CheckedOut"
		delivery: %q
		retry: {max: %d, backoff: "10ms"}
		http: {
			url: env: "HOOK_URL"
			headers: Authorization: "'Bearer ' + env.TOKEN"
			body: {cart: "meta.aggregateId", total: "event.total"}
			timeout: "2s"
		}
	}`
	placeOrder = `place_order: {
		on: "cart.CheckedOut"
		delivery: %q
		retry: {max: 5, backoff: "10ms"}
		send: {
			aggregate: "order"
			id: "meta.aggregateId"
			command: "Place"
			payload: {cart: "meta.aggregateId", total: "event.total"}
		}
	}`
	withdraw = `withdraw: {
		on: "transfer.Started"
		retry: {max: 3, backoff: "10ms"}
		send: {
			aggregate: "account"
			id: "event.from"
			command: "Withdraw"
			payload: {amount: "event.amount", transfer: "meta.aggregateId"}
		}
	}
	withdraw_blind: {
		on: "transfer.Requested"
		retry: {max: 3, backoff: "10ms"}
		send: {
			aggregate: "account"
			id: "event.from"
			command: "Withdraw"
			payload: {amount: "event.amount", transfer: "meta.aggregateId"}
		}
	}`
)

func compile(t testing.TB, effects ...string) *interpreter.Program {
	t.Helper()
	return compileWith(t, nil, effects...)
}

// compileWith compiles the context after edit changed its manifest.
func compileWith(t testing.TB, edit func(*manifest.Manifest), effects ...string) *interpreter.Program {
	t.Helper()
	path := filepath.Join(t.TempDir(), "fx.cue")
	require.NoError(t, os.WriteFile(path, []byte(fmt.Sprintf(contextSrc, strings.Join(effects, "\n"))), 0o644))
	m, err := compiler.Compile(path)
	require.NoError(t, err)
	if edit != nil {
		edit(m)
	}
	p, err := interpreter.Compile(m)
	require.NoError(t, err)
	return p
}

// harness is one "process": a store, a backend and a dispatcher over the
// database file at path.
type harness struct {
	t    testing.TB
	prog *interpreter.Program
	path string
	opt  effect.Options
	exec func(effect.Executor) effect.Executor // wraps the backend, when set

	st *sqlite.Store
	be *native.Backend
	d  *effect.Dispatcher

	cancel context.CancelFunc
	done   chan struct{}
}

func newHarness(t testing.TB, p *interpreter.Program, opt effect.Options, wrap ...func(effect.Executor) effect.Executor) *harness {
	t.Helper()
	h := &harness{t: t, prog: p, path: filepath.Join(t.TempDir(), "fx.db"), opt: opt}
	if len(wrap) > 0 {
		h.exec = wrap[0]
	}
	h.open()
	t.Cleanup(h.close)
	return h
}

// open opens the store, the backend and the dispatcher.
func (h *harness) open() {
	h.t.Helper()
	st, err := sqlite.Open(context.Background(), h.path, sqlite.Options{})
	require.NoError(h.t, err)
	h.st = st
	h.be = native.New(h.prog, st, engine.Options{Strict: true})
	var exec effect.Executor = h.be
	if h.exec != nil {
		exec = h.exec(exec)
	}
	if h.opt.Log == nil {
		h.opt.Log = slog.New(slog.DiscardHandler)
	}
	h.d, err = effect.New(context.Background(), h.prog, st, exec, h.opt)
	require.NoError(h.t, err)
	h.be.SetAfterCommit(h.d.AfterCommit)
}

// start runs the dispatcher's loop until stop.
func (h *harness) start() {
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel, h.done = cancel, make(chan struct{})
	go func() {
		defer close(h.done)
		assert.NoError(h.t, h.d.Run(ctx))
	}()
}

// startAsleep starts the loop and returns once it has looked at the
// outbox and gone to sleep for at least long.
func (h *harness) startAsleep(long time.Duration) {
	h.t.Helper()
	asleep := make(chan struct{})
	var once sync.Once
	h.d.SetWaiting(func(d time.Duration) {
		if d >= long {
			once.Do(func() { close(asleep) })
		}
	})
	h.start()
	select {
	case <-asleep:
	case <-time.After(10 * time.Second):
		h.t.Fatalf("the loop did not go to sleep for %v within 10s", long)
	}
}

func (h *harness) stop() {
	if h.cancel != nil {
		h.cancel()
		<-h.done
		h.cancel = nil
	}
}

// close stops everything, like a process that exits.
func (h *harness) close() {
	h.stop()
	if h.be != nil {
		h.be.Close()
		assert.NoError(h.t, h.st.Close())
		h.be, h.st = nil, nil
	}
}

func (h *harness) command(agg, id, cmd, payload string) api.Response {
	h.t.Helper()
	a, err := h.be.Execute(context.Background(), &cuesource.CommandRequest{
		Aggregate: agg, ID: id, Command: cmd, Payload: json.RawMessage(payload),
		CommandID: cuesource.NewID(), Time: time.Now().UTC(), ExpectedVersion: engine.AnyVersion,
	})
	require.NoError(h.t, err)
	resp := api.Answer(a, agg, id)
	require.Equal(h.t, 2, resp.Status/100, "%s %s %s: %s", agg, id, cmd, resp.Body)
	return resp
}

// eventID is the id of the last event of an instance.
func (h *harness) eventID(agg, id string) string {
	h.t.Helper()
	evs, err := h.st.Events(context.Background(), agg, id, 0, 0)
	require.NoError(h.t, err)
	require.NotEmpty(h.t, evs)
	return evs[len(evs)-1].ID
}

type outboxRow struct {
	EventID, Consumer string
	Attempts          int
	LastError         string
}

func (h *harness) outbox() []outboxRow {
	h.t.Helper()
	rows, err := h.st.Read().Query(`SELECT event_id, consumer, attempts, COALESCE(last_error, '') FROM outbox ORDER BY position`)
	require.NoError(h.t, err)
	defer rows.Close()
	var out []outboxRow
	for rows.Next() {
		var r outboxRow
		require.NoError(h.t, rows.Scan(&r.EventID, &r.Consumer, &r.Attempts, &r.LastError))
		out = append(out, r)
	}
	require.NoError(h.t, rows.Err())
	return out
}

func (h *harness) deadLetters() []cuesource.DeadLetter {
	h.t.Helper()
	list, err := h.d.DeadLetters().List(context.Background())
	require.NoError(h.t, err)
	return list
}

func (h *harness) state(agg, id string) map[string]any {
	h.t.Helper()
	inst, err := h.st.Load(context.Background(), agg, id)
	require.NoError(h.t, err)
	if inst.Version == 0 {
		return nil
	}
	var s map[string]any
	require.NoError(h.t, json.Unmarshal(inst.State, &s))
	return s
}

func (h *harness) events(agg, id string) []string {
	h.t.Helper()
	evs, err := h.st.Events(context.Background(), agg, id, 0, 0)
	require.NoError(h.t, err)
	var out []string
	for _, e := range evs {
		out = append(out, e.Type)
	}
	return out
}

func eventually(t testing.TB, cond func() bool, msg string) {
	t.Helper()
	require.Eventually(t, cond, 10*time.Second, 2*time.Millisecond, msg)
}

// hook is a webhook receiver on 127.0.0.1 that fails its first calls and
// deduplicates deliveries by Cuesource-Event-Id, as a receiver should.
type hook struct {
	srv *httptest.Server

	mu        sync.Mutex
	failFirst int // answer the first calls with failStatus
	failAll   bool
	status    int // the failing status; 503 by default
	calls     int
	accepted  map[string]int // 2xx answers, by event id and effect
	applied   map[string]int // deliveries the application acted on (first 2xx per key)
	requests  []*http.Request
	bodies    []map[string]any
}

func newHook(t testing.TB) *hook {
	h := &hook{status: http.StatusServiceUnavailable, accepted: map[string]int{}, applied: map[string]int{}}
	h.srv = httptest.NewServer(http.HandlerFunc(h.serve))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *hook) serve(w http.ResponseWriter, r *http.Request) {
	data, _ := io.ReadAll(r.Body)
	h.mu.Lock()
	defer h.mu.Unlock()
	h.calls++
	var body map[string]any
	_ = json.Unmarshal(data, &body)
	h.requests = append(h.requests, r)
	h.bodies = append(h.bodies, body)
	if h.failAll || h.calls <= h.failFirst {
		http.Error(w, "not now", h.status)
		return
	}
	key := r.Header.Get("Cuesource-Effect") + "/" + r.Header.Get("Cuesource-Event-Id")
	h.accepted[key]++
	if h.applied[key] == 0 {
		h.applied[key] = 1
	}
	w.WriteHeader(http.StatusNoContent)
}

func (h *hook) set(f func(h *hook)) {
	h.mu.Lock()
	defer h.mu.Unlock()
	f(h)
}

func (h *hook) get(f func(h *hook)) {
	h.mu.Lock()
	defer h.mu.Unlock()
	f(h)
}

// loopback allows webhooks to call the test servers on 127.0.0.1, which
// the address policy refuses by default.
var loopback = mustAllow("127.0.0.1")

func mustAllow(list string) egress.Policy {
	p, err := egress.Parse(list)
	if err != nil {
		panic(err)
	}
	return p
}

func hookVars(h *hook) map[string]string {
	return map[string]string{"HOOK_URL": h.srv.URL + "/orders", "TOKEN": "s3cret"}
}

// ---------------------------------------------------------------------------
// Webhooks

// A webhook whose receiver fails twice is retried with backoff and reaches
// the application exactly once, with the effect's headers and body.
func TestWebhookRetriedUntilDeliveredOnce(t *testing.T) {
	srv := newHook(t)
	srv.set(func(h *hook) { h.failFirst = 2 })
	h := newHarness(t, compile(t, fmt.Sprintf(notifyHook, "queue", 5)), effect.Options{Vars: hookVars(srv), Egress: loopback, Poll: 5 * time.Millisecond})
	h.command("cart", "c1", "CheckOut", `{"total":12.5}`)
	ev := h.eventID("cart", "c1")
	h.start()
	eventually(t, func() bool { return len(h.outbox()) == 0 }, "the row is delivered")
	h.stop()
	srv.get(func(s *hook) {
		assert.Equal(t, 3, s.calls, "two failures, then the delivery")
		assert.Equal(t, map[string]int{"notify/" + ev: 1}, s.accepted, "delivered once")
		assert.Equal(t, map[string]int{"notify/" + ev: 1}, s.applied)
		r := s.requests[2]
		assert.Equal(t, http.MethodPost, r.Method)
		assert.Equal(t, "/orders", r.URL.Path)
		assert.Equal(t, "application/json", r.Header.Get("Content-Type"))
		assert.Equal(t, "notify:"+ev, r.Header.Get("Idempotency-Key"))
		assert.Equal(t, ev, r.Header.Get("Cuesource-Event-Id"))
		assert.Equal(t, "notify", r.Header.Get("Cuesource-Effect"))
		assert.Equal(t, "Bearer s3cret", r.Header.Get("Authorization"))
		assert.Equal(t, map[string]any{"cart": "c1", "total": 12.5}, s.bodies[2])
		for _, r := range s.requests {
			assert.Equal(t, ev, r.Header.Get("Cuesource-Event-Id"), "every attempt carries the same event id")
		}
	})
	assert.Empty(t, h.deadLetters())
}

// After retry.max failed attempts a delivery is dead-lettered; retried from
// the list, it is delivered. A 4xx answer is dead-lettered at once.
func TestWebhookDeadLetteredThenRetried(t *testing.T) {
	srv := newHook(t)
	srv.set(func(h *hook) { h.failAll, h.status = true, http.StatusInternalServerError })
	h := newHarness(t, compile(t, fmt.Sprintf(notifyHook, "queue", 3)), effect.Options{Vars: hookVars(srv), Egress: loopback, Poll: 5 * time.Millisecond})
	h.start()
	h.command("cart", "c1", "CheckOut", `{"total":1}`)
	ev := h.eventID("cart", "c1")
	eventually(t, func() bool { return len(h.deadLetters()) == 1 }, "dead-lettered")
	assert.Empty(t, h.outbox(), "a dead letter leaves the outbox")
	dl := h.deadLetters()[0]
	assert.Equal(t, "notify", dl.Effect)
	assert.Equal(t, ev, dl.EventID)
	assert.Equal(t, 3, dl.Attempts)
	assert.Contains(t, dl.Error, "500")
	assert.Contains(t, dl.Error, "gave up after 3 attempts")
	assert.Empty(t, dl.Rejection)
	srv.get(func(s *hook) { assert.Equal(t, 3, s.calls) })

	// The receiver is fixed; the operator retries the letter.
	srv.set(func(h *hook) { h.failAll = false })
	require.NoError(t, h.d.DeadLetters().Retry(context.Background(), dl.ID))
	assert.Empty(t, h.deadLetters())
	eventually(t, func() bool { return len(h.outbox()) == 0 }, "delivered after the retry")
	srv.get(func(s *hook) { assert.Equal(t, map[string]int{"notify/" + ev: 1}, s.accepted) })

	// A client error is not retried.
	srv.set(func(h *hook) { h.failAll, h.status = true, http.StatusBadRequest })
	h.command("cart", "c2", "CheckOut", `{"total":2}`)
	eventually(t, func() bool { return len(h.deadLetters()) == 1 }, "dead-lettered at once")
	dl = h.deadLetters()[0]
	assert.Equal(t, 1, dl.Attempts)
	assert.Contains(t, dl.Error, "400")
	require.NoError(t, h.d.DeadLetters().Discard(context.Background(), dl.ID))
	assert.Empty(t, h.deadLetters())
	assert.ErrorIs(t, h.d.DeadLetters().Discard(context.Background(), dl.ID), cuesource.ErrUnknown)
	assert.ErrorIs(t, h.d.DeadLetters().Retry(context.Background(), dl.ID), cuesource.ErrUnknown)
}

// A receiver that does not answer within the effect's timeout is retried.
func TestWebhookTimeoutIsRetried(t *testing.T) {
	var calls atomic.Int32
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			select {
			case <-r.Context().Done():
			case <-release:
			}
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer slow.Close()
	defer close(release)
	src := strings.Replace(fmt.Sprintf(notifyHook, "queue", 3), `timeout: "2s"`, `timeout: "100ms"`, 1)
	h := newHarness(t, compile(t, src), effect.Options{Vars: map[string]string{"HOOK_URL": slow.URL}, Egress: loopback, Poll: 5 * time.Millisecond})
	h.command("cart", "c1", "CheckOut", `{"total":1}`)
	h.start()
	eventually(t, func() bool { return len(h.outbox()) == 0 }, "delivered on the second attempt")
	assert.Equal(t, int32(2), calls.Load())
	assert.Empty(t, h.deadLetters())
}

// ---------------------------------------------------------------------------
// Send: processes

// crashAfter executes commands, then reports a failure as if the process
// died after the command committed and before the outbox row was deleted.
type crashAfter struct {
	next  effect.Executor
	crash func()
	calls atomic.Int32
}

func (c *crashAfter) Execute(ctx context.Context, req *cuesource.CommandRequest) (cuesource.Answer, error) {
	resp, err := c.next.Execute(ctx, req)
	if c.calls.Add(1) == 1 {
		c.crash()
		return cuesource.Answer{}, errors.New("connection lost")
	}
	return resp, err
}

// recorder keeps the responses of the commands it runs.
type recorder struct {
	next effect.Executor
	mu   sync.Mutex
	reqs []*cuesource.CommandRequest
	resp []cuesource.Answer
}

func (r *recorder) Execute(ctx context.Context, req *cuesource.CommandRequest) (cuesource.Answer, error) {
	resp, err := r.next.Execute(ctx, req)
	r.mu.Lock()
	r.reqs, r.resp = append(r.reqs, req), append(r.resp, resp)
	r.mu.Unlock()
	return resp, err
}

// A checked-out cart places its order exactly once, even when the process
// stops after the order was placed but before the delivery was recorded,
// and when a delivery is repeated after that.
func TestSendProcessExactlyOnceAcrossRestart(t *testing.T) {
	p := compile(t, fmt.Sprintf(placeOrder, "queue"))
	crash := &crashAfter{}
	h := newHarness(t, p, effect.Options{Poll: 5 * time.Millisecond}, func(next effect.Executor) effect.Executor { crash.next = next; return crash })
	h.command("cart", "c1", "CheckOut", `{"total":30}`)
	ev := h.eventID("cart", "c1")
	// The first delivery places the order, then the process "dies".
	done := make(chan struct{})
	crash.crash = func() { h.cancel(); close(done) }
	h.start()
	<-done
	h.close()

	// Restart: a new process over the same database redelivers the row.
	rec := &recorder{}
	h.exec = func(next effect.Executor) effect.Executor { rec.next = next; return rec }
	h.open()
	require.Equal(t, []string{"Placed"}, h.events("order", "c1"), "the order was placed before the crash")
	rows := h.outbox()
	require.Len(t, rows, 1, "the delivery is still owed after the restart")
	assert.Equal(t, 0, rows[0].Attempts, "an attempt cut short by shutdown is not counted")
	h.start()
	eventually(t, func() bool { return len(h.outbox()) == 0 }, "redelivered")
	assert.Equal(t, []string{"Placed"}, h.events("order", "c1"), "still one order: the idempotency key made the redelivery a replay")
	rec.mu.Lock()
	require.Len(t, rec.resp, 1)
	assert.True(t, rec.resp[0].Replayed)
	assert.Equal(t, "effect:place_order:"+ev, rec.reqs[0].IdempotencyKey)
	assert.Equal(t, "order", rec.reqs[0].Aggregate)
	assert.Equal(t, "c1", rec.reqs[0].ID)
	rec.mu.Unlock()
	assert.Equal(t, map[string]any{"status": "placed", "cart": "c1", "total": 30.0}, h.state("order", "c1"))

	// A process that died holding the row's lease delivers it again once
	// the lease is over: the same row, owed again.
	require.NoError(t, h.st.Write(context.Background(), func(tx *sql.Tx) error {
		_, err := tx.Exec(`INSERT INTO outbox (event_id, consumer, created, next_attempt) VALUES (?, 'place_order', '2026-01-01T00:00:00.000000000Z', '2026-01-01T00:00:00.000000000Z')`, ev)
		return err
	}))
	h.d.Kick()
	eventually(t, func() bool { return len(h.outbox()) == 0 }, "redelivered again")
	assert.Equal(t, []string{"Placed"}, h.events("order", "c1"))
	assert.Empty(t, h.deadLetters())
}

// A send rejected for good runs its onReject command (the transfer fails
// when the withdrawal is refused); without onReject, the rejection is
// dead-lettered.
func TestSendRejected(t *testing.T) {
	// withdraw's onReject: the transfer fails, giving the guard's name.
	// (Set on the manifest: schema.cue's `#Send & {onReject?: #Send}`
	// refuses onReject, #Send being closed.)
	p := compileWith(t, func(m *manifest.Manifest) {
		m.Effects["withdraw"].Send.OnReject = &manifest.Send{
			Aggregate: "transfer", ID: manifest.Expr{Src: "meta.aggregateId"}, Command: "Fail",
			Payload: manifest.Shape{Fields: []manifest.Field{{Name: "reason", Expr: manifest.Expr{Src: "rejection.name"}}}},
		}
	}, withdraw)
	h := newHarness(t, p, effect.Options{Poll: 5 * time.Millisecond})
	h.command("account", "a1", "Deposit", `{"amount":10}`)
	h.start()

	h.command("transfer", "t1", "Start", `{"from":"a1","amount":50}`)
	h.command("transfer", "t2", "Start", `{"from":"a1","amount":4}`)
	eventually(t, func() bool { return len(h.outbox()) == 0 }, "both delivered")
	assert.Equal(t, map[string]any{"status": "failed", "reason": "insufficient funds"}, h.state("transfer", "t1"))
	assert.Equal(t, []string{"Started", "Failed"}, h.events("transfer", "t1"))
	assert.Equal(t, map[string]any{"status": "started", "reason": ""}, h.state("transfer", "t2"))
	assert.Equal(t, map[string]any{"balance": 6.0}, h.state("account", "a1"))
	assert.Empty(t, h.deadLetters())

	h.command("transfer", "t3", "Request", `{"from":"a1","amount":100}`)
	ev := h.eventID("transfer", "t3")
	eventually(t, func() bool { return len(h.deadLetters()) == 1 }, "dead-lettered")
	dl := h.deadLetters()[0]
	assert.Equal(t, "withdraw_blind", dl.Effect)
	assert.Equal(t, ev, dl.EventID)
	assert.Equal(t, 1, dl.Attempts, "a rejection is not retried")
	assert.Contains(t, dl.Error, "account a1 Withdraw was rejected: guard")
	var rej map[string]any
	require.NoError(t, json.Unmarshal(dl.Rejection, &rej))
	assert.Equal(t, "guard", rej["kind"])
	assert.Equal(t, "insufficient funds", rej["name"])
	assert.NotEmpty(t, rej["message"])
	assert.Equal(t, []string{"Requested"}, h.events("transfer", "t3"))
	assert.Equal(t, map[string]any{"balance": 6.0}, h.state("account", "a1"))
	assert.Empty(t, h.outbox())
}

// ---------------------------------------------------------------------------
// Delivery modes

type effectReport struct {
	Effect  string `json:"effect"`
	EventID string `json:"eventId"`
	OK      bool   `json:"ok"`
	Error   string `json:"error"`
}

func reports(t *testing.T, resp api.Response) []effectReport {
	t.Helper()
	var body struct {
		Version int64          `json:"version"`
		Effects []effectReport `json:"effects"`
	}
	require.NoError(t, json.Unmarshal(resp.Body, &body), "%s", resp.Body)
	require.NotZero(t, body.Version, "the decision is still in the body")
	return body.Effects
}

// Sync effects are delivered before the response, which reports them;
// a failure leaves the command committed and the row to the loop.
func TestSyncDeliveryReportsInResponse(t *testing.T) {
	srv := newHook(t)
	h := newHarness(t, compile(t, fmt.Sprintf(notifyHook, "sync", 3), fmt.Sprintf(placeOrder, "sync")),
		effect.Options{Vars: hookVars(srv), Egress: loopback, Poll: 5 * time.Millisecond})

	resp := h.command("cart", "c1", "CheckOut", `{"total":7}`)
	ev := h.eventID("cart", "c1")
	assert.Equal(t, http.StatusCreated, resp.Status)
	assert.Equal(t, []effectReport{{Effect: "notify", EventID: ev, OK: true}, {Effect: "place_order", EventID: ev, OK: true}}, reports(t, resp))
	assert.Equal(t, []string{"Placed"}, h.events("order", "c1"), "the order exists when the response is given")
	srv.get(func(s *hook) { assert.Equal(t, map[string]int{"notify/" + ev: 1}, s.accepted) })
	assert.Empty(t, h.outbox())

	// The receiver fails: the command is committed, the failure reported.
	srv.set(func(h *hook) { h.failAll = true })
	resp = h.command("cart", "c2", "CheckOut", `{"total":8}`)
	ev2 := h.eventID("cart", "c2")
	assert.Equal(t, http.StatusCreated, resp.Status)
	rs := reports(t, resp)
	require.Len(t, rs, 2)
	assert.Equal(t, effectReport{Effect: "place_order", EventID: ev2, OK: true}, rs[1])
	assert.Equal(t, "notify", rs[0].Effect)
	assert.False(t, rs[0].OK)
	assert.Contains(t, rs[0].Error, "503")
	assert.Contains(t, rs[0].Error, "will retry")
	assert.Equal(t, []string{"CheckedOut"}, h.events("cart", "c2"))
	rows := h.outbox()
	require.Len(t, rows, 1)
	assert.Equal(t, outboxRow{EventID: ev2, Consumer: "notify", Attempts: 1, LastError: rows[0].LastError}, rows[0])
	assert.Contains(t, rows[0].LastError, "503")

	// A permanent rejection is reported and dead-lettered: c1's second
	// check-out cannot place order c1 again.
	srv.set(func(h *hook) { h.failAll = false })
	resp = h.command("cart", "c1", "CheckOut", `{"total":9}`)
	ev3 := h.eventID("cart", "c1")
	rs = reports(t, resp)
	require.Len(t, rs, 2)
	assert.True(t, rs[0].OK)
	assert.False(t, rs[1].OK)
	assert.Contains(t, rs[1].Error, "instance_exists")
	assert.Contains(t, rs[1].Error, "dead-lettered")
	dls := h.deadLetters()
	require.Len(t, dls, 1)
	assert.Equal(t, ev3, dls[0].EventID)

	// The loop takes over the failed row.
	h.start()
	eventually(t, func() bool { return len(h.outbox()) == 0 }, "the loop delivers the failed sync row")
	srv.get(func(s *hook) { assert.Equal(t, 1, s.accepted["notify/"+ev2]) })
}

// Async effects start right after the commit, without waiting for the
// loop's timer.
func TestAsyncDeliveryStartsAtOnce(t *testing.T) {
	srv := newHook(t)
	h := newHarness(t, compile(t, fmt.Sprintf(notifyHook, "async", 3)), effect.Options{Vars: hookVars(srv), Egress: loopback, Poll: time.Hour})
	h.startAsleep(time.Hour) // the loop has looked, found nothing and sleeps for an hour
	start := time.Now()
	resp := h.command("cart", "c1", "CheckOut", `{"total":7}`)
	assert.NotContains(t, string(resp.Body), `"effects"`, "async effects are not reported")
	ev := h.eventID("cart", "c1")
	eventually(t, func() bool {
		var n int
		srv.get(func(s *hook) { n = s.accepted["notify/"+ev] })
		return n == 1
	}, "delivered")
	assert.Less(t, time.Since(start), 5*time.Second)
	eventually(t, func() bool { return len(h.outbox()) == 0 }, "the row is deleted")
}

// Queue effects wait for the loop: with a long poll and no kick, nothing is
// delivered until the loop looks again.
func TestQueueDeliveryWaitsForTheLoop(t *testing.T) {
	srv := newHook(t)
	h := newHarness(t, compile(t, fmt.Sprintf(notifyHook, "queue", 3)), effect.Options{Vars: hookVars(srv), Egress: loopback, Poll: time.Hour})
	h.startAsleep(time.Hour)
	h.command("cart", "c1", "CheckOut", `{"total":7}`)
	// Nothing is delivered: the loop sleeps for an hour and only a kick
	// would wake it. 100ms is enough to see a wrongful kick, since a kicked
	// loop delivers at once (TestAsyncDeliveryStartsAtOnce).
	time.Sleep(100 * time.Millisecond)
	srv.get(func(s *hook) { assert.Zero(t, s.calls) })
	require.Len(t, h.outbox(), 1)
	h.d.Kick()
	eventually(t, func() bool { return len(h.outbox()) == 0 }, "delivered once the loop looks")
}

// The loop and sync delivery never deliver one row twice: with the loop
// polling all the time, every sync row is delivered exactly once and
// reported as delivered.
func TestSyncAndLoopDoNotDeliverTwice(t *testing.T) {
	srv := newHook(t)
	h := newHarness(t, compile(t, fmt.Sprintf(notifyHook, "sync", 3), fmt.Sprintf(placeOrder, "sync")),
		effect.Options{Vars: hookVars(srv), Egress: loopback, Poll: time.Millisecond})
	h.start()
	const n = 40
	var wg sync.WaitGroup
	resps := make([]api.Response, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resps[i] = h.command("cart", fmt.Sprint("c", i), "CheckOut", `{"total":1}`)
		}()
	}
	wg.Wait()
	for i, resp := range resps {
		rs := reports(t, resp)
		require.Len(t, rs, 2, "%s", resp.Body)
		for _, r := range rs {
			assert.True(t, r.OK, "command %d: %+v", i, r)
		}
	}
	eventually(t, func() bool { return len(h.outbox()) == 0 }, "all delivered")
	srv.get(func(s *hook) {
		assert.Equal(t, n, s.calls, "one call per event")
		assert.Len(t, s.accepted, n)
		for k, c := range s.accepted {
			assert.Equal(t, 1, c, k)
		}
	})
	for i := range n {
		assert.Equal(t, []string{"Placed"}, h.events("order", fmt.Sprint("c", i)))
	}
}

// ---------------------------------------------------------------------------
// Env variables

func TestVars(t *testing.T) {
	p := compile(t, fmt.Sprintf(notifyHook, "queue", 3))
	env := map[string]string{}
	getenv := func(k string) string { return env[k] }

	_, err := manifest.Vars(p.Manifest, getenv)
	require.Error(t, err, "HOOK_URL has no value and no default")
	assert.Contains(t, err.Error(), "CUESOURCE_ENV_HOOK_URL")
	assert.Contains(t, err.Error(), "notify")

	env["CUESOURCE_ENV_HOOK_URL"] = "http://127.0.0.1:9/hook"
	vars, err := manifest.Vars(p.Manifest, getenv)
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"HOOK_URL": "http://127.0.0.1:9/hook", "TOKEN": "s3cret"}, vars, "TOKEN takes its default")

	env["CUESOURCE_ENV_TOKEN"] = "other"
	vars, err = manifest.Vars(p.Manifest, getenv)
	require.NoError(t, err)
	assert.Equal(t, "other", vars["TOKEN"])

	// Without an http effect, a variable without value is just empty.
	vars, err = manifest.Vars(compile(t, fmt.Sprintf(placeOrder, "queue")).Manifest, func(string) string { return "" })
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"HOOK_URL": "", "TOKEN": "s3cret"}, vars)
}

// An effect whose `if` is false is done without a delivery; one whose URL
// variable is empty is dead-lettered with the reason.
func TestConditionAndMissingURL(t *testing.T) {
	srv := newHook(t)
	src := strings.Replace(fmt.Sprintf(notifyHook, "queue", 3), `on: "cart.CheckedOut"`, `on: "cart.CheckedOut"
		if: "event.total > 10"`, 1)
	h := newHarness(t, compile(t, src), effect.Options{Vars: hookVars(srv), Egress: loopback, Poll: 5 * time.Millisecond})
	h.start()
	h.command("cart", "small", "CheckOut", `{"total":3}`)
	h.command("cart", "big", "CheckOut", `{"total":30}`)
	eventually(t, func() bool { return len(h.outbox()) == 0 }, "both done")
	srv.get(func(s *hook) {
		assert.Equal(t, map[string]int{"notify/" + h.eventID("cart", "big"): 1}, s.accepted)
	})

	h2 := newHarness(t, compile(t, fmt.Sprintf(notifyHook, "queue", 3)), effect.Options{Poll: 5 * time.Millisecond})
	h2.start()
	h2.command("cart", "c1", "CheckOut", `{"total":3}`)
	eventually(t, func() bool { return len(h2.deadLetters()) == 1 }, "dead-lettered")
	assert.Contains(t, h2.deadLetters()[0].Error, "CUESOURCE_ENV_HOOK_URL")
}

// A sync send may target the instance whose command triggered it (or one
// whose own sync effects target back): the backend must not hold the
// instance's writer while AfterCommit runs.
func TestSyncSendToItsOwnInstance(t *testing.T) {
	h := newHarness(t, compile(t, `self_fail: {
		on: "transfer.Started"
		delivery: "sync"
		send: {aggregate: "transfer", id: "meta.aggregateId", command: "Fail", payload: reason: "'self'"}
	}`), effect.Options{})
	done := make(chan api.Response, 1)
	go func() { done <- h.command("transfer", "t1", "Start", `{"from":"a1","amount":1}`) }()
	select {
	case resp := <-done:
		rs := reports(t, resp)
		require.Len(t, rs, 1)
		assert.True(t, rs[0].OK, "%+v", rs[0])
	case <-time.After(5 * time.Second):
		t.Fatal("deadlock: the sync send waits for the writer its own command holds")
	}
	assert.Equal(t, []string{"Started", "Failed"}, h.events("transfer", "t1"))
	assert.Empty(t, h.outbox())
}
