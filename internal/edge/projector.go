package edge

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/cuesource/cuesource/internal/projections/rows"
	"github.com/cuesource/cuesource/store/d1"
)

// The projector script keeps the projection tables in D1 up to date with
// the log. One projector object runs it, one run at a time, so checkpoints
// and rows are written by a single writer, as natively.

// projectBatch is how many events one read of the log takes.
const projectBatch = 100

type projectInput struct {
	Now    time.Time `json:"now"`
	Action string    `json:"action"` // "", rebuild, skip, resume, reconcile
	Name   string    `json:"name"`
	// Inline limits the catch-up to inline projections: what a command
	// waits for before it answers.
	Inline bool `json:"inline"`
	// Checkpoints, when given, are the ones the previous run answered:
	// the projector object is the only writer of checkpoints, so it can
	// keep them between runs and save reading them.
	Checkpoints []Checkpoint `json:"checkpoints"`
}

// Checkpoint is a projection's checkpoint as the projector object keeps
// it between runs.
type Checkpoint struct {
	Name     string `json:"name"`
	Position int64  `json:"position"`
	Hash     string `json:"hash"`
	State    string `json:"state"`
	ErrorAt  int64  `json:"errorAt"`
}

// Projected is the answer of a run.
type Projected struct {
	// CatchUp asks for a catch-up soon (the projector's alarm): a
	// reconcile built tables that the log has yet to fill.
	CatchUp bool `json:"catchUp,omitempty"`
	projectorAnswer
	// Checkpoints are the checkpoints after the run, for the next one.
	Checkpoints []Checkpoint `json:"checkpoints,omitempty"`
}

func (c *Core) projectionNames() []string { return c.names }

// projectWith runs an action (if any), then catches every running
// projection up with the log, from the checkpoints pi keeps (if any), and
// answers the checkpoints it leaves.
func (c *Core) projectWith(h *host, pi *projectInput) (Projected, error) {
	cps := map[string]*checkpoint{}
	out, err := c.projectRun(h, pi, cps)
	if err != nil {
		return Projected{}, err
	}
	if out.Unknown == "" && out.Conflict == "" {
		for _, name := range slices.Sorted(maps.Keys(cps)) {
			cp := cps[name]
			out.Checkpoints = append(out.Checkpoints, Checkpoint{Name: name, Position: cp.pos, Hash: cp.hash, State: cp.state, ErrorAt: cp.errAt})
		}
	}
	return out, nil
}

type checkpoint struct {
	pos   int64
	hash  string
	state string
	errAt int64
}

func (c *Core) projectRun(h *host, pi *projectInput, cps map[string]*checkpoint) (Projected, error) {
	if len(c.prog.Projections) == 0 {
		if pi.Action != "" {
			return Projected{projectorAnswer: projectorAnswer{Unknown: fmt.Sprintf("no projection %q", pi.Name)}}, nil
		}
		return Projected{}, nil
	}
	now := rows.Stamp(pi.Now)
	if pi.Checkpoints != nil {
		for _, cp := range pi.Checkpoints {
			cps[cp.Name] = &checkpoint{pos: cp.Position, hash: cp.Hash, state: cp.State, errAt: cp.ErrorAt}
		}
	} else {
		res, err := h.query(d1.CheckpointAll)
		if err != nil {
			return Projected{}, err
		}
		stored, err := checkpointsOf(res.Rows)
		if err != nil {
			return Projected{}, err
		}
		for _, cp := range stored {
			cps[cp.Name] = &checkpoint{pos: cp.Position, hash: cp.Hash, state: cp.State, errAt: cp.ErrorPosition}
		}
	}
	var stmts []Statement
	reset := func(name string, drop bool) {
		t := c.tables[name]
		if drop {
			stmts = append(stmts, Statement{SQL: t.Drop, Params: []any{}})
		}
		for _, ddl := range t.DDL() {
			stmts = append(stmts, Statement{SQL: ddl, Params: []any{}})
		}
		stmts = append(stmts, Statement{SQL: d1.CheckpointRebuild, Params: []any{name, t.Def.Hash, now}})
		// Running when the log is empty: the catch-up finds it at the head.
		cps[name] = &checkpoint{hash: t.Def.Hash, state: rows.StateRebuilding}
	}
	// reconcile only builds what is new or changed (a query asks it
	// first): the answer's CatchUp has the rebuild run soon, not in the
	// caller's time.
	reconcile := pi.Action == "reconcile"
	if pi.Action != "" && !reconcile {
		cp, ok := cps[pi.Name]
		if _, defined := c.prog.Projections[pi.Name]; !defined {
			return Projected{projectorAnswer: projectorAnswer{Unknown: fmt.Sprintf("no projection %q", pi.Name)}}, nil
		}
		switch pi.Action {
		case "rebuild":
			reset(pi.Name, true)
		case "skip", "resume":
			if !ok || cp.state != rows.StateFailed {
				state := rows.StateNew
				if ok {
					state = cp.state
				}
				return Projected{projectorAnswer: projectorAnswer{Conflict: fmt.Sprintf("%s is %s", pi.Name, state)}}, nil
			}
			if pi.Action == "skip" {
				stmts = append(stmts, Statement{SQL: d1.CheckpointSkip, Params: []any{cp.errAt, now, pi.Name}})
				cp.pos = cp.errAt
				cp.errAt = 0
			} else {
				stmts = append(stmts, Statement{SQL: d1.CheckpointResume, Params: []any{now, pi.Name}})
			}
			cp.state, cp.errAt = rows.StateRunning, 0
		default:
			return Projected{}, fmt.Errorf("unknown projector action %q", pi.Action)
		}
	}
	// A new projection is built; one whose definition changed is rebuilt.
	for _, name := range c.projectionNames() {
		cp, ok := cps[name]
		if !ok || cp.hash != c.prog.Projections[name].Hash {
			reset(name, ok)
		}
	}
	if len(stmts) > 0 {
		if err := h.do(Op{Kind: "batch", Statements: stmts}, nil); err != nil {
			return Projected{}, err
		}
	}
	if reconcile {
		return Projected{CatchUp: len(stmts) > 0}, nil
	}
	for _, name := range c.projectionNames() {
		cp := cps[name]
		if cp.state != rows.StateRunning && cp.state != rows.StateRebuilding || pi.Inline && c.prog.Projections[name].Mode != "inline" {
			continue
		}
		t := c.tables[name]
		for {
			done, err := c.projectOnce(h, t, cp, now)
			if err != nil {
				return Projected{}, err
			}
			if done {
				break
			}
		}
	}
	return Projected{}, nil
}

