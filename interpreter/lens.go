package interpreter

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/expr-lang/expr/vm"

	"github.com/cuesource/cuesource/internal/jsonsubset"
	"github.com/cuesource/cuesource/internal/lens"
	"github.com/cuesource/cuesource/manifest"
	"github.com/cuesource/cuesource/value"
)

// lensStep is one compiled lens: version i -> i+1 (up) and back (down).
type lensStep struct {
	from      schema // version i
	fromV     validator
	up        shape
	upCarry   []string // fields of version i+1 that up leaves to the old payload
	down      *shape
	downCarry []string
	pos       manifest.Pos
}

// LensError is a stored event that could not be brought to the version a
// reader wants.
type LensError struct {
	Event  string // the current name
	Stored int    // the version it was stored at
	Lens   int    // the lens that failed; -1 when none ran
	Dir    string // "up" or "down"
	Pos    manifest.Pos
	Msg    string
}

func (e *LensError) Error() string {
	if e.Lens < 0 {
		return fmt.Sprintf("%s stored at version %d: %s", e.Event, e.Stored, e.Msg)
	}
	return fmt.Sprintf("%s stored at version %d: lens %d %s (%s): %s", e.Event, e.Stored, e.Lens, e.Dir, e.Pos, e.Msg)
}

// Version is the event's current version: the number of its lenses.
func (e *Event) Version() int { return len(e.steps) }

// Upcast returns a payload stored at version v as the current version
// reads: one fused program whatever the number of lenses between.
func (e *Event) Upcast(v int, payload any) (any, error) {
	if v == len(e.steps) {
		return payload, nil
	}
	if err := e.stored(v); err != nil {
		return nil, err
	}
	out, err := runLens(e.fusedUp[v], payload)
	if err != nil {
		// The fused program says what failed, not in which lens: the
		// chain, lens by lens, does.
		if _, lerr := e.UpcastSteps(v, payload); lerr != nil {
			return nil, lerr
		}
		return nil, &LensError{Event: e.Name, Stored: v, Lens: -1, Dir: "up", Msg: err.Error()}
	}
	return out, nil
}

// UpcastSteps is Upcast lens by lens: the reference the fused programs
// are tested against, and what tells which lens fails.
func (e *Event) UpcastSteps(v int, payload any) (any, error) {
	vs, err := e.Versions(v, payload)
	if err != nil {
		return nil, err
	}
	return vs[len(vs)-1], nil
}

// Versions returns a payload stored at version v at every version from v
// to the current one, lens by lens: what an inspector shows of each lens.
// After a failure it returns the versions before it.
func (e *Event) Versions(v int, payload any) ([]any, error) {
	if err := e.stored(v); err != nil {
		return nil, err
	}
	out := make([]any, 1, len(e.steps)-v+1)
	out[0] = payload
	for i := v; i < len(e.steps); i++ {
		st := &e.steps[i]
		next, err := st.up.build(&Env{Event: payload}, carried(payload, st.upCarry))
		if err != nil {
			return out, &LensError{Event: e.Name, Stored: v, Lens: i, Dir: "up", Pos: st.pos, Msg: err.Error()}
		}
		out = append(out, next)
		payload = next
	}
	return out, nil
}

// Downcast returns a payload of the current version as version v reads
// it, through the down lenses.
func (e *Event) Downcast(v int, payload any) (any, error) {
	if v == len(e.steps) {
		return payload, nil
	}
	if err := e.stored(v); err != nil {
		return nil, err
	}
	if e.fusedDown[v] == nil {
		return nil, &LensError{Event: e.Name, Stored: len(e.steps), Lens: -1, Dir: "down",
			Msg: fmt.Sprintf("no down lens leads to version %d", v)}
	}
	out, err := runLens(e.fusedDown[v], payload)
	if err != nil {
		return nil, &LensError{Event: e.Name, Stored: len(e.steps), Lens: -1, Dir: "down", Msg: err.Error()}
	}
	return out, nil
}

// ValidateAt checks a payload of version v against that version's
// definition.
func (e *Event) ValidateAt(v int, payload any) []Violation {
	if v == len(e.steps) {
		return e.payload.validate(payload)
	}
	return e.steps[v].fromV.validate(payload)
}

// CanDowncast reports whether down lenses lead from the current version
// to version v.
func (e *Event) CanDowncast(v int) bool {
	return v == len(e.steps) || v >= 0 && v < len(e.steps) && e.fusedDown[v] != nil
}

func (e *Event) stored(v int) error {
	if v < 0 || v > len(e.steps) {
		return &LensError{Event: e.Name, Stored: v, Lens: -1, Dir: "up",
			Msg: fmt.Sprintf("%s is at version %d: no lens reads version %d", e.Name, len(e.steps), v)}
	}
	return nil
}

// lensEnvs recycles the environments of fused lens programs: every old
// event read needs one, and nothing keeps it after the run.
var lensEnvs = sync.Pool{New: func() any { return new(Env) }}

