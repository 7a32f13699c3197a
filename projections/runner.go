package projections

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cuesource/cuesource"
	"github.com/cuesource/cuesource/internal/projections/rows"
	"github.com/cuesource/cuesource/interpreter"
	"github.com/cuesource/cuesource/store"
)

// Waiter wakes the background catch-up: Wait returns when the log has an
// event after `after` (or ctx ends). native.Backend implements it.
type Waiter interface {
	Wait(ctx context.Context, after int64) error
}

// Store is what the runner needs of the event store: its SQL database
// (the projection tables live beside the log), a hook in its append
// transactions (inline projections) and its global log. store/sqlite's
// Store has them.
type Store interface {
	store.Hooker
	// ReadAll reads the global log.
	ReadAll(ctx context.Context, after int64, limit int) ([]store.Event, error)
}

// Preparer is optional on a Store: it prepares a statement once on the
// connection write transactions run on, so the hook (run in every
// commit's transaction) and catch-up only bind it to their transaction
// instead of preparing it each time.
type Preparer interface {
	Prepare(ctx context.Context, query string) (*sql.Stmt, error)
}

// Options tune a Runner. The zero value works.
type Options struct {
	// Waiter wakes catch-up when the log grows; without one the runner
	// polls every PollInterval.
	Waiter Waiter
	// Log receives rebuilds, failures and background errors; nil discards.
	Log *slog.Logger
	// BatchSize is how many events one catch-up transaction applies; 0
	// means 500.
	BatchSize int
	// PollInterval is how often catch-up looks for new events without a
	// Waiter; 0 means 250ms.
	PollInterval time.Duration
	// Queries is the pool named queries run on (sqlite.Store.OpenQueries):
	// one of their own, so that slow queries never hold the connections
	// commands read through. Its connections get SQLite's length limit
	// (no string or blob over the queryBytes limit). Nil: the store's
	// read pool, without the length limit (the offline CLI).
	Queries *sql.DB
	// QueryTimeout ends a query that runs (or waits for a connection)
	// longer, interrupting SQLite: cuesource.ErrQueryTimeout. 0 means
	// DefaultQueryTimeout.
	QueryTimeout time.Duration
}

// DefaultQueryTimeout is the time a query may take when Options say none.
const DefaultQueryTimeout = 5 * time.Second

// ErrNotFailed is returned by Skip and Resume for a projection that has
// not failed.
var ErrNotFailed = fmt.Errorf("projection has not failed: %w", cuesource.ErrConflict)

// FailedError is a projection that stopped on an event: what Rebuild
// with progress returns when the replay stops on a failure.
type FailedError struct {
	Name     string
	Position int64
	Msg      string
}

func (e *FailedError) Error() string {
	return fmt.Sprintf("projection %s failed at position %d: %s", e.Name, e.Position, e.Msg)
}

