package interpreter

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/parser"
	"github.com/expr-lang/expr/vm"

	"github.com/cuesource/cuesource/diag"
	"github.com/cuesource/cuesource/internal/jsonsubset"
	"github.com/cuesource/cuesource/internal/lens"
	"github.com/cuesource/cuesource/manifest"
	"github.com/cuesource/cuesource/route"
	"github.com/cuesource/cuesource/value"
)

// Program is a compiled context. It is immutable and safe for concurrent
// use.
type Program struct {
	Manifest    *manifest.Manifest
	Aggregates  map[string]*Aggregate
	Projections map[string]*Projection
	Queries     map[string]*Query
	Effects     map[string]*Effect
	// Auth is the identity source and the rules; nil when the context
	// declares no auth.
	Auth *Auth
	// Limits are the context's size limits, defaults filled in.
	Limits manifest.Limits

	effectsOn map[string][]string // "aggregate.Event" -> effect names

	// Warnings are what vet reports without failing: expressions whose
	// cost grows with their input beyond its size (see unbounded).
	Warnings diag.List
}

// Aggregate is a compiled aggregate type.
type Aggregate struct {
	Name       string
	Commands   map[string]*Command
	Events     map[string]*Event
	Invariants []*Check
	// Unique are the aggregate's unique constraints, by name.
	Unique []*Unique
	// SnapshotEvery is how many events apart snapshots are taken: the
	// aggregate's snapshots, else the context's; 0: none.
	SnapshotEvery int
	// Hash identifies what folds the aggregate's events into its state
	// (see DefinitionHash): a snapshot taken under another hash is
	// ignored.
	Hash        string
	aliases     map[string]string // former event name -> current
	initial     any               // decoded once; shared, never changed
	state       validator
	stateSchema schema // for vet's checks of scenarios

	// For checking the read side against the write side.
	eventTypes     map[string]reflect.Type
	commandSchemas map[string]schema
}

// Initial returns the initial state. It is decoded once and shared by
// every new instance, which is safe because nothing changes a state in
// place: reducers and the standard library build new values.
func (a *Aggregate) Initial() any { return a.initial }

// CheckState validates a state against #state.
func (a *Aggregate) CheckState(state any) []Violation { return a.state.validate(state) }

// Command is a compiled command handler.
type Command struct {
	Name     string
	Instance string // manifest.InstanceExisting, New or Any
	IfMatch  string // "required": HTTP clients must send If-Match
	Require  []*Check
	Emit     []*Emitter
	// Lookups are read before the command is decided (see Lookup), by
	// name.
	Lookups []*Lookup
	newID   *expression // the aggregate's newId, for this command's payload
	payload validator
	// defaults are the top-level fields of #payload with a CUE default
	// (`limit: int | *20`), by name: a payload without one reads it.
	defaults map[string]any
}

// Validate checks a decoded payload against #payload, listing every
// violation.
func (c *Command) Validate(payload any) []Violation { return c.payload.validate(payload) }

// WithDefaults gives payload with every defaulted field it lacks set to
// its default, as CUE reads the definition; payload itself is not changed.
// A payload that is not an object is returned as it is (Validate refuses
// it).
func (c *Command) WithDefaults(payload any) any {
	obj, ok := payload.(map[string]any)
	if !ok || len(c.defaults) == 0 {
		return payload
	}
	var out map[string]any
	for name, d := range c.defaults {
		if _, set := obj[name]; set {
			continue
		}
		if out == nil {
			out = make(map[string]any, len(obj)+len(c.defaults))
			for k, v := range obj {
				out[k] = v
			}
		}
		out[name] = d
	}
	if out == nil {
		return payload
	}
	return out
}

// payloadDefaults reads the defaults the compiler records on the top-level
// properties of a payload schema.
func payloadDefaults(schema json.RawMessage) map[string]any {
	var doc struct {
		Properties map[string]struct {
			Default json.RawMessage `json:"default"`
		} `json:"properties"`
	}
	if json.Unmarshal(schema, &doc) != nil {
		return nil
	}
	var out map[string]any
	for name, p := range doc.Properties {
		if len(p.Default) == 0 {
			continue
		}
		v, err := value.Decode(p.Default, value.Limits{})
		if err != nil {
			continue
		}
		if out == nil {
			out = map[string]any{}
		}
		out[name] = v
	}
	return out
}