func runLens(x *expression, payload any) (any, error) {
	env := lensEnvs.Get().(*Env)
	env.Event = payload
	out, err := x.run(env)
	env.Event = nil
	lensEnvs.Put(env)
	return out, err
}

// carried copies the fields of in that a field-wise lens carries over.
func carried(in any, names []string) map[string]any {
	m, _ := in.(map[string]any)
	out := make(map[string]any, len(names))
	for _, k := range names {
		if v, ok := m[k]; ok {
			out[k] = v
		}
	}
	return out
}

// Event returns the event type stored under name: its current name or a
// former one.
func (a *Aggregate) Event(name string) *Event {
	if e := a.Events[name]; e != nil {
		return e
	}
	return a.Events[a.aliases[name]]
}

// ReadEvent returns a stored event as readers see it: its current name and
// its payload at the current version. An event the context does not know
// (any more) comes back as stored.
func (p *Program) ReadEvent(aggregate, typ string, version int, payload any) (string, any, error) {
	a := p.Aggregates[aggregate]
	if a == nil {
		return typ, payload, nil
	}
	e := a.Event(typ)
	if e == nil {
		return typ, payload, nil
	}
	out, err := e.Upcast(version, payload)
	return e.Name, out, err
}

// ReadJSON is ReadEvent on an encoded payload. It returns the current name
// and version; a payload already current is returned as it is, not decoded.
func (p *Program) ReadJSON(aggregate, typ string, version int, payload json.RawMessage) (string, int, json.RawMessage, error) {
	a := p.Aggregates[aggregate]
	if a == nil {
		return typ, version, payload, nil
	}
	e := a.Event(typ)
	if e == nil || version == len(e.steps) {
		if e != nil {
			typ = e.Name
		}
		return typ, version, payload, nil
	}
	v, err := value.DecodeStored(payload)
	if err != nil {
		return typ, version, nil, err
	}
	out, err := e.Upcast(version, v)
	if err != nil {
		return typ, version, nil, err
	}
	enc, err := value.Encode(out)
	return e.Name, len(e.steps), enc, err
}

// lenses compiles the event's former names and lenses; ps is the schema
// of the current version.
func (c *compiler) lenses(a *Aggregate, ev *Event, me *manifest.Event, ps schema) {
	for _, al := range me.Aliases {
		c.name("alias", al.Name, al.Pos)
		if other, ok := a.aliases[al.Name]; ok || a.Events[al.Name] != nil {
			if !ok {
				other = al.Name
			}
			c.errs.Add(al.Pos, "alias %s of %s is taken: it names event %s", al.Name, ev.Name, other)
			continue
		}
		a.aliases[al.Name] = ev.Name
		ev.aliases = append(ev.aliases, al.Name)
	}
	before := len(c.errs)
	n := len(me.Lenses)
	versions := make([]schema, n+1)
	versions[n] = ps
	for i, ml := range me.Lenses {
		versions[i] = c.schema(ml.From, ml.Pos)
	}
	ev.steps = make([]lensStep, n)
	for i, ml := range me.Lenses {
		st := lensStep{from: versions[i], fromV: versions[i].validator(), pos: ml.Pos}
		what := fmt.Sprintf("version %d of %s", i+1, ev.Name)
		st.up = c.shape(ml.Up, env{event: c.typeOf(versions[i], "event"), noMeta: true}, versions[i+1], what)
		st.upCarry = c.carry(ml.Up, versions[i], versions[i+1], ml.Pos, fmt.Sprintf("lens %d up", i), what, i)
		if ml.Down != nil {
			what := fmt.Sprintf("version %d of %s", i, ev.Name)
			d := c.shape(*ml.Down, env{event: c.typeOf(versions[i+1], "event"), noMeta: true}, versions[i], what)
			st.down = &d
			st.downCarry = c.carry(*ml.Down, versions[i+1], versions[i], ml.Pos, fmt.Sprintf("lens %d down", i), what, i+1)
		}
		ev.steps[i] = st
	}
	ev.fusedUp = make([]*expression, n)
	ev.fusedDown = make([]*expression, n)
	for k := 0; k < n; k++ {
		var up, down []lens.Step
		for i := k; i < n; i++ {
			up = append(up, step(me.Lenses[i].Up, ev.steps[i].upCarry))
		}
		ev.fusedUp[k] = c.fuse(up, me.Lenses[k].Pos)
		for i := n - 1; i >= k; i-- {
			if me.Lenses[i].Down == nil {
				down = nil
				break
			}
			down = append(down, step(*me.Lenses[i].Down, ev.steps[i].downCarry))
		}
		if down != nil {
			ev.fusedDown[k] = c.fuse(down, me.Lenses[k].Pos)
		}
	}
	if len(c.errs) == before && n > 0 { // samples run on lenses that compiled
		c.lensed = append(c.lensed, lensed{ev, versions})
	}
}