// Runner keeps a program's projections up to date and answers its
// queries. It implements cuesource.ReadModels.
type Runner struct {
	prog  *interpreter.Program
	st    Store
	log   *slog.Logger
	batch int
	poll  time.Duration
	wait  Waiter

	queries      *sql.DB // nil: the store's read pool
	queryTimeout time.Duration

	projs  []*proj // by name
	byName map[string]*proj
	inline []*proj

	schemaMu sync.Mutex
	schemaOK bool

	// txc caches the statements of the write transaction the hook last ran
	// in: a group commit runs many commits' hooks in one transaction. Only
	// touched under the store's writer (hooks and Write callbacks).
	txMu   sync.Mutex
	txc    *txStmts
	shared map[string]*sql.Stmt // prepared by a Preparer store at Start; read-only after

	mu      sync.Mutex
	started bool
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

var _ cuesource.ReadModels = (*Runner)(nil)

// proj is one projection and its catch-up state.
type proj struct {
	t *rows.Table
	// mu serializes catch-up steps and rebuilds of this projection.
	mu sync.Mutex

	// kick wakes the background loop early (after Skip, Resume, Rebuild).
	wmu        sync.Mutex
	kicked     bool
	cancelWait context.CancelFunc
}

func (p *proj) name() string { return p.t.Def.Name }

// New returns a runner for p's projections over st. It checks the
// queries (CheckQueries) and touches no storage: Start creates the
// tables. An unstarted runner answers Status, Query and Rebuild (the
// offline CLI).
func New(p *interpreter.Program, st Store, opt Options) (*Runner, error) {
	if errs := CheckQueries(p); len(errs) > 0 {
		return nil, errs
	}
	r := &Runner{prog: p, st: st, log: opt.Log, batch: opt.BatchSize, poll: opt.PollInterval, wait: opt.Waiter, byName: map[string]*proj{}}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	if r.batch <= 0 {
		r.batch = 500
	}
	if r.poll <= 0 {
		r.poll = 250 * time.Millisecond
	}
	r.queries, r.queryTimeout = opt.Queries, opt.QueryTimeout
	if r.queryTimeout <= 0 {
		r.queryTimeout = DefaultQueryTimeout
	}
	names := make([]string, 0, len(p.Projections))
	for name := range p.Projections {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		pr := &proj{t: rows.NewTable(p.Projections[name])}
		r.projs = append(r.projs, pr)
		r.byName[name] = pr
		if pr.t.Def.Mode == "inline" {
			r.inline = append(r.inline, pr)
		}
	}
	return r, nil
}

// Start creates the missing tables and checkpoints, rebuilds the
// projections whose definition changed (their hash), installs the hook
// that applies inline projections in the commands' transactions, and
// starts catching up in the background until ctx ends or Close. Call it
// before the first command is appended.
func (r *Runner) Start(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.started {
		return errors.New("projection: runner already started")
	}
	if err := r.ensureSchema(ctx); err != nil {
		return err
	}
	if err := r.reconcile(ctx); err != nil {
		return err
	}
	if pr, ok := r.st.(Preparer); ok {
		// Prepared outside any transaction: the write connection is the
		// only one, and it is busy inside one.
		tables := make([]*rows.Table, 0, len(r.projs))
		for _, p := range r.projs {
			tables = append(tables, p.t)
		}
		shared := map[string]*sql.Stmt{}
		for _, q := range statements(tables) {
			s, err := pr.Prepare(ctx, q)
			if err != nil {
				closeAll(shared)
				return fmt.Errorf("projection: prepare %q: %w", q, err)
			}
			shared[q] = s
		}
		r.txMu.Lock()
		r.shared = shared
		r.txMu.Unlock()
	}
	if len(r.inline) > 0 {
		r.st.SetHook(r.hook)
	}
	ctx, r.cancel = context.WithCancel(ctx)
	r.started = true
	for _, p := range r.projs {
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			r.loop(ctx, p)
		}()
	}
	return nil
}

// Close stops the background catch-up and waits for it; a batch in
// progress either commits or rolls back whole. The hook stays installed:
// inline projections keep being applied with the commands that still
// commit. Close the runner before the store.
func (r *Runner) Close() {
	r.mu.Lock()
	cancel := r.cancel
	r.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	r.wg.Wait()
	// A hook still running binds closed statements by preparing them in
	// its transaction (database/sql does that for a closed Stmt).
	r.txMu.Lock()
	shared := r.shared
	r.shared, r.txc = nil, nil
	r.txMu.Unlock()
	closeAll(shared)
}

func closeAll(stmts map[string]*sql.Stmt) {
	for _, s := range stmts {
		_ = s.Close()
	}
}

