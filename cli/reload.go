package cli

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cuesource/cuesource"
	"github.com/cuesource/cuesource/api"
	"github.com/cuesource/cuesource/api/nethttp"
	"github.com/cuesource/cuesource/diag"
	"github.com/cuesource/cuesource/effect"
	"github.com/cuesource/cuesource/internal/lens/check"
	"github.com/cuesource/cuesource/interpreter"
	"github.com/cuesource/cuesource/manifest"
	"github.com/cuesource/cuesource/native"
	"github.com/cuesource/cuesource/projections"
	"github.com/cuesource/cuesource/store/sqlite"
)

// CheckBudget bounds the lens check a watch runs over the stored log
// before it swaps programs. A log it cannot read within the budget is
// checked as far as it got, and the swap goes ahead with a warning: the
// events stay stored as they were, and the next edit can undo the change.
const CheckBudget = 3 * time.Second

// maxListed bounds the lens check failures printed for a refused change.
const maxListed = 20

// live is what a swap replaces the program in. The store, the backend
// (with its live-stream notifier), the dispatcher and the API service stay:
// each takes the new program between two of its commands, so no request
// fails and streams stay open. Only the projection runner is replaced, as
// on a restart: Start rebuilds the projections whose definition changed.
type live struct {
	ctx     context.Context
	st      *sqlite.Store
	backend *native.Backend
	queries *sql.DB
	f       *serverFlags
	log     *slog.Logger
	disp    *effect.Dispatcher
	rm      readModels
}

// readModels serves the read side through the runner installed last.
type readModels struct {
	r atomic.Pointer[projections.Runner]
}

var (
	_ cuesource.ReadModels = (*readModels)(nil)
	_ cuesource.RowReader  = (*readModels)(nil)
)

func (m *readModels) Row(ctx context.Context, name, key string) (map[string]any, error) {
	return m.r.Load().Row(ctx, name, key)
}

func (m *readModels) Query(ctx context.Context, name string, params map[string]any) ([]map[string]any, error) {
	return m.r.Load().Query(ctx, name, params)
}

func (m *readModels) Status(ctx context.Context) ([]cuesource.ProjectionStatus, error) {
	return m.r.Load().Status(ctx)
}

func (m *readModels) Rebuild(ctx context.Context, name string) error {
	return m.r.Load().Rebuild(ctx, name)
}

func (m *readModels) Skip(ctx context.Context, name string) error {
	return m.r.Load().Skip(ctx, name)
}

func (m *readModels) Resume(ctx context.Context, name string) error {
	return m.r.Load().Resume(ctx, name)
}

// refusedError is a change the stored events cannot follow.
type refusedError struct {
	failures []check.Failure
}

func (e *refusedError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "refused: %d stored event(s) cannot be read by the new definition (cuesource lens check):", len(e.failures))
	for i, f := range e.failures {
		if i == maxListed {
			fmt.Fprintf(&b, "\n  ... and %d more", len(e.failures)-maxListed)
			break
		}
		b.WriteString("\n  " + f.String())
	}
	return b.String()
}

// swap installs p, unless the stored log holds events p cannot read. The
// lens check runs first over the log (within CheckBudget), then over what
// was committed meanwhile with writes held back, so nothing p cannot read
// slips in between.
func (s *stack) swap(p *interpreter.Program) (warning string, err error) {
	ck := check.New(p)
	after, complete, err := checkLog(s.ctx, s.st, ck, 0, time.Now().Add(CheckBudget))
	if err != nil {
		return "", err
	}
	if len(ck.Failures) > 0 {
		return "", &refusedError{ck.Failures}
	}
	if !complete {
		warning = fmt.Sprintf("the lens check ran out of its %s budget after %d event(s) (position %d); the rest of the log was not checked", CheckBudget, ck.Events, after)
	}
	vars, err := manifest.Vars(p.Manifest, os.Getenv)
	if err != nil {
		return "", err
	}
	next, err := projections.New(p, s.st, projections.Options{Waiter: s.backend, Log: s.log, Queries: s.queries, QueryTimeout: s.f.queryTimeout})
	if err != nil {
		return "", err
	}
	old := s.backend.Program()
	err = s.backend.SetProgram(p, func() error {
		if complete {
			if _, _, err := checkLog(s.ctx, s.st, ck, after, time.Time{}); err != nil {
				return err
			}
			if len(ck.Failures) > 0 {
				return &refusedError{ck.Failures}
			}
		}
		rebuilt, err := native.PrepareKeys(s.ctx, p, s.st)
		if err != nil {
			return err
		}
		logRebuilds(s.log, rebuilt)
		s.rm.r.Load().Close()
		s.st.SetHook(nil) // the next runner installs its own, if it has inline projections
		if err := next.Start(s.ctx); err != nil {
			s.restart(old)
			return err
		}
		s.rm.r.Store(next)
		s.disp.SetProgram(p, vars)
		s.svc.SetProgram(p)
		defined(p, s.st) // only the new program's projections hold pruning back
		return nil
	})
	return warning, err
}

