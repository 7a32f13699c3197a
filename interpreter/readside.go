package interpreter

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/cuesource/cuesource/effect/egress"
	"github.com/cuesource/cuesource/manifest"
	"github.com/cuesource/cuesource/store"
)

// Projection is a compiled read model.
type Projection struct {
	Name     string
	Mode     string // "inline" or "async"
	Columns  []Column
	Indexes  map[string][]string
	Handlers map[string]*Handler // by "aggregate.Event"
	// Hash identifies the definition: a runtime rebuilds a projection whose
	// stored hash differs.
	Hash string
}

// Column is a projection column and its SQLite type.
type Column struct {
	Name string
	Type string // TEXT, INTEGER, REAL or JSON (stored as TEXT)
}

// Handler is what one event type does to a projection row.
type Handler struct {
	Event  string // "aggregate.Event", by its current name
	Delete bool
	key    *expression
	upsert []shapeField
	event  *Event
}

// Read returns the payload of an event stored at version v as the
// handler's expressions read it: at the current version.
func (h *Handler) Read(v int, payload any) (any, error) { return h.event.Upcast(v, payload) }

// Key evaluates the row key: a string, or a number written as one.
func (h *Handler) Key(env *Env) (string, error) {
	v, err := h.key.run(env)
	if err != nil {
		return "", err
	}
	switch k := v.(type) {
	case string:
		return k, nil
	case int:
		return strconv.Itoa(k), nil
	case float64:
		return strconv.FormatFloat(k, 'f', -1, 64), nil
	}
	return "", h.key.fail(fmt.Errorf("a projection key must be a string or a number, not %s", typeName(v)))
}

// Values evaluates the upsert's columns; env.Row is the current row ({}
// when new).
func (h *Handler) Values(env *Env) (map[string]any, error) {
	out := make(map[string]any, len(h.upsert))
	for _, f := range h.upsert {
		v, err := f.run(env)
		if err != nil {
			return nil, err
		}
		out[f.name] = v
	}
	return out, nil
}

// Query is a compiled named query.
type Query struct {
	Name string
	SQL  string
	// Reads are the projections whose tables the query reads, sorted: its
	// answer says how current each one is.
	Reads  []string
	Pos    manifest.Pos
	params validator
	doc    schema
}

// ParamValues are a scenario's query params (a JSON object) as a query
// string carries them (GET /queries/{name}?...): each value as its text, a
// string as it is. What they must fit is the query's #params, checked by
// Params as a request's are.
func ParamValues(params json.RawMessage) url.Values {
	out := url.Values{}
	var m map[string]json.RawMessage
	_ = json.Unmarshal(params, &m)
	for k, raw := range m {
		var s string
		if err := json.Unmarshal(raw, &s); err == nil {
			out.Set(k, s)
		} else if string(raw) != "null" {
			out.Set(k, string(raw))
		}
	}
	return out
}

// Params reads the query-string parameters by the types #params declares,
// fills defaults and validates them; violations name the parameter.
func (q *Query) Params(values url.Values) (map[string]any, []Violation) {
	out := map[string]any{}
	var bad []Violation
	props := asMap(q.doc.doc["properties"])
	for name, raw := range values {
		ps, declared := props[name]
		if !declared {
			if q.doc.doc["additionalProperties"] == false {
				bad = append(bad, Violation{Pointer: "/" + name, Message: "no such parameter"})
			}
			continue
		}
		v, err := parseParam(raw[len(raw)-1], schemaKind(asMap(ps), q.doc.defs))
		if err != nil {
			bad = append(bad, Violation{Pointer: "/" + name, Message: err.Error()})
			continue
		}
		out[name] = v
	}
	if len(bad) > 0 {
		return nil, bad
	}
	return q.Fill(out)
}

func parseParam(s, kind string) (any, error) {
	switch kind {
	case "integer":
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%q is not an integer", s)
		}
		return int(n), nil
	case "number":
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return nil, fmt.Errorf("%q is not a number", s)
		}
		return f, nil
	case "boolean":
		b, err := strconv.ParseBool(s)
		if err != nil {
			return nil, fmt.Errorf("%q is not a boolean", s)
		}
		return b, nil
	}
	return s, nil
}

func normalizeNumber(v any) any {
	if f, ok := v.(float64); ok && f == float64(int(f)) {
		return int(f)
	}
	return v
}

// Effect is a compiled effect.
type Effect struct {
	Name     string
	On       map[string]bool // "aggregate.Event"
	Delivery string          // "sync", "async" or "queue"
	MaxTries int
	Backoff  time.Duration
	cond     *expression
	Send     *Sender
	HTTP     *Webhook
}