// ensureSchema creates the checkpoint table, and each projection's table
// and checkpoint where missing. A projection whose table is missing is
// (re)built from the start.
func (r *Runner) ensureSchema(ctx context.Context) error {
	r.schemaMu.Lock()
	defer r.schemaMu.Unlock()
	if r.schemaOK {
		return nil
	}
	err := r.st.Write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, rows.CheckpointDDL); err != nil {
			return fmt.Errorf("projection: create checkpoint table: %w", err)
		}
		for _, p := range r.projs {
			var pos int64
			var state string
			err := tx.QueryRowContext(ctx, rows.CheckpointGet, p.name()).Scan(&pos, &state)
			hasRow := err == nil
			if err != nil && !errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("projection %s: read checkpoint: %w", p.name(), err)
			}
			var n int
			if err := tx.QueryRowContext(ctx, rows.TableCount, p.name()).Scan(&n); err != nil {
				return fmt.Errorf("projection %s: %w", p.name(), err)
			}
			switch {
			case !hasRow || n == 0:
				if hasRow {
					r.log.Warn("projection table missing: rebuilding", slog.String("projection", p.name()))
				}
				if err := r.reset(ctx, tx, p); err != nil {
					return err
				}
			default:
				if err := create(ctx, tx, p.t); err != nil { // missing indexes
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	r.schemaOK = true
	return nil
}

// reconcile rebuilds every projection whose stored hash differs from its
// definition's.
func (r *Runner) reconcile(ctx context.Context) error {
	return r.st.Write(ctx, func(tx *sql.Tx) error {
		for _, p := range r.projs {
			var hash string
			if err := tx.QueryRowContext(ctx, rows.CheckpointHash, p.name()).Scan(&hash); err != nil {
				return fmt.Errorf("projection %s: read checkpoint: %w", p.name(), err)
			}
			if hash == p.t.Def.Hash {
				continue
			}
			r.log.Info("projection definition changed: rebuilding", slog.String("projection", p.name()),
				slog.String("stored_hash", hash), slog.String("hash", p.t.Def.Hash))
			if err := r.reset(ctx, tx, p); err != nil {
				return err
			}
		}
		return nil
	})
}

// reset empties a projection and moves its checkpoint to the start of the
// log: state rebuilding (running if the log is empty).
func (r *Runner) reset(ctx context.Context, tx *sql.Tx, p *proj) error {
	if err := drop(ctx, tx, p.t); err != nil {
		return err
	}
	if err := create(ctx, tx, p.t); err != nil {
		return err
	}
	head, err := head(ctx, tx)
	if err != nil {
		return err
	}
	state := StateRebuilding
	if head == 0 {
		state = StateRunning
	}
	if _, err := tx.ExecContext(ctx, rows.CheckpointReset, p.name(), p.t.Def.Hash, state, now()); err != nil {
		return fmt.Errorf("projection %s: reset checkpoint: %w", p.name(), err)
	}
	return nil
}

type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// head is the last position of the log.
func head(ctx context.Context, q querier) (int64, error) {
	var h int64
	if err := q.QueryRowContext(ctx, `SELECT COALESCE(MAX(position), 0) FROM events`).Scan(&h); err != nil {
		return 0, fmt.Errorf("projection: read the log's head: %w", err)
	}
	return h, nil
}

// stmts returns the statement cache for tx.
func (r *Runner) stmts(tx *sql.Tx) *txStmts {
	r.txMu.Lock()
	defer r.txMu.Unlock()
	if r.txc == nil || r.txc.tx != tx {
		r.txc = newTxStmts(tx, r.shared)
	}
	return r.txc
}

// hook applies the inline projections that are caught up to a commit's
// events, in the commit's transaction. A projection that fails records
// its failure there and the command still commits; only a database error
// fails the commit.
func (r *Runner) hook(ctx context.Context, tx *sql.Tx, evs []store.Event) error {
	ts := r.stmts(tx)
	first, last := evs[0].Position, evs[len(evs)-1].Position
	for _, p := range r.inline {
		ok, err := ts.advanceIf(ctx, p.name(), first-1, last)
		if err != nil {
			return err
		}
		if !ok {
			continue // behind (catching up) or failed
		}
		out, err := apply(ctx, ts, p.t, evs, nil)
		if err != nil {
			return err
		}
		if out.Fail != nil {
			if err := ts.fail(ctx, p.name(), out.Last, out.Fail); err != nil {
				return err
			}
			r.logFailure(p, out.Fail)
		}
	}
	return nil
}

func (r *Runner) logFailure(p *proj, f *rows.Failure) {
	r.log.Error("projection failed", slog.String("projection", p.name()), slog.Int64("position", f.Position), slog.String("error", f.Msg))
}

// checkpoint reads a projection's position and state.
func (r *Runner) checkpoint(ctx context.Context, p *proj) (int64, string, error) {
	var pos int64
	var state string
	err := r.st.Read().QueryRowContext(ctx, rows.CheckpointGet, p.name()).Scan(&pos, &state)
	if err != nil {
		return 0, "", fmt.Errorf("projection %s: read checkpoint: %w", p.name(), err)
	}
	return pos, state, nil
}

// testHookBatch, when set by a test, runs in a catch-up transaction after
// the rows are written and before the checkpoint moves.
var testHookBatch atomic.Pointer[func(name string, last int64)]

// batch is one read of the log, possibly still in flight.
type batch struct {
	after    int64
	done     chan struct{}
	evs      []store.Event
	payloads []rows.Decoded
	err      error
}

// fetch starts reading (and decoding) the batch after `after` for p:
// catch-up reads the next batch while it applies the current one.
func (r *Runner) fetch(ctx context.Context, p *proj, after int64) *batch {
	b := &batch{after: after, done: make(chan struct{})}
	go func() {
		defer close(b.done)
		if b.evs, b.err = r.st.ReadAll(ctx, after, r.batch); b.err == nil {
			b.payloads = rows.DecodeAll(p.t, b.evs)
		}
	}()
	return b
}

// catchUp applies the log after p's checkpoint, a batch per transaction
// (reading the next batch while it applies one), until a read finds
// nothing more, the projection fails, or ctx ends. It returns the
// checkpoint and state it left. locked: the caller holds p.mu (a
// rebuild); otherwise each batch takes it, so a rebuild can come in
// between. progress, if set, is called after each batch.
func (r *Runner) catchUp(ctx context.Context, p *proj, locked bool, progress func(pos int64)) (pos int64, state string, err error) {
	pos, state, err = r.checkpoint(ctx, p)
	if err != nil || state == StateFailed {
		return pos, state, err
	}
	next := r.fetch(ctx, p, pos)
	for {
		<-next.done
		if next.err != nil {
			return pos, state, next.err
		}
		evs := next.evs
		if len(evs) == 0 && state != StateRebuilding {
			return pos, state, nil // caught up: nothing to write
		}
		atHead := len(evs) < r.batch
		var following *batch
		if len(evs) > 0 && !atHead {
			following = r.fetch(ctx, p, evs[len(evs)-1].Position)
		}
		if !locked {
			p.mu.Lock()
		}
		pos, state, err = r.applyBatch(ctx, p, evs, next.payloads, atHead)
		if !locked {
			p.mu.Unlock()
		}
		if err != nil || state == StateFailed {
			return pos, state, err
		}
		if len(evs) == 0 {
			return pos, state, nil
		}
		if progress != nil {
			progress(pos)
		}
		if following == nil || pos != evs[len(evs)-1].Position {
			// At the head (look once more), or the checkpoint moved
			// elsewhere meanwhile (the inline hook, a rebuild).
			following = r.fetch(ctx, p, pos)
		}
		next = following
	}
}

// applyBatch applies evs (the batch read after some checkpoint) in one
// transaction, from the checkpoint it finds there. It returns the
// checkpoint and state after it.
func (r *Runner) applyBatch(ctx context.Context, p *proj, evs []store.Event, payloads []rows.Decoded, atHead bool) (pos int64, state string, err error) {
	err = r.st.Write(ctx, func(tx *sql.Tx) error {
		ts := r.stmts(tx)
		cp, st, err := ts.get(ctx, p.name())
		if err != nil {
			return err
		}
		pos, state = cp, st
		if st == StateFailed {
			return nil
		}
		if len(evs) == 0 || cp < evs[0].Position-1 {
			// Nothing to apply, or the checkpoint moved back (a rebuild):
			// read again.
			if len(evs) == 0 && st == StateRebuilding {
				state = StateRunning
				return ts.set(ctx, p.name(), cp, state)
			}
			return nil
		}
		i := 0
		for i < len(evs) && evs[i].Position <= cp {
			i++ // applied meanwhile (by the inline hook)
		}
		if i == len(evs) {
			return nil
		}
		out, err := apply(ctx, ts, p.t, evs[i:], payloads[i:])
		if err != nil {
			return err
		}
		if h := testHookBatch.Load(); h != nil {
			(*h)(p.name(), out.Last)
		}
		pos = out.Last
		if out.Fail != nil {
			state = StateFailed
			if err := ts.fail(ctx, p.name(), out.Last, out.Fail); err != nil {
				return err
			}
			r.logFailure(p, out.Fail)
			return nil
		}
		if atHead && st == StateRebuilding {
			state = StateRunning
		}
		return ts.set(ctx, p.name(), pos, state)
	})
	return pos, state, err
}

// loop catches p up in the background until ctx ends.
func (r *Runner) loop(ctx context.Context, p *proj) {
	for ctx.Err() == nil {
		pos, state, err := r.catchUp(ctx, p, false, nil)
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			r.log.Error("projection catch-up", slog.String("projection", p.name()), slog.String("error", err.Error()))
			p.sleep(ctx, nil, pos, time.Second)
		case state == StateFailed:
			p.sleep(ctx, nil, pos, 0) // until Skip, Resume or Rebuild
		default:
			p.sleep(ctx, r.wait, pos, r.poll)
		}
	}
}