// restart brings back the old program's projections after the new ones
// failed to start.
func (s *stack) restart(old *interpreter.Program) {
	r, err := projections.New(old, s.st, projections.Options{Waiter: s.backend, Log: s.log, Queries: s.queries, QueryTimeout: s.f.queryTimeout})
	if err == nil {
		err = r.Start(s.ctx)
	}
	if err != nil {
		s.log.Error("projections: restarting the previous definition", slog.String("error", err.Error()))
		return
	}
	s.rm.r.Store(r)
}

// checkLog feeds ck the stored events after `after`, until the log ends
// (complete) or the deadline (if any) passes; it returns the last position
// read.
func checkLog(ctx context.Context, st *sqlite.Store, ck *check.Checker, after int64, deadline time.Time) (int64, bool, error) {
	for {
		evs, err := st.ReadAll(ctx, after, 500)
		if err != nil {
			return after, false, err
		}
		if len(evs) == 0 {
			return after, true, nil
		}
		for _, e := range evs {
			ck.Check(e)
			after = e.Position
		}
		if !deadline.IsZero() && time.Now().After(deadline) {
			return after, false, nil
		}
	}
}

// watchStatus is what the page is told about the watch: the errors of the
// last save (none once it vets and swaps) and what the last swap changed.
type watchStatus struct {
	done <-chan struct{} // the server's end: streams end with it, not at its shutdown's deadline
	// streams counts the pages following the status, at most maxStreams
	// (the server's cap on live streams): each holds a connection.
	streams    atomic.Int64
	maxStreams int64
	mu         sync.Mutex
	cur        statusMsg
	wake       chan struct{} // closed and replaced on every change
}

type statusMsg struct {
	Seq     int         `json:"seq"`
	OK      bool        `json:"ok"`
	Errors  []statusErr `json:"errors"`
	Swapped bool        `json:"swapped,omitempty"` // this message follows a swap
	Changes *changeSet  `json:"changes,omitempty"`
	Note    string      `json:"note,omitempty"`
}

type statusErr struct {
	File    string `json:"file,omitempty"`
	Abs     string `json:"abs,omitempty"` // File's absolute path: what an editor link opens
	Line    int    `json:"line,omitempty"`
	Col     int    `json:"col,omitempty"`
	Path    string `json:"path,omitempty"`
	Message string `json:"message"`
}

func newWatchStatus(ctx context.Context, maxStreams int) *watchStatus {
	if maxStreams <= 0 {
		maxStreams = api.DefaultMaxStreams
	}
	return &watchStatus{done: ctx.Done(), cur: statusMsg{OK: true, Errors: []statusErr{}}, wake: make(chan struct{}), maxStreams: int64(maxStreams)}
}

func (w *watchStatus) set(m statusMsg) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if m.Errors == nil {
		m.Errors = []statusErr{}
	}
	m.Seq = w.cur.Seq + 1
	w.cur = m
	close(w.wake)
	w.wake = make(chan struct{})
}

func (w *watchStatus) get() (statusMsg, <-chan struct{}) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.cur, w.wake
}