func step(s manifest.Shape, carry []string) lens.Step {
	st := lens.Step{Carry: carry}
	if s.Whole != nil {
		st.Whole = s.Whole.Src
	}
	for _, f := range s.Fields {
		st.Fields = append(st.Fields, lens.Field{Name: f.Name, Src: f.Expr.Src})
	}
	if s.Whole == nil && len(s.Fields) == 0 {
		st.Fields = []lens.Field{} // carry only
	}
	return st
}

func (c *compiler) fuse(steps []lens.Step, pos manifest.Pos) *expression {
	run := func() (*vm.Program, error) {
		tree, err := lens.Fuse(steps)
		if err != nil {
			return nil, err
		}
		return lens.Compile(tree, runOptions()...)
	}
	if c.lazy {
		return &expression{pos: pos, lazy: &lazyProgram{compile: func() (*vm.Program, error) {
			prog, err := run()
			if err != nil {
				return nil, &EvalError{Pos: pos, Msg: "cannot fuse the lenses from here on: " + err.Error(), err: err}
			}
			return prog, nil
		}}}
	}
	prog, err := run()
	if err == nil {
		return &expression{prog: prog, pos: pos}
	}
	// Each lens compiled on its own already; a failure here is the
	// fusion's, and the sequential chain still reads correctly.
	c.errs.Add(pos, "cannot fuse the lenses from here on: %v", err)
	return nil
}

// carry lists the fields of version to that a field-wise lens leaves to
// the payload of version from, and checks that it can: every required
// field must be set or carried, and a carried field must keep its kind.
func (c *compiler) carry(s manifest.Shape, from, to schema, pos manifest.Pos, lensName, what string, fromVersion int) []string {
	if s.Whole != nil {
		return nil
	}
	set := map[string]bool{}
	for _, f := range s.Fields {
		set[f.Name] = true
	}
	required := map[string]bool{}
	for _, r := range to.required() {
		required[r] = true
	}
	var out []string
	for _, k := range sortedKeys(asMap(to.doc["properties"])) {
		if set[k] {
			continue
		}
		src, declared := asMap(from.doc["properties"])[k]
		if !declared {
			if required[k] {
				c.errs.Add(pos, "%s does not set %s, which %s requires, and version %d has no field %s to carry over", lensName, k, what, fromVersion, k)
			}
			continue
		}
		want, _ := to.property(k)
		if a, b := schemaKind(asMap(src), from.defs), schemaKind(want, to.defs); a != b && !fits(a, b) {
			c.errs.Add(pos, "%s carries %s over, but it is %s in version %d and %s in %s: set it in the lens", lensName, k, a, fromVersion, b, what)
		}
		out = append(out, k)
	}
	return out
}

type lensed struct {
	ev       *Event
	versions []schema
}

// sampleLenses runs every lens on sample payloads of the version it reads:
// up must give a payload of the next version, and down(up(x)) must give x
// back.
func (c *compiler) sampleLenses() {
	for _, l := range c.lensed {
		c.sampleEvent(l.ev, l.versions)
	}
}

func (c *compiler) sampleEvent(ev *Event, versions []schema) {
	for i := range ev.steps {
		st := &ev.steps[i]
		xs, err := jsonsubset.Samples(versions[i].doc, 8)
		if err != nil {
			c.errs.Add(st.pos, "cannot make sample payloads of version %d of %s to check lens %d: %v", i, ev.Name, i, err)
			continue
		}
		for _, x := range xs {
			if msg := c.sampleLens(ev, i, x, versions); msg != "" {
				c.errs.Add(st.pos, "lens %d of %s, on the sample %s: %s", i, ev.Name, value.Text(x), msg)
				break
			}
		}
	}
}

func (c *compiler) sampleLens(ev *Event, i int, x any, versions []schema) string {
	st := &ev.steps[i]
	y, err := st.up.build(&Env{Event: x}, carried(x, st.upCarry))
	if err != nil {
		return "up fails: " + err.Error()
	}
	if vs := versions[i+1].validator().validate(y); len(vs) > 0 {
		return fmt.Sprintf("up gives %s, which does not fit version %d: %s", value.Text(y), i+1, violations(vs))
	}
	if st.down == nil {
		return ""
	}
	z, err := st.down.build(&Env{Event: y}, carried(y, st.downCarry))
	if err != nil {
		return "down fails on " + value.Text(y) + ": " + err.Error()
	}
	if vs := versions[i].validator().validate(z); len(vs) > 0 {
		return fmt.Sprintf("down gives %s, which does not fit version %d: %s", value.Text(z), i, violations(vs))
	}
	if !value.Equal(z, x) {
		return fmt.Sprintf("down(up(x)) is %s, not x", value.Text(z))
	}
	return ""
}

func violations(vs []Violation) string {
	var parts []string
	for _, v := range vs {
		parts = append(parts, v.String())
	}
	sort.Strings(parts)
	return strings.Join(parts, "; ")
}
