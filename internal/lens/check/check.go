package check

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/cuesource/cuesource/engine"
	"github.com/cuesource/cuesource/internal/projections/rows"
	"github.com/cuesource/cuesource/interpreter"
	"github.com/cuesource/cuesource/store"
	"github.com/cuesource/cuesource/value"
)

// Stages of reading an event, in order; a failure names the first that
// failed.
const (
	StageType       = "type"       // the context has no such event (any more)
	StageDecode     = "decode"     // the stored payload is not JSON
	StageLens       = "lens"       // a lens failed, or fused and sequential disagree
	StagePayload    = "payload"    // the payload read does not fit the current #payload
	StageReducer    = "reducer"    // the reducer failed, or the state after it does not fit #state
	StageProjection = "projection" // a projection could not compute its row
)

// Failure is one stored event the definition cannot read.
type Failure struct {
	Position   int64  `json:"position"`
	ID         string `json:"id"`
	Aggregate  string `json:"aggregate"`
	Instance   string `json:"instance"`
	Type       string `json:"type"`          // as stored
	Version    int    `json:"schemaVersion"` // as stored
	Stage      string `json:"stage"`
	Lens       *int   `json:"lens,omitempty"`
	Projection string `json:"projection,omitempty"`
	Error      string `json:"error"`
}

func (f Failure) String() string {
	where := f.Stage
	if f.Lens != nil {
		where = fmt.Sprintf("lens %d", *f.Lens)
	}
	if f.Projection != "" {
		where = "projection " + f.Projection
	}
	return fmt.Sprintf("position %d: %s.%s stored at version %d (%s %s): %s: %s",
		f.Position, f.Aggregate, f.Type, f.Version, f.Aggregate, f.Instance, where, f.Error)
}

// Checker holds the replay: the state of every instance and the rows of
// every projection, in memory.
type Checker struct {
	p        *interpreter.Program
	states   map[[2]string]any // nil until an event of the instance applies
	seen     map[[2]string]bool
	tables   []*table
	Events   int
	Failures []Failure
}

type table struct {
	t    *rows.Table
	rows map[string]*rows.Row
}

// New starts a replay of the whole log.
func New(p *interpreter.Program) *Checker {
	c := &Checker{p: p, states: map[[2]string]any{}, seen: map[[2]string]bool{}}
	names := make([]string, 0, len(p.Projections))
	for name := range p.Projections {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		c.tables = append(c.tables, &table{t: rows.NewTable(p.Projections[name]), rows: map[string]*rows.Row{}})
	}
	return c
}

// Instances is the number of instances seen.
func (c *Checker) Instances() int { return len(c.seen) }

// Check reads the next event of the log. After a failure the instance's
// state stays as the events before made it, so later events are still
// checked.
func (c *Checker) Check(e store.Event) {
	c.Events++
	c.seen[[2]string{e.Aggregate, e.Instance}] = true
	fail := func(stage string, lens *int, format string, args ...any) {
		c.Failures = append(c.Failures, Failure{Position: e.Position, ID: e.ID, Aggregate: e.Aggregate, Instance: e.Instance,
			Type: e.Type, Version: e.SchemaVersion, Stage: stage, Lens: lens, Error: fmt.Sprintf(format, args...)})
	}
	a := c.p.Aggregates[e.Aggregate]
	if a == nil {
		fail(StageType, nil, "the context has no aggregate %s", e.Aggregate)
		return
	}
	et := a.Event(e.Type)
	if et == nil {
		fail(StageType, nil, "aggregate %s has no event %s, under that name or as an alias", e.Aggregate, e.Type)
		return
	}
	payload, err := value.DecodeStored(e.Payload)
	if _, ok := payload.(map[string]any); err == nil && !ok {
		err = fmt.Errorf("the payload is %s, not an object", value.Text(payload))
	}
	if err != nil {
		fail(StageDecode, nil, "%v", err)
		return
	}
	seq, err := et.UpcastSteps(e.SchemaVersion, payload)
	if err != nil {
		var le *interpreter.LensError
		switch {
		case errors.As(err, &le) && le.Lens >= 0:
			fail(StageLens, &le.Lens, "%s failed: %s", le.Dir, le.Msg)
		case le != nil:
			fail(StageLens, nil, "%s", le.Msg)
		default:
			fail(StageLens, nil, "%v", err)
		}
		return
	}
	fused, err := et.Upcast(e.SchemaVersion, payload)
	if err == nil && !value.Equal(fused, seq) {
		err = fmt.Errorf("the fused lenses give %s, the lenses one by one %s", value.Text(fused), value.Text(seq))
	}
	if err != nil {
		fail(StageLens, nil, "%v", err)
		return
	}
	if vs := et.Validate(seq); len(vs) > 0 {
		var b strings.Builder
		for _, v := range vs {
			b.WriteString("; " + v.String())
		}
		fail(StagePayload, nil, "%s does not fit the current #payload%s", value.Text(seq), b.String())
		return
	}
	k := [2]string{e.Aggregate, e.Instance}
	next, err := engine.Evolve(c.p, e.Aggregate, e.Instance, c.states[k], engine.Event{
		ID: e.ID, Type: et.Name, Version: e.Version, Time: e.Time, Payload: seq,
	}, engine.Options{Strict: true})
	if err != nil {
		fail(StageReducer, nil, "%v", err)
	} else {
		c.states[k] = next
	}
	for _, tb := range c.tables {
		b := rows.Prepare(tb.t, []store.Event{e}, nil)
		out := rows.Outcome{Fail: b.Fail}
		if out.Fail == nil {
			out = b.Apply(tb.rows)
		}
		if out.Fail != nil {
			fail(StageProjection, nil, "%s", out.Fail.Msg)
			c.Failures[len(c.Failures)-1].Projection = tb.t.Def.Name
		}
	}
}