// projectOnce applies the next run of events to t and reports whether the
// projection is at the head of the log (or stopped by a failure).
func (c *Core) projectOnce(h *host, t *rows.Table, cp *checkpoint, now string) (bool, error) {
	res, err := h.query(d1.EventsAfter, cp.pos, projectBatch)
	if err != nil {
		return false, err
	}
	evs, err := eventsOfRows(res.Rows)
	if err != nil {
		return false, err
	}
	// A rebuild reads what has left D1 from the archive.
	evs, hot, err := c.readWhole(h, cp.pos, projectBatch, evs)
	if err != nil {
		return false, err
	}
	if len(evs) == 0 {
		if cp.state == rows.StateRebuilding {
			// A rebuild at the head is running.
			set := Statement{SQL: d1.CheckpointSet, Params: []any{cp.pos, rows.StateRunning, now, t.Def.Name}}
			if err := h.do(Op{Kind: "batch", Statements: []Statement{set}}, nil); err != nil {
				return false, err
			}
			cp.state = rows.StateRunning
		}
		return true, nil
	}
	// At the head: D1 answered a short read, all of it taken (a read cut
	// at a gap left by a prune, or from the archive, is not the end).
	atHead := hot && len(evs) == len(res.Rows) && len(res.Rows) < projectBatch
	b := rows.Prepare(t, evs, nil)
	loaded := map[string]*rows.Row{}
	for i := 0; i < len(b.Keys); i += rows.ManyKeys {
		keys := b.Keys[i:min(i+rows.ManyKeys, len(b.Keys))]
		args := make([]any, len(keys))
		for j, k := range keys {
			args[j] = k
		}
		got, err := h.query(t.SelectKeys(len(keys)), args...)
		if err != nil {
			return false, err
		}
		for _, r := range got.Rows {
			key, err := d1.Text(r[0])
			if err != nil {
				return false, fmt.Errorf("projection %s: key: %w", t.Def.Name, err)
			}
			row, err := t.Load(r[1:])
			if err != nil {
				return false, err
			}
			loaded[key] = row
		}
	}
	out := b.Apply(loaded)
	var stmts []Statement
	for _, k := range b.Keys {
		r := loaded[k]
		switch {
		case !r.Dirty:
		case r.Deleted:
			stmts = append(stmts, Statement{SQL: t.Delete, Params: []any{k}})
		default:
			stmts = append(stmts, Statement{SQL: t.Upsert, Params: t.Args(nil, k, r)})
		}
	}
	name := t.Def.Name
	if out.Fail != nil {
		stmts = append(stmts, Statement{SQL: d1.CheckpointFail, Params: []any{out.Last, out.Fail.Msg, out.Fail.Position, now, name}})
	} else {
		state := cp.state
		if atHead {
			state = rows.StateRunning
		}
		stmts = append(stmts, Statement{SQL: d1.CheckpointAdvance, Params: []any{out.Last, state, now, name, cp.pos}})
	}
	if err := h.do(Op{Kind: "batch", Statements: stmts}, nil); err != nil {
		return false, err
	}
	cp.pos = out.Last
	if out.Fail != nil {
		cp.state, cp.errAt = rows.StateFailed, out.Fail.Position
		return true, nil
	}
	if atHead {
		cp.state = rows.StateRunning
	}
	return atHead, nil
}

