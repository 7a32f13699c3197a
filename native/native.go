package native

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/cuesource/cuesource"
	"github.com/cuesource/cuesource/engine"
	"github.com/cuesource/cuesource/interpreter"
	"github.com/cuesource/cuesource/store"
)

// MaxBatch bounds the commits appended in one transaction.
const MaxBatch = 256

// Backend runs commands over a store in this process: the backend the
// HTTP layer (api.Backend and api.Notifier) runs natively.
type Backend struct {
	prog  atomic.Pointer[interpreter.Program] // read once per write; SetProgram replaces it
	store store.Store
	opt   engine.Options

	mu    sync.Mutex
	locks map[string]*instanceLock
	// cache holds recently written instances decoded, as a Durable Object
	// keeps its state in memory: a command on a cached instance neither
	// reads nor decodes its snapshot. Entries are read and written only
	// under the instance's lock (and b.mu for the map).
	cache map[string]*cached

	queue   chan *pending // nil without a store.Batcher
	stopped chan struct{}
	closing sync.Once

	// Close waits for the writes in flight before it stops the committer.
	inflightMu sync.RWMutex
	inflight   sync.WaitGroup
	closed     bool

	notifyMu sync.Mutex
	notify   chan struct{} // closed and replaced after every commit
	tail     tail          // the last events committed, for streams

	after AfterCommit

	// gate is held (read) by every write while it decides and commits,
	// and (write) by SetProgram: a swap happens between writes.
	gate sync.RWMutex
}

// SetProgram replaces the program the backend decides with, between
// writes: it waits for the writes deciding or committing, holds back new
// ones, runs during (where the runtime swaps what else reads the program,
// such as the inline projections' hook), and then installs p unless during
// failed. Held-back writes wait rather than fail. The instances kept in
// memory are dropped: their state was made by the old program.
func (b *Backend) SetProgram(p *interpreter.Program, during func() error) error {
	b.gate.Lock()
	defer b.gate.Unlock()
	if during != nil {
		if err := during(); err != nil {
			return err
		}
	}
	b.prog.Store(p)
	b.mu.Lock()
	b.cache = map[string]*cached{}
	b.mu.Unlock()
	return nil
}

// Program is the program the backend decides with now.
func (b *Backend) Program() *interpreter.Program { return b.prog.Load() }

// AfterCommit runs after a command's commit, before its response: how
// sync effects are delivered (and their outcome added to the response) and
// async ones started. It must not block on anything but the delivery.
type AfterCommit func(ctx context.Context, committed []store.Event, a cuesource.Answer) cuesource.Answer

// SetAfterCommit installs f; call it before serving.
func (b *Backend) SetAfterCommit(f AfterCommit) { b.after = f }

var _ cuesource.HealthReporter = (*Backend)(nil)

// StorageHealth implements cuesource.HealthReporter over a store that tracks
// its faults (SQLite); any other store reports none.
func (b *Backend) StorageHealth(ctx context.Context) cuesource.StorageHealth {
	hs, ok := b.store.(store.HealthReporter)
	if !ok {
		return cuesource.StorageHealth{}
	}
	h := hs.Health(ctx)
	out := cuesource.StorageHealth{Failing: h.Failing, Faults: h.Faults, LastFault: h.LastFault, KeyConflicts: b.keyConflicts(ctx)}
	if !h.LastFaultAt.IsZero() {
		t := h.LastFaultAt.UTC()
		out.LastFaultAt = &t
	}
	return out
}

type cached struct {
	version int64
	raw     json.RawMessage
	state   any
}

// MaxCached bounds the instances kept in memory.
const MaxCached = 10000

func (b *Backend) cached(key string) *cached {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.cache[key]
}

func (b *Backend) remember(key string, c *cached) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if c == nil {
		delete(b.cache, key)
		return
	}
	if _, ok := b.cache[key]; !ok && len(b.cache) >= MaxCached {
		for k := range b.cache { // evict one, any
			delete(b.cache, k)
			break
		}
	}
	b.cache[key] = c
}

type instanceLock struct {
	mu   sync.Mutex
	refs int
}

type pending struct {
	commit *store.Commit
	done   chan store.BatchResult
}

// New returns a backend over st. When st can batch, a committer goroutine
// groups concurrent commits; Close stops it.
func New(p *interpreter.Program, st store.Store, opt engine.Options) *Backend {
	b := &Backend{store: st, opt: opt, locks: map[string]*instanceLock{}, cache: map[string]*cached{},
		notify: make(chan struct{}), stopped: make(chan struct{})}
	b.prog.Store(p)
	if bs, ok := st.(store.Batcher); ok {
		b.queue = make(chan *pending, MaxBatch)
		go b.commit(bs)
	} else {
		close(b.stopped)
	}
	return b
}