// sleep waits until the log has an event after pos (with w), d passes
// (d > 0), ctx ends or the projection is kicked.
func (p *proj) sleep(ctx context.Context, w Waiter, pos int64, d time.Duration) {
	p.wmu.Lock()
	if p.kicked {
		p.kicked = false
		p.wmu.Unlock()
		return
	}
	wctx, cancel := context.WithCancel(ctx)
	p.cancelWait = cancel
	p.wmu.Unlock()
	defer func() {
		p.wmu.Lock()
		p.cancelWait, p.kicked = nil, false
		p.wmu.Unlock()
		cancel()
	}()
	var timer <-chan time.Time
	if d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		timer = t.C
	}
	if w != nil {
		errc := make(chan error, 1)
		go func() { errc <- w.Wait(wctx, pos) }()
		select {
		case err := <-errc:
			if err != nil && wctx.Err() == nil {
				// A failing waiter must not spin the loop.
				select {
				case <-wctx.Done():
				case <-time.After(time.Second):
				}
			}
			return
		case <-wctx.Done():
		}
		return
	}
	select {
	case <-wctx.Done():
	case <-timer:
	}
}

// CatchUp applies what each projection has yet to apply of the log, on
// the caller's goroutine, and returns once every one has applied the log
// as far as it was when CatchUp began, or has failed (Status says where):
// how a caller that just appended reads its own writes from async
// projections without waiting on the background.
func (r *Runner) CatchUp(ctx context.Context) error {
	if err := r.ensureSchema(ctx); err != nil {
		return err
	}
	for _, p := range r.projs {
		if _, _, err := r.catchUp(ctx, p, false, nil); err != nil {
			return fmt.Errorf("projection %s: %w", p.name(), err)
		}
	}
	return nil
}

