package effect

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cuesource/cuesource"
	"github.com/cuesource/cuesource/effect/egress"
	"github.com/cuesource/cuesource/internal/effect/rules"
	"github.com/cuesource/cuesource/interpreter"
	"github.com/cuesource/cuesource/store"
)

// Executor runs a command; native.Backend is one.
type Executor interface {
	Execute(ctx context.Context, req *cuesource.CommandRequest) (cuesource.Answer, error)
}

// Options configure a [Dispatcher]. Zero values take the defaults.
type Options struct {
	// Egress is which addresses webhooks may call: public ones, and the
	// operator's exceptions (serve --webhook-allow). The webhook client
	// checks every address it connects to, after DNS resolution, and
	// follows no redirect.
	Egress egress.Policy
	// Vars are the env variables' values (see [Vars]); a declared variable
	// missing here is "".
	Vars map[string]string
	// Now is the clock; nil: time.Now.
	Now func() time.Time
	// Log receives retries (info) and dead letters (warn); nil: discarded.
	Log *slog.Logger
	// Lookups reads the look-ups of the commands sends dispatch (the
	// runtime's queries and instances); nil: they read nothing, and a
	// command's guards see empty look-ups.
	Lookups cuesource.LookupReader

	// Batch is how many due rows one pass claims; default 64.
	Batch int
	// Workers bounds the deliveries of a pass running at once; default 8.
	Workers int
	// Poll is the longest the loop sleeps, so rows that become due without
	// a Kick (queue deliveries, other processes) are seen; default 1s.
	Poll time.Duration
	// Lease is how long a claimed row stays invisible to other claims (at
	// least its webhook's timeout plus a margin): after a crash, rows in
	// delivery are retried when it ends. Default 1m.
	Lease time.Duration
	// MaxBackoff caps the wait between attempts; default
	// rules.DefaultMaxBackoff.
	MaxBackoff time.Duration
}

// Dispatcher delivers effects from the outbox.
type Dispatcher struct {
	prog atomic.Pointer[interpreter.Program] // SetProgram replaces it and del together
	st   store.Outbox
	del  atomic.Pointer[rules.Deliverer]
	do   doer
	now  func() time.Time
	log  *slog.Logger
	opt  Options
	dl   *DeadLetters

	kick chan struct{}

	mu      sync.Mutex
	flights map[int64]*flight // rows being delivered by this process, by outbox position

	// waiting, when a test sets it before Run, is told each time the loop
	// goes to sleep and for how long.
	waiting func(time.Duration)
}

// flight is one row in delivery; done is closed once its outcome is
// recorded.
type flight struct {
	done chan struct{}
	out  rules.Outcome
}

// New returns a dispatcher for p's effects over st (a store that keeps
// the outbox, as store/sqlite's does), sending commands through exec.
// Install
// [Dispatcher.AfterCommit] on the backend, serve [Dispatcher.DeadLetters],
// and call [Dispatcher.Run] in a goroutine; let Run return before the
// backend and the store are closed.
func New(ctx context.Context, p *interpreter.Program, st store.Outbox, exec Executor, opt Options) (*Dispatcher, error) {
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Log == nil {
		opt.Log = slog.New(slog.DiscardHandler)
	}
	if opt.Batch <= 0 {
		opt.Batch = 64
	}
	if opt.Workers <= 0 {
		opt.Workers = 8
	}
	if opt.Poll <= 0 {
		opt.Poll = time.Second
	}
	if opt.Lease <= 0 {
		opt.Lease = time.Minute
	}
	if opt.MaxBackoff <= 0 {
		opt.MaxBackoff = rules.DefaultMaxBackoff
	}
	dl, err := NewDeadLetters(ctx, st, opt.Now)
	if err != nil {
		return nil, err
	}
	d := &Dispatcher{
		st: st, now: opt.Now, log: opt.Log, opt: opt, dl: dl,
		do:   doer{exec: exec, client: webhookClient(opt.Egress), lookups: opt.Lookups},
		kick: make(chan struct{}, 1), flights: map[int64]*flight{},
	}
	d.do.prog = d.prog.Load
	d.SetProgram(p, opt.Vars)
	dl.kick = d.Kick
	return d, nil
}