// Close stops the committer after the commits already queued; callers must
// not Execute after Close. It does not close the store.
func (b *Backend) Close() {
	b.closing.Do(func() {
		b.inflightMu.Lock()
		b.closed = true
		b.inflightMu.Unlock()
		b.inflight.Wait()
		if b.queue != nil {
			close(b.queue)
		}
	})
	<-b.stopped
}

// ErrClosed is returned for writes after Close.
var ErrClosed = fmt.Errorf("native: backend closed: %w", cuesource.ErrUnavailable)

// begin registers a write in flight; the returned func ends it.
func (b *Backend) begin() (func(), error) {
	b.inflightMu.RLock()
	defer b.inflightMu.RUnlock()
	if b.closed {
		return nil, ErrClosed
	}
	b.inflight.Add(1)
	return b.inflight.Done, nil
}

// lock takes the single writer of one instance.
func (b *Backend) lock(aggregate, id string) func() {
	key := aggregate + "\x00" + id
	b.mu.Lock()
	l := b.locks[key]
	if l == nil {
		l = &instanceLock{}
		b.locks[key] = l
	}
	l.refs++
	b.mu.Unlock()
	l.mu.Lock()
	return func() {
		l.mu.Unlock()
		b.mu.Lock()
		if l.refs--; l.refs == 0 {
			delete(b.locks, key)
		}
		b.mu.Unlock()
	}
}

// Execute runs one command under its instance's writer.
func (b *Backend) Execute(ctx context.Context, req *cuesource.CommandRequest) (cuesource.Answer, error) {
	end, err := b.begin()
	if err != nil {
		return cuesource.Answer{}, err
	}
	defer end()
	b.gate.RLock()
	gated := true
	defer func() {
		if gated {
			b.gate.RUnlock()
		}
	}()
	prog := b.prog.Load()
	unlock := b.lock(req.Aggregate, req.ID)
	locked := true
	defer func() {
		if locked {
			unlock()
		}
	}()
	key := req.Aggregate + "\x00" + req.ID
	c := b.cached(key)
	var cur store.Instance
	if c != nil {
		cur = store.Instance{Aggregate: req.Aggregate, ID: req.ID, Version: c.version, State: c.raw}
	} else if cur, err = b.store.Load(ctx, req.Aggregate, req.ID); err != nil {
		return cuesource.Answer{}, err
	}
	var rec *store.Idempotency
	if key := req.StoreKey(); key != "" {
		r, ok, err := b.store.Idempotency(ctx, key)
		if err != nil {
			return cuesource.Answer{}, err
		}
		if ok {
			rec = &r
		}
	}
	if rec == nil { // a retry gets its first answer, even once the key is let go
		if a, ok, err := b.holds(ctx, req); err != nil || !ok {
			return a, err
		}
	}
	var d cuesource.Decision
	if c != nil {
		d = cuesource.DecideOn(prog, cur, c.state, rec, req, b.opt)
	} else {
		d = cuesource.Decide(prog, cur, rec, req, b.opt) // decodes the snapshot
	}
	if d.Commit == nil {
		return d.Answer, nil
	}
	if _, ok := b.store.(store.Keys); len(d.Commit.Unique) > 0 && !ok {
		return cuesource.Answer{}, fmt.Errorf("%s: %w", req.Aggregate, ErrNoKeys)
	}
	evs, err := b.append(ctx, d.Commit)
	var unique *store.UniqueError
	switch {
	case err == nil:
		b.remember(key, &cached{version: d.Commit.ExpectedVersion + int64(len(d.Commit.Events)), raw: d.Commit.State, state: d.State})
		// Release the writer before effects run: a sync send may target
		// this very instance.
		unlock()
		locked = false
		b.gate.RUnlock() // a sync send runs a write of its own
		gated = false
		if b.after != nil && len(evs) > 0 {
			return b.after(ctx, evs, d.Answer), nil
		}
		return d.Answer, nil
	case errors.As(err, &unique):
		// Refused whole: the instance is as it was, in memory too.
		return cuesource.UniqueViolation(unique), nil
	case errors.Is(err, store.ErrVersionConflict), errors.Is(err, store.ErrDuplicateKey), errors.Is(err, store.ErrDuplicateEvent):
		// Only another process writing the same database gets here: this
		// one holds the instance's writer, and its memory is stale.
		b.remember(key, nil)
		now, lerr := b.store.Load(ctx, req.Aggregate, req.ID)
		if lerr != nil {
			return cuesource.Answer{}, lerr
		}
		return cuesource.Conflict(now.Version), nil
	}
	return cuesource.Answer{}, err
}