// errorsOf lists err's diagnostics for the page.
func errorsOf(err error) []statusErr {
	var list diag.List
	var one *diag.Error
	var refused *refusedError
	switch {
	case errors.As(err, &refused):
		out := []statusErr{{Message: fmt.Sprintf("refused: %d stored event(s) cannot be read by the new definition (cuesource lens check)", len(refused.failures))}}
		for i, f := range refused.failures {
			if i == maxListed {
				break
			}
			out = append(out, statusErr{Message: f.String()})
		}
		return out
	case errors.As(err, &list):
	case errors.As(err, &one):
		list = diag.List{one}
	default:
		return []statusErr{{Message: err.Error()}}
	}
	out := make([]statusErr, 0, len(list))
	for _, e := range list {
		se := statusErr{File: e.Pos.File, Line: e.Pos.Line, Col: e.Pos.Col, Path: e.Pos.Path, Message: e.Msg}
		if se.File != "" {
			se.Abs, _ = filepath.Abs(se.File)
		}
		out = append(out, se)
	}
	return out
}

// ServeHTTP streams the status as server-sent events (GET /ui/watch): the
// current one at once, then each change, until the client leaves.
func (w *watchStatus) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		http.Error(rw, "GET only", http.StatusMethodNotAllowed)
		return
	}
	// Counted before anything is held: past the cap, refused as the API
	// refuses a live stream.
	if w.streams.Add(1) > w.maxStreams {
		w.streams.Add(-1)
		resp := api.Problem(http.StatusServiceUnavailable, "too_many_streams", fmt.Sprintf("%d pages follow the watch already; retry later", w.maxStreams))
		resp.Header.Set("Retry-After", "5")
		nethttp.Write(rw, resp, r.Method)
		return
	}
	defer w.streams.Add(-1)
	rc := http.NewResponseController(rw)
	_ = rc.SetWriteDeadline(time.Time{}) // a stream outlives the server's write timeout
	rw.Header().Set("Content-Type", "text/event-stream")
	rw.Header().Set("Cache-Control", "no-store")
	last := -1
	for {
		m, wake := w.get()
		if m.Seq != last {
			b, _ := json.Marshal(m)
			if _, err := fmt.Fprintf(rw, "event: status\ndata: %s\n\n", b); err != nil {
				return
			}
			last = m.Seq
		} else if _, err := fmt.Fprint(rw, ": keep-alive\n\n"); err != nil {
			return
		}
		if rc.Flush() != nil {
			return
		}
		select {
		case <-r.Context().Done():
			return
		case <-w.done:
			return
		case <-wake:
		case <-time.After(api.KeepAlive):
		}
	}
}

// withWatch serves the watch status at /ui/watch, and h everywhere else.
// A server with a token asks for it (or the admin token) there as on the
// API: the errors name files and definitions.
func withWatch(ws *watchStatus, h http.Handler, tokens ...string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/ui/watch" {
			h.ServeHTTP(w, r)
			return
		}
		if len(tokens) > 0 && tokens[0] != "" {
			ok := false
			for _, t := range tokens {
				ok = ok || hasBearer(r, t)
			}
			if !ok {
				nethttp.Write(w, api.Unauthorized("this server needs a bearer token"), r.Method)
				return
			}
		}
		ws.ServeHTTP(w, r)
	})
}

// swapper is a served program a watch replaces: a server's stack, or the
// playground's current round.
type swapper interface {
	program() *interpreter.Program
	swap(p *interpreter.Program) (warning string, err error)
}

func (s *stack) program() *interpreter.Program { return s.backend.Program() }

// serveWatch vets the context at path after every save and swaps the
// program served by sw, until ctx ends. An edit that does not vet, or
// that the stored events cannot follow, leaves the old program serving;
// its errors are printed as vet prints them and told to the page.
func (c *command) serveWatch(ctx context.Context, name, path string, sw swapper, ws *watchStatus) {
	run := func() {
		start := time.Now()
		p, err := compileProgram(path)
		if err != nil {
			fmt.Fprint(c.stderr, diag.Render(err, nil))
			fmt.Fprintf(c.stderr, "cuesource %s: %s does not vet; the previous definition keeps serving\n", name, path)
			ws.set(statusMsg{Errors: errorsOf(err)})
			return
		}
		old := sw.program()
		if sameManifest(old.Manifest, p.Manifest) {
			ws.set(statusMsg{OK: true})
			return
		}
		warning, err := sw.swap(p)
		if ctx.Err() != nil {
			return // shutting down: whatever the swap did, nothing is served any more
		}
		if err != nil {
			fmt.Fprintf(c.stderr, "cuesource %s: %s: %v\n", name, path, err)
			fmt.Fprintf(c.stderr, "cuesource %s: the previous definition keeps serving\n", name)
			ws.set(statusMsg{Errors: errorsOf(err)})
			return
		}
		if warning != "" {
			fmt.Fprintf(c.stderr, "cuesource %s: warning: %s\n", name, warning)
		}
		for _, w := range p.Warnings { // as vet prints them
			fmt.Fprint(c.stderr, "warning: "+diag.Render(w, nil))
		}
		ch := diff(old.Manifest, p.Manifest)
		note := ch.String()
		fmt.Fprintf(c.stderr, "cuesource %s: reloaded %s in %s: %s\n", name, path, time.Since(start).Round(time.Millisecond), note)
		ws.set(statusMsg{OK: true, Swapped: true, Changes: ch, Note: note})
	}
	if err := c.watchContext(ctx, path, run); err != nil && ctx.Err() == nil {
		fmt.Fprintf(c.stderr, "cuesource %s: %v; no longer watching\n", name, err)
	}
}