// The projector object's calls. It is one object, so one writer of the
// checkpoints and the projection tables: its runs go one at a time, a
// catch-up asked for while one is waiting to start joins it, and the
// checkpoints of the last run are kept for the next (dropped on any
// failure, so the next run reads them). Only coordination and a cache
// live in this state; a new Go runtime starts without them.
type projState struct {
	mu   sync.Mutex // guards next and cps
	run  sync.Mutex // held by the running run
	next [2]*pending
	cps  []Checkpoint
}

// pending is a catch-up waiting to start (or running), and its outcome.
type pending struct {
	done   chan struct{}
	err    error
	joined int // callers waiting for it besides the one that runs it
}

// Timings of the projector object.
const (
	// kickDelay is how soon a kick's catch-up runs: a burst of commands
	// shares one run (the alarm) instead of each starting its own.
	kickDelay = 50 * time.Millisecond
	// retryCatchUp is when a catch-up that failed is tried again.
	retryCatchUp = time.Second
)

type projectorInput struct {
	Call string          `json:"call"` // action, catchUp, kick, alarm
	Now  time.Time       `json:"now"`
	Arg  json.RawMessage `json:"arg"` // action: {action, name}; catchUp: {inline, kick}
}

// projector serves the projector object's methods.
func (c *Core) projector(in []byte, h *host) (any, error) {
	var pi projectorInput
	if err := decodeInput(in, &pi); err != nil {
		return nil, err
	}
	switch pi.Call {
	case "action":
		var a struct{ Action, Name string }
		if err := json.Unmarshal(pi.Arg, &a); err != nil {
			return nil, &Fault{Kind: "input", Message: "projector action: " + err.Error()}
		}
		c.proj.run.Lock()
		out, err := c.projectCached(h, pi.Now, a.Action, a.Name, false)
		c.proj.run.Unlock()
		if err != nil {
			return nil, err
		}
		if out.CatchUp {
			// Tables were built that the log has yet to fill.
			err = c.kick(h, pi.Now)
		}
		return out.projectorAnswer, err
	case "catchUp":
		var a struct{ Inline, Kick bool } // none: a full catch-up
		_ = json.Unmarshal(pi.Arg, &a)
		if err := c.catchUp(h, pi.Now, a.Inline); err != nil || !a.Kick {
			return map[string]any{}, err
		}
		return map[string]any{}, c.kick(h, pi.Now)
	case "kick":
		return map[string]any{}, c.kick(h, pi.Now)
	case "alarm":
		if err := c.catchUp(h, pi.Now, false); err != nil {
			_ = h.do(Op{Kind: "log", Method: "warn", Arg: "cuesource: projector catch-up failed, retrying: " + err.Error()}, nil)
		}
		return map[string]any{}, nil
	}
	return nil, &Fault{Kind: "input", Message: fmt.Sprintf("projector: no call %q", pi.Call)}
}

func (c *Core) kick(h *host, now time.Time) error {
	return setAlarm(h, now.Add(kickDelay), now, true)
}

// catchUp runs a catch-up (of the inline projections only, or of all)
// after the running one, or joins the one of its kind waiting to start.
func (c *Core) catchUp(h *host, now time.Time, inline bool) error {
	slot := 0
	if inline {
		slot = 1
	}
	c.proj.mu.Lock()
	p := c.proj.next[slot]
	if p != nil {
		p.joined++
		c.proj.mu.Unlock()
		<-p.done
		return p.err
	}
	p = &pending{done: make(chan struct{})}
	c.proj.next[slot] = p
	c.proj.mu.Unlock()

	c.proj.run.Lock()
	c.proj.mu.Lock()
	c.proj.next[slot] = nil // started: later callers wait for the next one
	c.proj.mu.Unlock()
	_, p.err = c.projectCached(h, now, "", "", inline)
	c.proj.run.Unlock()
	close(p.done)
	if p.err != nil {
		_ = setAlarm(h, now.Add(retryCatchUp), now, true)
	}
	return p.err
}

// projectCached is a run with the kept checkpoints; the caller holds
// c.proj.run.
func (c *Core) projectCached(h *host, now time.Time, action, name string, inline bool) (Projected, error) {
	c.proj.mu.Lock()
	cps := c.proj.cps
	c.proj.mu.Unlock()
	out, err := c.projectWith(h, &projectInput{Now: now, Action: action, Name: name, Inline: inline, Checkpoints: cps})
	c.proj.mu.Lock()
	defer c.proj.mu.Unlock()
	if err != nil {
		c.proj.cps = nil
		return Projected{}, err
	}
	if out.Checkpoints != nil {
		c.proj.cps = out.Checkpoints
	}
	return out, nil
}