// append commits through the group committer, or directly, and returns
// the events as stored (with positions).
func (b *Backend) append(ctx context.Context, c *store.Commit) ([]store.Event, error) {
	if b.queue == nil {
		evs, err := b.store.Append(ctx, *c)
		if err == nil {
			b.tail.add(evs)
			b.wake()
		}
		return evs, err
	}
	p := &pending{commit: c, done: make(chan store.BatchResult, 1)}
	b.queue <- p
	// Wait for the outcome even if ctx ends: the commit may land, and the
	// instance's writer must not be released before it is known.
	r := <-p.done
	return r.Events, r.Err
}

// commit is the group committer: it appends everything queued while the
// previous transaction was being written, in one transaction.
func (b *Backend) commit(bs store.Batcher) {
	defer close(b.stopped)
	batch := make([]*pending, 0, MaxBatch)
	commits := make([]store.Commit, 0, MaxBatch)
	for first := range b.queue {
		batch = append(batch[:0], first)
	drain:
		for len(batch) < MaxBatch {
			select {
			case p, ok := <-b.queue:
				if !ok {
					break drain
				}
				batch = append(batch, p)
			default:
				break drain
			}
		}
		commits = commits[:0]
		for _, p := range batch {
			commits = append(commits, *p.commit)
		}
		results, err := bs.AppendBatch(context.Background(), commits)
		if err == nil {
			for _, r := range results {
				if r.Err == nil {
					b.tail.add(r.Events)
				}
			}
		}
		for i, p := range batch {
			if err != nil {
				p.done <- store.BatchResult{Err: fmt.Errorf("group commit: %w", err)}
				continue
			}
			p.done <- results[i]
		}
		if err == nil {
			b.wake()
		}
	}
}

func (b *Backend) wake() {
	b.notifyMu.Lock()
	close(b.notify)
	b.notify = make(chan struct{})
	b.notifyMu.Unlock()
}