// kick wakes the background loop of p.
func (p *proj) kick() {
	p.wmu.Lock()
	defer p.wmu.Unlock()
	p.kicked = true
	if p.cancelWait != nil {
		p.cancelWait()
	}
}

func (r *Runner) lookup(name string) (*proj, error) {
	p := r.byName[name]
	if p == nil {
		return nil, fmt.Errorf("%w projection %q", cuesource.ErrUnknown, name)
	}
	return p, nil
}

// Rebuild implements cuesource.ReadModels: it drops the projection, replays
// the whole log into it and returns when it has caught up. A replay that
// stops on a failing event returns nil: the projection's status reports
// the failure.
func (r *Runner) Rebuild(ctx context.Context, name string) error {
	err := r.RebuildProgress(ctx, name, nil)
	var fe *FailedError
	if errors.As(err, &fe) {
		return nil
	}
	return err
}

// RebuildProgress is Rebuild reporting progress after every batch: done
// is the checkpoint, total the log's head (which may grow). If ctx ends
// first, the projection stays in state rebuilding and a started runner
// finishes the replay in the background (an unstarted one at its next
// start). A replay that stops on a failing event returns a *FailedError.
func (r *Runner) RebuildProgress(ctx context.Context, name string, progress func(done, total int64)) error {
	p, err := r.lookup(name)
	if err != nil {
		return err
	}
	if err := r.ensureSchema(ctx); err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	defer p.kick()
	r.log.Info("rebuilding projection", slog.String("projection", name))
	if err := r.st.Write(ctx, func(tx *sql.Tx) error { return r.reset(ctx, tx, p) }); err != nil {
		return err
	}
	total, err := head(ctx, r.st.Read())
	if err != nil {
		return err
	}
	if progress != nil {
		progress(0, total)
	}
	pos, state, err := r.catchUp(ctx, p, true, func(pos int64) {
		if progress != nil {
			total = max(total, pos)
			progress(pos, total)
		}
	})
	if err != nil {
		return err
	}
	if state == StateFailed {
		var msg string
		var at int64
		_ = r.st.Read().QueryRowContext(ctx, rows.CheckpointFailure, name).Scan(&msg, &at)
		return &FailedError{Name: name, Position: at, Msg: msg}
	}
	r.log.Info("projection rebuilt", slog.String("projection", name), slog.Int64("position", pos))
	return nil
}