// changeSet is what a swap changed, by kind: "cart.AddItem" for commands
// and events, the name for projections.
type changeSet struct {
	Commands    change `json:"commands"`
	Events      change `json:"events"`
	Projections change `json:"projections"`
}

type change struct {
	Added   []string `json:"added"`
	Removed []string `json:"removed"`
	Changed []string `json:"changed"`
}

func (c change) String(kind string) []string {
	var out []string
	for _, p := range []struct {
		what  string
		names []string
	}{{"added", c.Added}, {"removed", c.Removed}, {"changed", c.Changed}} {
		if len(p.names) > 0 {
			out = append(out, fmt.Sprintf("%s %s: %s", kind, p.what, strings.Join(p.names, ", ")))
		}
	}
	return out
}

func (c *changeSet) String() string {
	var parts []string
	parts = append(parts, c.Commands.String("commands")...)
	parts = append(parts, c.Events.String("events")...)
	parts = append(parts, c.Projections.String("projections")...)
	if len(parts) == 0 {
		return "no command, event or projection changed"
	}
	return strings.Join(parts, "; ")
}

// diff compares two manifests by their definitions, not where they are
// written: a line moved is no change.
func diff(a, b *manifest.Manifest) *changeSet {
	flat := func(m *manifest.Manifest) (cmds, evs, projs map[string]string) {
		cmds, evs, projs = map[string]string{}, map[string]string{}, map[string]string{}
		for an, ag := range m.Aggregates {
			for n, c := range ag.Commands {
				cmds[an+"."+n] = withoutPos(c)
			}
			for n, e := range ag.Events {
				evs[an+"."+n] = withoutPos(e)
			}
		}
		for n, p := range m.Projections {
			projs[n] = withoutPos(p)
		}
		return
	}
	ac, ae, ap := flat(a)
	bc, be, bp := flat(b)
	return &changeSet{Commands: compare(ac, bc), Events: compare(ae, be), Projections: compare(ap, bp)}
}

func compare(a, b map[string]string) change {
	c := change{Added: []string{}, Removed: []string{}, Changed: []string{}}
	for _, k := range slices.Sorted(maps.Keys(b)) {
		if old, ok := a[k]; !ok {
			c.Added = append(c.Added, k)
		} else if old != b[k] {
			c.Changed = append(c.Changed, k)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(a)) {
		if _, ok := b[k]; !ok {
			c.Removed = append(c.Removed, k)
		}
	}
	return c
}

// withoutPos is v's JSON without its source positions.
func withoutPos(v any) string {
	b, _ := json.Marshal(v)
	var x any
	_ = json.Unmarshal(b, &x)
	b, _ = json.Marshal(stripPos(x))
	return string(b)
}

func stripPos(x any) any {
	switch v := x.(type) {
	case map[string]any:
		delete(v, "pos")
		for k, e := range v {
			v[k] = stripPos(e)
		}
	case []any:
		for i, e := range v {
			v[i] = stripPos(e)
		}
	}
	return x
}

// sameManifest reports whether a save changed nothing the program is made
// of (positions included: errors and the page point at lines).
func sameManifest(a, b *manifest.Manifest) bool {
	x, err1 := json.Marshal(a)
	y, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && string(x) == string(y)
}