// Wait returns when the global log has an event after `after`. Once this
// process has committed, it knows the head without reading the store, so
// any number of waiters cost nothing per commit; before, each reads the
// store once per wake. (Another process's commits wake no one here: a
// waiter's deadline, such as a stream's keep-alive, bounds how late they
// are seen.)
func (b *Backend) Wait(ctx context.Context, after int64) error {
	for {
		b.notifyMu.Lock()
		ch := b.notify
		b.notifyMu.Unlock()
		if head, ok := b.tail.known(); ok {
			if head > after {
				return nil
			}
		} else if evs, err := b.store.ReadAll(ctx, after, 1); err != nil {
			return err
		} else if len(evs) > 0 {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Seed writes given events to a new instance under its writer.
func (b *Backend) Seed(ctx context.Context, req *cuesource.SeedRequest) (cuesource.Answer, error) {
	end, err := b.begin()
	if err != nil {
		return cuesource.Answer{}, err
	}
	defer end()
	b.gate.RLock()
	defer b.gate.RUnlock()
	unlock := b.lock(req.Aggregate, req.ID)
	defer unlock()
	cur, err := b.store.Load(ctx, req.Aggregate, req.ID)
	if err != nil {
		return cuesource.Answer{}, err
	}
	d := cuesource.DecideSeed(b.prog.Load(), cur, req)
	if d.Commit == nil {
		return d.Answer, nil
	}
	b.remember(req.Aggregate+"\x00"+req.ID, nil)
	if _, ok := b.store.(store.Keys); len(d.Commit.Unique) > 0 && !ok {
		return cuesource.Answer{}, fmt.Errorf("%s: %w", req.Aggregate, ErrNoKeys)
	}
	if _, err := b.append(ctx, d.Commit); err != nil {
		var unique *store.UniqueError
		if errors.As(err, &unique) {
			return cuesource.UniqueViolation(unique), nil
		}
		if errors.Is(err, store.ErrVersionConflict) || errors.Is(err, store.ErrDuplicateEvent) {
			return cuesource.Conflict(0), nil
		}
		return cuesource.Answer{}, err
	}
	return d.Answer, nil
}

// Load, Events and ReadAll read the store.
func (b *Backend) Load(ctx context.Context, aggregate, id string) (store.Instance, error) {
	return b.store.Load(ctx, aggregate, id)
}

func (b *Backend) Events(ctx context.Context, aggregate, id string, after int64, limit int) ([]store.Event, error) {
	if limit <= 0 {
		// The whole history (GET /{aggregate}/{id}/history): archived
		// events included. A page (limit > 0) is the hot store's; its
		// answer says where that begins (HotFrom).
		return b.history(ctx, aggregate, id, after)
	}
	return b.store.Events(ctx, aggregate, id, after, limit)
}

// ReadAll answers from the tail of recent commits when it holds the
// events asked for (a live stream, a poller close behind), else from the
// store.
func (b *Backend) ReadAll(ctx context.Context, after int64, limit int) ([]store.Event, error) {
	if evs, ok := b.tail.read(after, limit); ok {
		return evs, nil
	}
	return b.store.ReadAll(ctx, after, limit)
}

// Rehydrate rebuilds one instance's state from its events under its
// writer: from its newest snapshot taken under the current definition, if
// any, else from its first event.
func (b *Backend) Rehydrate(ctx context.Context, aggregate, id string, fix bool) (*cuesource.Drift, error) {
	end, err := b.begin()
	if err != nil {
		return nil, err
	}
	defer end()
	b.gate.RLock()
	defer b.gate.RUnlock()
	prog := b.prog.Load()
	unlock := b.lock(aggregate, id)
	defer unlock()
	cur, err := b.store.Load(ctx, aggregate, id)
	if err != nil {
		return nil, err
	}
	// From the newest snapshot the definition can use, when the store
	// keeps snapshots; cuesource.Rehydrate decides whether it can.
	var snap *store.Snapshot
	if ss, ok := b.store.(store.Snapshots); ok {
		if a := prog.Aggregates[aggregate]; a != nil {
			s, found, err := ss.Snapshot(ctx, aggregate, id, a.Hash)
			if err != nil {
				return nil, err
			}
			if found {
				snap = &s
			}
		}
	}
	d, err := cuesource.Rehydrate(prog, cur, snap, func(after int64) ([]store.Event, error) {
		return b.history(ctx, aggregate, id, after)
	})
	if err != nil {
		return nil, err
	}
	b.remember(aggregate+"\x00"+id, nil) // whatever happens, read it fresh next time
	if fix && d.Drifted && d.Error == "" && cur.Version > 0 {
		if _, err := b.store.Append(ctx, store.Commit{Aggregate: aggregate, Instance: id, ExpectedVersion: cur.Version, State: d.Rebuilt}); err != nil {
			return nil, err
		}
		d.Fixed = true
	}
	return d, nil
}

// HotFrom implements api.HotHistory over a store that prunes into an
// archive; any other store keeps every event hot (1).
func (b *Backend) HotFrom(ctx context.Context, aggregate, id string) (int64, error) {
	if h, ok := b.store.(interface {
		HotFrom(ctx context.Context, aggregate, id string) (int64, error)
	}); ok {
		return h.HotFrom(ctx, aggregate, id)
	}
	return 1, nil
}

// history is an instance's events after version `after`. When some of
// them left the hot store, they are read from the log (archive included)
// from the instance's first event (when the store knows where that is,
// else from the log's start) up to its first hot one: a scan of its
// lifetime in the log (store.ScanInstance), the price of rehydrating
// past a retention without a snapshot after it.
func (b *Backend) history(ctx context.Context, aggregate, id string, after int64) ([]store.Event, error) {
	evs, err := b.store.Events(ctx, aggregate, id, after, 0)
	if err != nil || (len(evs) > 0 && evs[0].Version == after+1) {
		return evs, err
	}
	cur, err := b.store.Load(ctx, aggregate, id)
	if err != nil || cur.Version <= after {
		return evs, err
	}
	end, upto := int64(0), cur.Version
	if len(evs) > 0 {
		end, upto = evs[0].Position, evs[0].Version-1
	}
	start := int64(0)
	if f, ok := b.store.(interface {
		First(ctx context.Context, aggregate, id string) (int64, error)
	}); ok {
		first, err := f.First(ctx, aggregate, id)
		if err != nil {
			return nil, err
		}
		start = max(first-1, 0)
	}
	older, err := store.ScanInstance(ctx, b.store.ReadAll, aggregate, id, start, end, after, upto)
	if err != nil {
		return nil, err
	}
	return append(older, evs...), nil
}