// Check is a named boolean expression: a guard or an invariant.
type Check struct {
	Name string
	// Status is the HTTP status a guard's rejection declares (0: 422).
	Status int
	expression
}

// Holds evaluates the check.
func (c *Check) Holds(env *Env) (bool, error) {
	out, err := c.run(env)
	if err != nil {
		return false, err
	}
	b, _ := out.(bool)
	return b, nil
}

// Emitter produces one event type from a command.
type Emitter struct {
	Event   string
	cond    *expression
	payload shape
}

// Emits reports whether the emit's condition holds (true when it has none).
func (e *Emitter) Emits(env *Env) (bool, error) {
	if e.cond == nil {
		return true, nil
	}
	out, err := e.cond.run(env)
	if err != nil {
		return false, err
	}
	b, _ := out.(bool)
	return b, nil
}

// Payload builds the event payload.
func (e *Emitter) Payload(env *Env) (any, error) { return e.payload.build(env, map[string]any{}) }

// Event is a compiled event type.
type Event struct {
	Name    string
	apply   shape
	payload validator
	aliases []string
	steps   []lensStep    // lens i: version i -> i+1
	fusedUp []*expression // [v]: version v -> current in one program
	// fusedDown[v]: current -> version v, nil when a down lens is missing.
	fusedDown []*expression
}

// Apply returns the state after the event; env.State is the old state and
// is not changed.
func (e *Event) Apply(env *Env) (any, error) { return e.apply.build(env, env.State) }

// ReadsMeta reports whether the reducer may read meta, which costs the
// caller a timestamp to format.
func (e *Event) ReadsMeta() bool { return e.apply.meta }

// Validate checks an event payload against the event's #payload.
func (e *Event) Validate(payload any) []Violation { return e.payload.validate(payload) }

// shape builds an object field-wise or as a whole.
type shape struct {
	fields []shapeField
	whole  *expression
	// all computes every field in one program (one run of the VM, not
	// one per field); the fields run one by one only to say which failed.
	all  *expression
	meta bool // some expression may read meta
}

type shapeField struct {
	name string
	expression
}

// build evaluates the shape over base: a whole expression replaces it,
// fields are set on a shallow copy (every right side sees env, which holds
// the old values), and an empty shape returns base unchanged.
func (s shape) build(env *Env, base any) (any, error) {
	if s.whole != nil {
		return s.whole.run(env)
	}
	if len(s.fields) == 0 {
		return base, nil
	}
	old, _ := base.(map[string]any)
	out := make(map[string]any, len(old)+len(s.fields))
	for k, v := range old {
		out[k] = v
	}
	if s.all != nil {
		if vals, err := s.all.run(env); err == nil {
			for i, v := range vals.([]any) {
				out[s.fields[i].name] = v
			}
			return out, nil
		}
	}
	for _, f := range s.fields {
		v, err := f.run(env)
		if err != nil {
			return nil, err
		}
		out[f.name] = v
	}
	return out, nil
}

// Compile checks and compiles a manifest. Errors are a diag.List with every
// problem found.
func Compile(m *manifest.Manifest) (*Program, error) { return compile(m, vet()) }

// vet is what Compile checks beside compiling.
func vet() *vetting {
	return &vetting{
		scenarios: (*compiler).scenarios,
		samples:   (*compiler).sampleLenses,
		lint:      (*compiler).warnUnbounded,
		types:     schema.typeOf,
		check:     (*compiler).typeCheck,
		structs:   (*typer).structOf,
	}
}