// SetProgram makes p (with its env values) the program the dispatcher
// delivers by from the next delivery on: a runtime that replaces its
// program keeps one dispatcher, its flights and its loop. Rows of effects
// p no longer has are dead-lettered as after a restart.
func (d *Dispatcher) SetProgram(p *interpreter.Program, vars map[string]string) {
	d.del.Store(&rules.Deliverer{Prog: p, Vars: maps.Clone(vars), Now: d.opt.Now, NewID: cuesource.NewID, Egress: d.opt.Egress})
	d.prog.Store(p)
	d.Kick()
}

// DeadLetters is the dispatcher's dead-letter list (cuesource.DeadLetters); a
// retried letter wakes the dispatcher.
func (d *Dispatcher) DeadLetters() *DeadLetters { return d.dl }

// Kick wakes the loop without waiting: rows due now are claimed right away.
func (d *Dispatcher) Kick() {
	select {
	case d.kick <- struct{}{}:
	default:
	}
}

// Run delivers due rows until ctx ends, then releases the rows it had
// claimed but not delivered and returns nil.
func (d *Dispatcher) Run(ctx context.Context) error {
	for {
		n, err := d.pass(ctx)
		if ctx.Err() != nil {
			return nil
		}
		var wait time.Duration
		switch {
		case err != nil:
			d.log.Error("effects: delivery pass failed", slog.String("error", err.Error()))
			wait = min(d.opt.Poll, time.Second)
		case n == d.opt.Batch:
			continue // more may be due
		default:
			wait = d.untilNext(ctx)
			if n == 0 {
				// Due rows none of which could be claimed are in flight
				// here: do not spin on them.
				wait = max(wait, 5*time.Millisecond)
			}
		}
		if wait <= 0 {
			continue
		}
		if d.waiting != nil {
			d.waiting(wait)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-d.kick:
		case <-t.C:
		}
		t.Stop()
	}
}

// untilNext is how long until the next row is due, at most Poll.
func (d *Dispatcher) untilNext(ctx context.Context) time.Duration {
	t, ok, err := d.st.NextDue(ctx)
	if err != nil || !ok {
		return d.opt.Poll
	}
	return min(t.Sub(d.now()), d.opt.Poll)
}

// row is a claimed outbox row with its event.
type row = store.Delivery

// pass claims one batch of due rows, delivers them and records the
// outcomes; it returns how many it claimed.
func (d *Dispatcher) pass(ctx context.Context) (int, error) {
	now := d.now()
	// Look without a write first: an idle loop does not queue for the
	// writer.
	due, err := d.st.Due(ctx, now)
	if err != nil {
		return 0, fmt.Errorf("look for due outbox rows: %w", err)
	}
	if !due {
		return 0, nil
	}
	var rows []*row
	_, err = d.st.Claim(ctx, store.Claim{Now: now, Limit: d.opt.Batch}, func(found []row) []time.Duration {
		var leases []time.Duration
		rows, leases = d.lease(found, nil)
		return leases
	})
	if err != nil {
		d.land(rows)
		return 0, fmt.Errorf("claim outbox rows: %w", err)
	}
	if len(rows) == 0 {
		return 0, nil
	}
	outs := make([]rules.Outcome, len(rows))
	// Rows of one effect and one source instance go in order, one after
	// the other; different ones run side by side.
	groups := map[string][]int{}
	var order []string
	for i, r := range rows {
		k := r.Consumer + "\x00" + r.Event.Aggregate + "\x00" + r.Event.Instance
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], i)
	}
	sem := make(chan struct{}, d.opt.Workers)
	var wg sync.WaitGroup
	for _, k := range order {
		idx := groups[k]
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			for _, i := range idx {
				if ctx.Err() != nil {
					outs[i] = rules.Outcome{Kind: rules.Release}
					continue
				}
				outs[i] = d.deliver(ctx, rows[i])
			}
		}()
	}
	wg.Wait()
	d.record(ctx, rows, outs)
	return len(rows), nil
}