// Skip implements cuesource.ReadModels: the failed projection's checkpoint moves
// past the event it failed on, and it carries on from there.
func (r *Runner) Skip(ctx context.Context, name string) error {
	return r.unfail(ctx, name, true)
}

// Resume implements cuesource.ReadModels: the failed projection retries the
// event it failed on.
func (r *Runner) Resume(ctx context.Context, name string) error {
	return r.unfail(ctx, name, false)
}

func (r *Runner) unfail(ctx context.Context, name string, skip bool) error {
	p, err := r.lookup(name)
	if err != nil {
		return err
	}
	if err := r.ensureSchema(ctx); err != nil {
		return err
	}
	err = r.st.Write(ctx, func(tx *sql.Tx) error {
		var state string
		var at sql.NullInt64
		if err := tx.QueryRowContext(ctx, rows.CheckpointFailedAt, name).Scan(&state, &at); err != nil {
			return fmt.Errorf("projection %s: read checkpoint: %w", name, err)
		}
		if state != StateFailed {
			return fmt.Errorf("%w: %s is %s", ErrNotFailed, name, state)
		}
		q := rows.CheckpointResume
		args := []any{now(), name}
		if skip {
			q = rows.CheckpointSkip
			args = append([]any{at.Int64}, args...)
			r.log.Warn("projection skips an event", slog.String("projection", name), slog.Int64("position", at.Int64))
		}
		_, err := tx.ExecContext(ctx, q, args...)
		return err
	})
	if err != nil {
		return err
	}
	p.kick()
	return nil
}

// Status implements cuesource.ReadModels: every projection, by name.
func (r *Runner) Status(ctx context.Context) ([]cuesource.ProjectionStatus, error) {
	db := r.st.Read()
	h, err := head(ctx, db)
	if err != nil {
		return nil, err
	}
	type stored struct {
		pos, at  int64
		hash, st string
		errMsg   string
	}
	cps := map[string]stored{}
	var n int
	if err := db.QueryRowContext(ctx, rows.TableCount, "projections").Scan(&n); err != nil {
		return nil, fmt.Errorf("projection: status: %w", err)
	}
	if n > 0 {
		rs, err := db.QueryContext(ctx, rows.CheckpointAll)
		if err != nil {
			return nil, fmt.Errorf("projection: status: %w", err)
		}
		defer rs.Close()
		for rs.Next() {
			var name string
			var s stored
			if err := rs.Scan(&name, &s.pos, &s.hash, &s.st, &s.errMsg, &s.at); err != nil {
				return nil, fmt.Errorf("projection: status: %w", err)
			}
			cps[name] = s
		}
		if err := rs.Err(); err != nil {
			return nil, fmt.Errorf("projection: status: %w", err)
		}
	}
	out := make([]cuesource.ProjectionStatus, 0, len(r.projs))
	for _, p := range r.projs {
		ps := cuesource.ProjectionStatus{Name: p.name(), Mode: p.t.Def.Mode, Head: h, Hash: p.t.Def.Hash, State: StateNew}
		if s, ok := cps[p.name()]; ok {
			ps.Position, ps.State, ps.Error, ps.ErrorPosition = s.pos, s.st, s.errMsg, s.at
			if s.hash != p.t.Def.Hash {
				ps.State, ps.Hash = StateStale, s.hash
			}
		}
		ps.Lag = max(h-ps.Position, 0)
		out = append(out, ps)
	}
	return out, nil
}