// Applies reports whether the effect reacts to this event.
func (e *Effect) Applies(env *Env) (bool, error) {
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

// Sender builds the command a send effect dispatches.
type Sender struct {
	Aggregate, Command string
	id                 *expression
	payload            shape
	OnReject           *Sender
}

// Build evaluates the target instance id and the payload.
func (s *Sender) Build(env *Env) (id string, payload any, err error) {
	v, err := s.id.run(env)
	if err != nil {
		return "", nil, err
	}
	switch x := v.(type) {
	case string:
		id = x
	case int:
		id = strconv.Itoa(x)
	default:
		return "", nil, s.id.fail(fmt.Errorf("a send id must be a string or a number, not %s", typeName(v)))
	}
	payload, err = s.payload.build(env, map[string]any{})
	return id, payload, err
}

// Webhook builds an HTTP call.
type Webhook struct {
	Method  string
	URLEnv  string
	Timeout time.Duration
	headers []shapeField
	body    shape
	hasBody bool
}

// Build evaluates the headers and body.
func (w *Webhook) Build(env *Env) (headers map[string]string, body any, err error) {
	headers = map[string]string{}
	for _, h := range w.headers {
		v, err := h.run(env)
		if err != nil {
			return nil, nil, err
		}
		headers[h.name] = fmt.Sprint(v)
	}
	if w.hasBody {
		body, err = w.body.build(env, map[string]any{})
	}
	return headers, body, err
}

var sqlTypes = map[string]reflect.Type{"TEXT": stringType, "INTEGER": intType, "REAL": floatType, "JSON": anyType}

// readSide compiles projections, queries and effects.
func (c *compiler) readSide(m *manifest.Manifest, p *Program) {
	p.Projections, p.Queries, p.Effects = map[string]*Projection{}, map[string]*Query{}, map[string]*Effect{}
	vars := c.varsType(m)
	for _, name := range sortedKeys(m.Projections) {
		mp := m.Projections[name]
		if slices.Contains(store.Tables, name) || strings.HasPrefix(name, "sqlite_") {
			c.errs.Add(mp.Pos, "projection name %q is taken by the event store's own tables (%s)", name, strings.Join(store.Tables, ", "))
		}
		pr := &Projection{Name: name, Mode: mp.Mode, Indexes: mp.Indexes, Handlers: map[string]*Handler{}}
		def, _ := json.Marshal(mp.Columns)
		on, _ := json.Marshal(struct {
			K string
			C json.RawMessage
			I map[string][]string
			O any
		}{mp.Key.Src, def, mp.Indexes, stripPos(mp.On)})
		sum := sha256.Sum256(on)
		pr.Hash = hex.EncodeToString(sum[:8])
		var rowFields []reflect.StructField
		for _, col := range sortedKeys(mp.Columns) {
			typ := mp.Columns[col]
			pr.Columns = append(pr.Columns, Column{Name: col, Type: typ})
			if col == "key" {
				c.errs.Add(mp.Pos, "projection %s: column name key is taken by the row key", name)
			}
			rowFields = append(rowFields, reflect.StructField{Name: fmt.Sprintf("F%d", len(rowFields)), Type: sqlTypes[typ], Tag: reflect.StructTag(fmt.Sprintf(`expr:%q`, col))})
		}
		rowType := c.structType(rowFields, "row")
		for idx, cols := range mp.Indexes {
			for _, col := range cols {
				if _, ok := mp.Columns[col]; !ok && col != "key" {
					c.errs.Add(mp.Pos, "projection %s: index %s names no column %s", name, idx, col)
				}
			}
		}
		for _, mh := range mp.On {
			et, a, ok := c.eventType(p, mh.Event, mh.Pos)
			if !ok {
				continue
			}
			ev := a.Events[strings.TrimPrefix(mh.Event, a.Name+".")]
			h := &Handler{Event: mh.Event, Delete: mh.Delete, event: ev}
			h.key, _ = c.compile(mp.Key, env{event: et}, false)
			for _, f := range mh.Upsert {
				typ, declared := mp.Columns[f.Name]
				if !declared {
					c.errs.Add(f.Expr.Pos, "projection %s has no column %s (it has %s)", name, f.Name, strings.Join(sortedKeys(mp.Columns), ", "))
					continue
				}
				x, t := c.compile(f.Expr, env{event: et, row: rowType}, false)
				if x == nil {
					continue
				}
				if want := kind(sqlTypes[typ]); typ != "JSON" && !fits(kind(t), want) {
					c.errs.Add(f.Expr.Pos, "column %s is %s, but the expression gives %s", f.Name, typ, kind(t))
				}
				h.upsert = append(h.upsert, shapeField{name: f.Name, expression: *x})
			}
			pr.Handlers[mh.Event] = h
			for _, alias := range ev.aliases {
				pr.Handlers[a.Name+"."+alias] = h // events stored under a former name
			}
		}
		p.Projections[name] = pr
	}
	for _, name := range sortedKeys(m.Queries) {
		mq := m.Queries[name]
		s := c.schema(mq.Params, mq.Pos)
		p.Queries[name] = &Query{Name: name, SQL: mq.SQL, Reads: tablesRead(mq.SQL, m.Projections), Pos: mq.Pos, params: s.validator(), doc: s}
	}
	for _, name := range sortedKeys(m.Effects) {
		me := m.Effects[name]
		e := &Effect{Name: name, On: map[string]bool{}, Delivery: me.Delivery, MaxTries: me.Retry.Max}
		var err error
		if e.Backoff, err = time.ParseDuration(me.Retry.Backoff); err != nil || e.Backoff <= 0 {
			c.errs.Add(me.Pos, "effect %s: retry.backoff %q is not a positive duration (like 500ms or 2s)", name, me.Retry.Backoff)
		}
		var evType reflect.Type
		for _, on := range me.On {
			et, _, ok := c.eventType(p, on, me.Pos)
			if !ok {
				continue
			}
			e.On[on] = true
			if len(me.On) == 1 {
				evType = et
			}
		}
		if evType == nil {
			evType = mapType // several event types: `event` is checked only at run time
		}
		ev := env{event: evType, vars: vars}
		if me.If != nil {
			e.cond, _ = c.compile(*me.If, ev, true)
		}
		if me.Send != nil {
			e.Send = c.sender(me.Send, ev, p)
			if me.Send.OnReject != nil {
				rej := ev
				rej.rejection = reflect.TypeOf(struct {
					Kind    string `expr:"kind"`
					Name    string `expr:"name"`
					Message string `expr:"message"`
				}{})
				e.Send.OnReject = c.sender(me.Send.OnReject, rej, p)
			}
		}
		if mw := me.HTTP; mw != nil {
			w := &Webhook{Method: mw.Method, URLEnv: mw.URLEnv, hasBody: mw.Body.Whole != nil || mw.Body.Fields != nil}
			if ev, ok := m.Env[mw.URLEnv]; !ok {
				c.errs.Add(mw.Pos, "effect %s: url.env %s is not declared in env", name, mw.URLEnv)
			} else if ev != nil && ev.Default != nil && *ev.Default != "" {
				// A default goes wherever the context is deployed: it must
				// pass the policy without the operator's exceptions, names
				// judged by their spelling. A private URL is set where it
				// is meant, through the environment, with the exception.
				var r *egress.Refusal
				if err := (egress.Policy{}).CheckURL(*ev.Default, true); errors.As(err, &r) {
					msg := r.Reason()
					if r.Allowable() {
						msg += fmt.Sprintf("; a default must be public (set a private URL through %s%s where the operator allows it)", manifest.EnvPrefix, mw.URLEnv)
					}
					c.errs.Add(ev.Pos, "env %s: its default, the URL of effect %s: %s", mw.URLEnv, name, msg)
				}
			}
			if w.Timeout, err = time.ParseDuration(mw.Timeout); err != nil || w.Timeout <= 0 {
				c.errs.Add(mw.Pos, "effect %s: timeout %q is not a positive duration", name, mw.Timeout)
			}
			for _, h := range mw.Headers {
				if x, _ := c.compile(h.Expr, ev, false); x != nil {
					w.headers = append(w.headers, shapeField{name: h.Name, expression: *x})
				}
			}
			w.body = c.shape(mw.Body, ev, schema{}, "body")
			e.HTTP = w
		}
		p.Effects[name] = e
		for on := range e.On {
			if p.effectsOn == nil {
				p.effectsOn = map[string][]string{}
			}
			p.effectsOn[on] = append(p.effectsOn[on], name)
		}
	}
	for _, names := range p.effectsOn {
		sort.Strings(names)
	}
}

// EffectsOn lists the effects an event type triggers, by name.
func (p *Program) EffectsOn(aggregate, event string) []string {
	return p.effectsOn[aggregate+"."+event]
}

// eventType resolves "aggregate.Event" to the typed payload of the event.
func (c *compiler) eventType(p *Program, ref string, pos manifest.Pos) (reflect.Type, *Aggregate, bool) {
	aggName, evName, ok := strings.Cut(ref, ".")
	a := p.Aggregates[aggName]
	if !ok || a == nil {
		c.errs.Add(pos, "%q names no aggregate (write aggregate.Event; the context has %s)", ref, strings.Join(sortedKeys(p.Aggregates), ", "))
		return nil, nil, false
	}
	if cur, renamed := a.aliases[evName]; renamed {
		c.errs.Add(pos, "%q: event %s was renamed to %s; write %s.%s", ref, evName, cur, aggName, cur)
		return nil, nil, false
	}
	if _, ok := a.Events[evName]; !ok {
		c.errs.Add(pos, "%q: aggregate %s has no event %s (it has %s)", ref, aggName, evName, strings.Join(sortedKeys(a.Events), ", "))
		return nil, nil, false
	}
	return a.eventTypes[evName], a, true
}

func (c *compiler) sender(ms *manifest.Send, e env, p *Program) *Sender {
	s := &Sender{Aggregate: ms.Aggregate, Command: ms.Command}
	a := p.Aggregates[ms.Aggregate]
	switch {
	case a == nil:
		c.errs.Add(ms.Pos, "send: unknown aggregate %s (the context has %s)", ms.Aggregate, strings.Join(sortedKeys(p.Aggregates), ", "))
	case a.Commands[ms.Command] == nil:
		c.errs.Add(ms.Pos, "send: aggregate %s has no command %s (it has %s)", ms.Aggregate, ms.Command, strings.Join(sortedKeys(a.Commands), ", "))
	}
	s.id, _ = c.compile(ms.ID, e, false)
	target := schema{}
	if a != nil && a.Commands[ms.Command] != nil {
		target = a.commandSchemas[ms.Command]
	}
	s.payload = c.shape(ms.Payload, e, target, "command "+ms.Command)
	return s
}

// varsType types `env` as the declared variables, all strings.
func (c *compiler) varsType(m *manifest.Manifest) reflect.Type {
	var fields []reflect.StructField
	for _, name := range sortedKeys(m.Env) {
		fields = append(fields, reflect.StructField{Name: fmt.Sprintf("F%d", len(fields)), Type: stringType, Tag: reflect.StructTag(fmt.Sprintf(`expr:%q`, name))})
	}
	return c.structType(fields, "env")
}

// stripPos drops positions from a definition before hashing it: moving a
// projection in its file does not change it.
func stripPos(on []manifest.ProjectionHandler) any {
	type field struct{ N, S string }
	type handler struct {
		E string
		D bool
		U []field
	}
	var out []handler
	for _, h := range on {
		hh := handler{E: h.Event, D: h.Delete}
		for _, f := range h.Upsert {
			hh.U = append(hh.U, field{f.Name, f.Expr.Src})
		}
		sort.Slice(hh.U, func(i, j int) bool { return hh.U[i].N < hh.U[j].N })
		out = append(out, hh)
	}
	return out
}

// tablesRead lists the projections whose names the SQL uses as words
// outside string literals: the tables it reads (a query reads projection
// tables only, which vet checks by preparing it against them).
func tablesRead[V any](sql string, projections map[string]V) []string {
	var out []string
	seen := map[string]bool{}
	word := func(w string) {
		if _, ok := projections[w]; ok && !seen[w] {
			seen[w] = true
			out = append(out, w)
		}
	}
	start := -1
	var quote byte
	for i := 0; i <= len(sql); i++ {
		var c byte
		if i < len(sql) {
			c = sql[i]
		}
		if quote != 0 {
			if c == quote {
				quote = 0
			}
			continue
		}
		ident := c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		switch {
		case ident && start < 0:
			start = i
		case !ident && start >= 0:
			word(strings.ToLower(sql[start:i]))
			start = -1
		}
		if c == '\'' {
			quote = c
		}
	}
	sort.Strings(out)
	return out
}

// Fill gives params (built by a look-up, typed already) with the
// defaults #params declares for the ones it lacks, validated.
func (q *Query) Fill(params map[string]any) (map[string]any, []Violation) {
	out := make(map[string]any, len(params))
	for k, v := range params {
		out[k] = v
	}
	for name, ps := range asMap(q.doc.doc["properties"]) {
		if _, ok := out[name]; !ok {
			if d, ok := asMap(ps)["default"]; ok {
				out[name] = normalizeNumber(d)
			}
		}
	}
	if vs := q.params.validate(out); len(vs) > 0 {
		return nil, vs
	}
	return out, nil
}