// lease takes the rows of found not in flight here (nor skipped: skip is
// nil or as long as found), in memory: it returns them and the lease of
// each row of found (0: not taken). It runs inside the store's claim,
// which makes the taken rows due only when their lease ends, so two
// claims never take the same row.
func (d *Dispatcher) lease(found []row, skip []bool) ([]*row, []time.Duration) {
	leases := make([]time.Duration, len(found))
	var mine []*row
	d.mu.Lock()
	for i := range found {
		if (skip == nil || !skip[i]) && d.flights[found[i].Seq] == nil {
			d.flights[found[i].Seq] = &flight{done: make(chan struct{})}
			mine = append(mine, &found[i])
			leases[i] = -1 // taken: its lease depends on how many are
		}
	}
	d.mu.Unlock()
	for i := range found {
		if leases[i] < 0 {
			leases[i] = d.leaseFor(found[i].Consumer, len(mine))
		}
	}
	return mine, leases
}

// leaseFor is how long a claim of n rows holds one of them: long enough
// for the slowest of its deliveries.
func (d *Dispatcher) leaseFor(consumer string, n int) time.Duration {
	l := d.opt.Lease
	if e := d.prog.Load().Effects[consumer]; e != nil && e.HTTP != nil {
		rounds := (n + d.opt.Workers - 1) / d.opt.Workers
		l = max(l, time.Duration(rounds+1)*e.HTTP.Timeout+10*time.Second)
	}
	return l
}

// land ends the flights of rows whose claim failed or whose outcome could
// not be recorded: they are due again when their lease ends.
func (d *Dispatcher) land(rows []*row) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, r := range rows {
		if f := d.flights[r.Seq]; f != nil {
			delete(d.flights, r.Seq)
			f.out = rules.Outcome{Kind: rules.Retry, Err: "the delivery's outcome could not be recorded"}
			close(f.done)
		}
	}
}

// deliver delivers one row once.
func (d *Dispatcher) deliver(ctx context.Context, r *row) rules.Outcome {
	return d.del.Load().Deliver(ctx, r.Consumer, r.Event, d.do)
}

// record writes the outcomes of delivered rows in one transaction, then
// ends their flights.
func (d *Dispatcher) record(ctx context.Context, rows []*row, outs []rules.Outcome) {
	prog := d.prog.Load()
	for i, r := range rows {
		outs[i] = rules.Settle(prog, r.Consumer, r.Attempts, outs[i])
	}
	// The outcome is written even when ctx ended during delivery: what was
	// delivered must not be delivered again for want of a write.
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	now := d.now()
	settled := make([]store.Settlement, 0, len(rows))
	for i, r := range rows {
		out := outs[i]
		st := store.Settlement{Delivery: *r}
		switch out.Kind {
		case rules.Done, rules.Skip:
			st.Verdict = store.Delivered
		case rules.Release:
			st.Verdict = store.Released
		case rules.Retry:
			st.Verdict, st.Attempts, st.Error = store.Failed, r.Attempts+1, out.Logged()
			st.Next = now.Add(rules.Backoff(prog, r.Consumer, st.Attempts, out.RetryAfter, d.opt.MaxBackoff))
		case rules.Dead:
			st.Verdict, st.Attempts, st.Error, st.Rejection = store.Dead, r.Attempts+1, out.Logged(), out.Rejection
		default:
			continue
		}
		settled = append(settled, st)
	}
	err := d.st.Settle(wctx, now, settled)
	if err != nil {
		d.log.Error("effects: recording delivery outcomes", slog.String("error", err.Error()), slog.Int("rows", len(rows)))
		d.land(rows)
		return
	}
	d.mu.Lock()
	for i, r := range rows {
		if f := d.flights[r.Seq]; f != nil {
			delete(d.flights, r.Seq)
			f.out = outs[i]
			close(f.done)
		}
	}
	d.mu.Unlock()
	for i, r := range rows {
		d.logOutcome(r, outs[i])
	}
}

func (d *Dispatcher) logOutcome(r *row, out rules.Outcome) {
	attrs := []any{slog.String("effect", r.Consumer), slog.String("event", r.Event.ID), slog.Int("attempt", r.Attempts+1)}
	switch out.Kind {
	case rules.Retry:
		d.log.Info("effect delivery failed; will retry", append(attrs, slog.String("error", out.Logged()))...)
	case rules.Dead:
		d.log.Warn("effect delivery dead-lettered", append(attrs, slog.String("error", out.Logged()))...)
	case rules.Done:
		if out.Note != "" {
			d.log.Info("effect delivered", append(attrs, slog.String("note", out.Note))...)
		}
	}
}