// vetting is what only Compile does: what finds mistakes and warnings,
// not what runs. Passed as functions, so a Worker, which calls
// CompileChecked, links none of it (the scenario checks, the sample
// generator, the linter).
type vetting struct {
	// queryColumns type the rows of query look-ups (CheckLookups).
	queryColumns map[string][]QueryColumn
	scenarios    func(*compiler, *manifest.Manifest, *Program)
	samples      func(*compiler) // runs the lenses on sample payloads
	lint         func(*compiler, manifest.Expr, ast.Node)
	// types types a schema for the environment expressions are checked
	// against; CompileChecked checks no types and leaves them nil (any).
	types func(schema, *typer, string) reflect.Type
	// check checks an expression against the typed environment e and
	// gives its result type; false after an error it reported.
	check func(c *compiler, x manifest.Expr, e env, boolean bool) (reflect.Type, bool)
	// structs makes the struct types of rows and env for the check.
	structs func(*typer, []reflect.StructField, string) reflect.Type
}

// CompileChecked compiles a manifest that Compile has accepted before (a
// runtime loading what `cuesource worker build` wrote): it skips what only
// finds mistakes: no typed check of the expressions, no scenarios, and each
// expression compiled for the runtime on its first run rather than here. A
// Worker pays this at every cold start, and each command then compiles
// what it runs the first time it runs it.
func CompileChecked(m *manifest.Manifest) (*Program, error) { return compile(m, nil) }

// compile compiles m, with vet's checks when v is not nil.
func compile(m *manifest.Manifest, v *vetting) (*Program, error) {
	c := &compiler{typer: &typer{names: map[reflect.Type]string{}}, lazy: v == nil}
	if v != nil {
		c.lint, c.types, c.check, c.structs = v.lint, v.types, v.check, v.structs
		c.queryColumns = v.queryColumns
	}
	c.m = m
	p := &Program{Manifest: m, Aggregates: map[string]*Aggregate{}, Limits: m.Limits.WithDefaults()}
	if m.ManifestVersion != manifest.Version {
		c.errs.Add(manifest.Pos{}, "manifest version %d, this build reads version %d", m.ManifestVersion, manifest.Version)
	}
	// Both runtimes enforce auth: its rules are expressions, compiled
	// lazily under CompileChecked like every other.
	c.caller = c.callerType(m)
	c.meta = c.declaredMeta(m)
	c.lookupTypes(m)
	for _, name := range sortedKeys(m.Aggregates) {
		c.name("aggregate", name, m.Aggregates[name].Pos)
		if reserved := route.Reserved(); slices.Contains(reserved, name) {
			c.errs.Add(m.Aggregates[name].Pos, "aggregate name %q is reserved: it is a route of the HTTP API (%s)", name, strings.Join(reserved, ", "))
		}
		if a := c.aggregate(name, m.Aggregates[name]); a != nil {
			p.Aggregates[name] = a
		}
	}
	if v != nil {
		v.samples(c)
	}
	c.snapshots(m, p)
	c.readSide(m, p)
	if v != nil {
		// After the read side: scenarios may expect its queries and rows.
		v.scenarios(c, m, p)
	}
	c.auth(m, p)
	c.errs.Sort()
	if err := c.errs.Err(); err != nil {
		return nil, err
	}
	c.warns.Sort()
	p.Warnings = c.warns
	return p, nil
}

var identifier = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]*$`)

// name checks that a name can be a URL segment and an identifier.
func (c *compiler) name(what, name string, pos manifest.Pos) {
	if !identifier.MatchString(name) {
		c.errs.Add(pos, "%s name %q must start with a letter and hold only letters, digits and _", what, name)
	}
}

type compiler struct {
	lazy bool // compile expressions on first use (CompileChecked)
	// lensed are the events whose lenses compiled, to run on samples.
	lensed []lensed
	*typer
	errs    diag.List
	warns   diag.List
	lint    func(*compiler, manifest.Expr, ast.Node)                       // vetting's, or nil
	types   func(schema, *typer, string) reflect.Type                      // vetting's, or nil
	check   func(*compiler, manifest.Expr, env, bool) (reflect.Type, bool) // vetting's, or nil
	structs func(*typer, []reflect.StructField, string) reflect.Type       // vetting's, or nil
	caller  reflect.Type                                                   // #claims' type, nil without auth
	claims  schema                                                         // #claims, with auth
	// declared are the names of the context's declared metadata, meta
	// the context's own fields, metaType meta's type for vet with them
	// (nil: Meta's).
	declared map[string]bool
	meta     []declaredField
	metaType reflect.Type
	// m is the manifest compiled; stateTypes the type of each
	// aggregate's state, for instance look-ups (vetting only).
	m            *manifest.Manifest
	stateTypes   map[string]reflect.Type
	queryColumns map[string][]QueryColumn // CheckLookups'
}

var metaType = reflect.TypeOf(Meta{})

// env is the typed environment an expression is checked against.
type env struct {
	cmd, state, event    reflect.Type // nil: not visible here
	row, vars, rejection reflect.Type
	caller               reflect.Type // rules: the claims
	lookup               reflect.Type // a command's look-ups
	noMeta               bool         // lenses see the payload only
}

func (e env) value(meta reflect.Type) any {
	var fields []reflect.StructField
	add := func(name string, t reflect.Type) {
		if t != nil {
			fields = append(fields, reflect.StructField{
				Name: strings.ToUpper(name[:1]) + name[1:], Type: t, Tag: reflect.StructTag(fmt.Sprintf(`expr:%q`, name)),
			})
		}
	}
	add("cmd", e.cmd)
	add("state", e.state)
	add("event", e.event)
	add("row", e.row)
	add("env", e.vars)
	add("rejection", e.rejection)
	add("caller", e.caller)
	add("lookup", e.lookup)
	if !e.noMeta {
		add("meta", meta)
	}
	return reflect.New(reflect.StructOf(fields)).Elem().Interface()
}

// typeCheck checks x against the typed environment e (Compile only: a
// Worker links neither this nor the struct types it builds) and returns
// its result type, or false after an error.
func (c *compiler) typeCheck(x manifest.Expr, e env, boolean bool) (reflect.Type, bool) {
	meta := c.metaType
	if meta == nil {
		meta = metaType
	}
	opts := append(append(stdlib(), c.metaOptions()...), expr.Env(e.value(meta)), expr.MaxNodes(MaxNodes))
	if boolean {
		opts = append(opts, expr.AsBool())
	}
	checked, err := expr.Compile(x.Src, opts...)
	if err != nil {
		c.exprError(x, err)
		return nil, false
	}
	if c.lint != nil {
		c.lint(c, x, checked.Node())
	}
	return checked.Node().Type(), true
}

// compile checks x against the typed environment when vetting and
// compiles it for the runtime Env. It returns the checked result type, or
// nil after an error.
func (c *compiler) compile(x manifest.Expr, e env, boolean bool) (*expression, reflect.Type) {
	var typ reflect.Type // nil (any) when not checked again: fits every use
	if c.check != nil {
		var ok bool
		if typ, ok = c.check(c, x, e, boolean); !ok {
			return nil, nil
		}
	}
	run := func() (*vm.Program, error) {
		opts := append(append(runOptions(), c.metaOptions()...), expr.MaxNodes(MaxNodes))
		if boolean {
			opts = append(opts, expr.AsBool())
		}
		return expr.Compile(x.Src, opts...)
	}
	if c.lazy {
		return &expression{pos: x.Pos, lazy: &lazyProgram{compile: func() (*vm.Program, error) {
			prog, err := run()
			if err != nil {
				d := c.exprDiag(x, err)
				return nil, &EvalError{Pos: d.Pos, Msg: d.Msg, err: err}
			}
			return prog, nil
		}}}, typ
	}
	prog, err := run()
	if err != nil {
		c.exprError(x, err)
		return nil, nil
	}
	return &expression{prog: prog, pos: x.Pos}, typ
}

func (c *compiler) exprError(x manifest.Expr, err error) {
	c.errs = append(c.errs, c.exprDiag(x, err))
}

// exprDiag words a compile error of x, positioned in the context file.
func (c *compiler) exprDiag(x manifest.Expr, err error) *diag.Error {
	pos, msg := x.Pos, err.Error()
	var fe *file.Error
	if errors.As(err, &fe) {
		pos, msg = offset(x.Pos, fe.Line, fe.Column), fe.Message
	}
	msg = c.readable(msg)
	if strings.HasPrefix(msg, "expected boolean, but got") {
		msg = "must be a boolean expression, but it gives " + strings.TrimPrefix(msg, "expected boolean, but got ")
	}
	return &diag.Error{Pos: pos, Msg: msg}
}

// schema is a JSON Schema compiled for validation and parsed for typing.
type schema struct {
	fast *jsonsubset.Schema
	doc  map[string]any
	defs map[string]any
}

// validator validates documents against s.
func (s schema) validator() validator { return validator{s.fast} }

func (s schema) typeOf(t *typer, name string) reflect.Type { return t.typeOf(s.doc, name, s.defs, 0) }

// structType makes a struct type for the typed check, or is nil (any)
// when nothing is checked.
func (c *compiler) structType(fields []reflect.StructField, name string) reflect.Type {
	if c.structs == nil {
		return nil
	}
	return c.structs(c.typer, fields, name)
}

// typeOf types s when vetting does, and is nil (any) otherwise: only the
// typed check of expressions, which CompileChecked skips, reads the type.
func (c *compiler) typeOf(s schema, name string) reflect.Type {
	if c.types == nil {
		return nil
	}
	return c.types(s, c.typer, name)
}

// property returns the schema of a named property and whether the object
// schema declares it; open objects accept any name.
func (s schema) property(name string) (map[string]any, bool) {
	doc := s.doc
	if ref, ok := doc["$ref"].(string); ok {
		doc = asMap(s.defs[strings.TrimPrefix(ref, "#/$defs/")])
	}
	if p, ok := asMap(doc["properties"])[name]; ok {
		return asMap(p), true
	}
	if extra, ok := doc["additionalProperties"]; ok && extra == false {
		return nil, false
	}
	return asMap(doc["additionalProperties"]), true
}

func (s schema) required() []string {
	var out []string
	for _, r := range asList(s.doc["required"]) {
		if name, ok := r.(string); ok {
			out = append(out, name)
		}
	}
	return out
}

func asList(v any) []any {
	l, _ := v.([]any)
	return l
}

func (c *compiler) aggregate(name string, m *manifest.Aggregate) *Aggregate {
	a := &Aggregate{Name: name, Commands: map[string]*Command{}, Events: map[string]*Event{}, aliases: map[string]string{},
		eventTypes: map[string]reflect.Type{}, commandSchemas: map[string]schema{}}
	state := c.schema(m.State, m.Pos)
	a.state, a.stateSchema = state.validator(), state
	stateType := c.typeOf(state, "state")
	initial, err := value.Decode(m.Initial, value.Limits{MaxBytes: math.MaxInt})
	if err != nil {
		c.errs.Add(m.Pos, "initial: %v", err)
	} else if vs := a.state.validate(initial); len(vs) > 0 {
		c.errs.Add(m.Pos, "initial does not fit #state: %s", vs[0])
	}
	a.initial = initial

	events := map[string]schema{}
	for _, en := range sortedKeys(m.Events) {
		me := m.Events[en]
		c.name("event", en, me.Pos)
		ps := c.schema(me.Payload, me.Pos)
		events[en] = ps
		ev := &Event{Name: en, payload: ps.validator()}
		a.eventTypes[en] = c.typeOf(ps, "event")
		ev.apply = c.shape(me.Apply, env{state: stateType, event: a.eventTypes[en]}, state, "state")
		a.Events[en] = ev
	}
	for _, en := range sortedKeys(m.Events) {
		c.lenses(a, a.Events[en], m.Events[en], events[en])
	}
	for _, cn := range sortedKeys(m.Commands) {
		mc := m.Commands[cn]
		c.name("command", cn, mc.Pos)
		if route.ReservedCommand(cn) {
			c.errs.Add(mc.Pos, "command name %q is reserved: GET /%s/{id}/events lists an instance's events", cn, name)
		}
		ps := c.schema(mc.Payload, mc.Pos)
		cmd := &Command{Name: cn, Instance: mc.Instance, IfMatch: mc.IfMatch, payload: ps.validator(), defaults: payloadDefaults(mc.Payload)}
		a.commandSchemas[cn] = ps
		switch mc.Instance {
		case manifest.InstanceExisting, manifest.InstanceNew, manifest.InstanceAny:
		default:
			c.errs.Add(mc.Pos, "instance must be %q, %q or %q, not %q", manifest.InstanceExisting, manifest.InstanceNew, manifest.InstanceAny, mc.Instance)
		}
		cmdType := c.typeOf(ps, "cmd")
		pre := env{cmd: cmdType, caller: c.caller}
		decide := env{cmd: cmdType, state: stateType, caller: c.caller}
		decide.lookup = c.lookups(cmd, mc, pre, c.m.Aggregates, c.stateTypes, c.m.Queries)
		if m.NewID != nil && cmd.Creates() {
			x, t := c.compile(*m.NewID, env{cmd: cmdType}, false)
			if k := kind(t); x != nil && !fits(k, "string") && !fits(k, "integer") {
				c.errs.Add(m.NewID.Pos, "newId must give a string or a number, but for %s it gives %s", cn, k)
			}
			cmd.newID = x
		}
		cmd.Require = c.checks(mc.Require, decide)
		for _, me := range mc.Emit {
			es, ok := events[me.Event]
			if !ok {
				c.errs.Add(me.Pos, "unknown event %s (aggregate %s declares %s)", me.Event, name, strings.Join(sortedKeys(m.Events), ", "))
				continue
			}
			em := &Emitter{Event: me.Event}
			if me.If != nil {
				em.cond, _ = c.compile(*me.If, decide, true)
			}
			em.payload = c.shape(me.Payload, decide, es, "event "+me.Event)
			if me.Payload.Whole == nil {
				c.complete(me, es)
			}
			cmd.Emit = append(cmd.Emit, em)
		}
		a.Commands[cn] = cmd
	}
	a.Invariants = c.checks(m.Invariants, env{state: stateType})
	c.unique(a, m)
	return a
}

func (c *compiler) checks(named []manifest.Named, e env) []*Check {
	var out []*Check
	for _, n := range named {
		switch n.Status {
		case 0, 403, 404, 409, 410:
		default:
			c.errs.Add(n.Expr.Pos, "%s: a guard answers 403, 404, 409, 410 or 422, not %d", n.Name, n.Status)
		}
		if x, _ := c.compile(n.Expr, e, true); x != nil {
			out = append(out, &Check{Name: n.Name, Status: n.Status, expression: *x})
		}
	}
	return out
}

// shape compiles a field-wise or whole object against the schema of what
// it builds: every field must be declared there and fit its type.
func (c *compiler) shape(m manifest.Shape, e env, target schema, what string) shape {
	var s shape
	if m.Whole != nil {
		x, t := c.compile(*m.Whole, e, false)
		if x != nil && !fits(kind(t), "object") {
			c.errs.Add(m.Whole.Pos, "must give an object for %s, but gives %s", what, kind(t))
		}
		s.whole = x
		s.meta = readsMeta(m.Whole.Src)
		return s
	}
	for _, f := range m.Fields {
		s.meta = s.meta || readsMeta(f.Expr.Src)
		prop, declared := target.property(f.Name)
		if !declared && target.doc != nil {
			c.errs.Add(f.Expr.Pos, "%s has no field %s (it declares %s)", what, f.Name, fieldList(target))
			continue
		}
		x, t := c.compile(f.Expr, e, false)
		if x == nil {
			continue
		}
		if want := schemaKind(prop, target.defs); !fits(kind(t), want) {
			c.errs.Add(f.Expr.Pos, "%s.%s is %s, but the expression gives %s", what, f.Name, want, kind(t))
		}
		s.fields = append(s.fields, shapeField{name: f.Name, expression: *x})
	}
	if len(s.fields) > 1 && len(s.fields) == len(m.Fields) {
		s.all = c.together(m.Fields)
	}
	return s
}

// readsMeta is true when src may read meta (now() is meta.timestamp). A
// false positive only costs the time to format a timestamp.
func readsMeta(src string) bool {
	return strings.Contains(src, "meta") || strings.Contains(src, "now")
}

// together compiles field-wise expressions into one program giving the
// list of their values, in order.
func (c *compiler) together(fields []manifest.Field) *expression {
	build := func() (*vm.Program, error) {
		m := &ast.ArrayNode{}
		for _, f := range fields {
			tree, err := parser.Parse(f.Expr.Src)
			if err != nil {
				return nil, err
			}
			m.Nodes = append(m.Nodes, tree.Node)
		}
		tree := &parser.Tree{Node: m, Source: file.NewSource(m.String())}
		return lens.Compile(tree, runOptions()...)
	}
	if c.lazy { // an error makes build run the fields one by one
		return &expression{pos: fields[0].Expr.Pos, lazy: &lazyProgram{compile: build}}
	}
	prog, err := build()
	if err != nil {
		return nil // each field runs on its own, as compiled
	}
	return &expression{prog: prog, pos: fields[0].Expr.Pos}
}

// fieldList names the properties of s, for errors that say what it declares.
func fieldList(s schema) string {
	names := sortedKeys(asMap(s.doc["properties"]))
	if len(names) == 0 {
		return "no fields"
	}
	return strings.Join(names, ", ")
}

// complete checks that a field-wise payload sets every required field.
func (c *compiler) complete(me manifest.Emit, es schema) {
	set := map[string]bool{}
	for _, f := range me.Payload.Fields {
		set[f.Name] = true
	}
	var missing []string
	for _, r := range es.required() {
		if !set[r] {
			missing = append(missing, r)
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		c.errs.Add(me.Pos, "payload of %s misses required field(s) %s", me.Event, strings.Join(missing, ", "))
	}
}

func (c *compiler) scenarios(m *manifest.Manifest, p *Program) {
	for _, s := range m.Scenarios {
		a, ok := p.Aggregates[s.Aggregate]
		if !ok {
			c.errs.Add(s.Pos, "unknown aggregate %s (the context has %s)", s.Aggregate, strings.Join(sortedKeys(p.Aggregates), ", "))
			continue
		}
		for _, g := range s.Given {
			ga, gname := a, s.Aggregate
			if g.Aggregate != "" && g.Aggregate != s.Aggregate {
				// Another instance's event: of its own aggregate.
				gname = g.Aggregate
				if ga = p.Aggregates[gname]; ga == nil {
					c.errs.Add(g.Pos, "unknown aggregate %s (the context has %s)", gname, strings.Join(sortedKeys(p.Aggregates), ", "))
					continue
				}
			}
			e := ga.Event(g.Event) // a former name is how old history is given
			switch {
			case e == nil:
				c.errs.Add(g.Pos, "unknown event %s (%s has %s)", g.Event, gname, strings.Join(sortedKeys(ga.Events), ", "))
			case g.Version != nil && (*g.Version < 0 || *g.Version > e.Version()):
				c.errs.Add(g.Pos, "%s has versions 0 to %d, not %d", e.Name, e.Version(), *g.Version)
			}
		}
		for _, w := range s.When {
			if _, ok := a.Commands[w.Command]; !ok {
				c.errs.Add(w.Pos, "unknown command %s (%s has %s)", w.Command, s.Aggregate, strings.Join(sortedKeys(a.Commands), ", "))
			}
		}
		if len(s.When) == 0 {
			c.errs.Add(s.Pos, "when names no command")
		}
		for _, t := range s.Then.Events {
			if _, ok := a.Events[t.Event]; !ok {
				c.errs.Add(t.Pos, "unknown event %s (%s has %s)", t.Event, s.Aggregate, strings.Join(sortedKeys(a.Events), ", "))
			}
			if t.Version != nil {
				c.errs.Add(t.Pos, "then.events are emitted now, at the current version: leave version out")
			}
			if t.Aggregate != "" || t.ID != "" {
				c.errs.Add(t.Pos, "then.events are the scenario's own instance's: leave aggregate and id out")
			}
		}
		if s.Then.Events == nil && s.Then.State == nil && s.Then.Error == "" && s.Then.Queries == nil && s.Then.Projections == nil {
			c.errs.Add(s.Then.Pos, "then expects nothing: give events, state, error, query or projection")
		}
		c.readSideThen(m, p, s)
		c.scenarioAs(m, s)
		if e := s.Then.Error; e != "" && !knownError(m.Aggregates[s.Aggregate], e) && !knownRule(m.Auth, s.Aggregate, e) {
			rules := ""
			if m.Auth != nil {
				rules = ", no rule of its commands"
			}
			c.errs.Add(s.Then.Pos, "%q is no guard or invariant of %s%s and no error kind (%s)", e, s.Aggregate, rules, strings.Join(errorKinds(m.Aggregates[s.Aggregate]), ", "))
		}
		if s.Then.State != nil {
			var want map[string]any
			_ = json.Unmarshal(s.Then.State, &want)
			for _, k := range sortedKeys(want) {
				if _, declared := a.stateSchema.property(k); !declared {
					c.errs.Add(s.Then.StatePos, "#state of %s has no field %s (it declares %s)", s.Aggregate, k, fieldList(a.stateSchema))
				}
			}
		}
	}
}

// knownError reports whether a scenario may expect name: an error kind,
// or a guard or invariant the definition declares. The declaration, not
// the compiled check, decides, so a guard whose expression fails to
// compile is reported once, at the guard, and not again at every scenario
// that names it.
func knownError(a *manifest.Aggregate, name string) bool {
	if slices.Contains(errorKinds(a), name) {
		return true
	}
	for _, cmd := range a.Commands {
		for _, g := range cmd.Require {
			if g.Name == name {
				return true
			}
		}
	}
	for _, inv := range a.Invariants {
		if inv.Name == name {
			return true
		}
	}
	return false
}

// readSideThen checks a scenario's then.query and then.projection: the
// names exist, the params fit the query's #params, and a projection row
// lists only the projection's columns. A query's result columns are known
// only to SQL: projections.CheckQueries checks the rows' columns.
func (c *compiler) readSideThen(m *manifest.Manifest, p *Program, s *manifest.Scenario) {
	// The definitions decide what exists: one that failed to compile is
	// reported once, at itself.
	for _, qt := range s.Then.Queries {
		if _, ok := m.Queries[qt.Name]; !ok {
			c.errs.Add(qt.Pos, "unknown query %s (the context has %s)", qt.Name, orNothing(sortedKeys(m.Queries)))
			continue
		}
		if q := p.Queries[qt.Name]; q != nil {
			if _, vs := q.Params(ParamValues(qt.Params)); len(vs) > 0 {
				c.errs.Add(qt.Pos, "params do not fit the #params of query %s: %s", qt.Name, vs[0])
			}
		}
	}
	for _, pt := range s.Then.Projections {
		pr, ok := m.Projections[pt.Name]
		if !ok {
			c.errs.Add(pt.Pos, "unknown projection %s (the context has %s)", pt.Name, orNothing(sortedKeys(m.Projections)))
			continue
		}
		var row map[string]any
		_ = json.Unmarshal(pt.Row, &row)
		names := append([]string{"key"}, sortedKeys(pr.Columns)...)
		for _, k := range sortedKeys(row) {
			if !slices.Contains(names, k) {
				c.errs.Add(pt.RowPos, "projection %s has no column %s (it has %s)", pt.Name, k, strings.Join(names, ", "))
			}
		}
	}
}

func orNothing(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}

// errorKinds are the kinds a scenario of aggregate a may expect: the
// engine's, and those of the rules across instances it declares.
func errorKinds(a *manifest.Aggregate) []string {
	kinds := ErrorKinds
	if a == nil {
		return kinds
	}
	if len(a.Unique) > 0 {
		kinds = append(slices.Clip(kinds), "unique_violation", "invalid_key")
	}
	for _, c := range a.Commands {
		if len(c.Lookup) > 0 {
			return append(slices.Clip(kinds), "lookup_failed")
		}
	}
	return kinds
}
