package compiler

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"time"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/ast"
	"cuelang.org/go/encoding/jsonschema"

	"github.com/cuesource/cuesource/diag"
	"github.com/cuesource/cuesource/manifest"
	"github.com/cuesource/cuesource/retention"
)

// Compile loads the context at path (a .cue file or a package directory) and
// returns its manifest. Errors are a diag.List holding every CUE error found.
func Compile(path string) (*manifest.Manifest, error) {
	s, err := loadContext(path)
	if err != nil {
		return nil, err
	}
	c := &compilation{source: s}
	m := c.manifest(s.value)
	if _, err := retention.Of(m); err != nil {
		c.errs = append(c.errs, err.(diag.List)...)
	}
	c.errs.Sort()
	if err := c.errs.Err(); err != nil {
		return nil, err
	}
	return m, nil
}

// Marshal encodes a manifest as indented, deterministic JSON.
func Marshal(m *manifest.Manifest) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(m); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

type compilation struct {
	*source
	errs diag.List
}

func (c *compilation) fail(v cue.Value, format string, args ...any) {
	c.errs.Add(c.at(v), format, args...)
}

func (c *compilation) manifest(v cue.Value) *manifest.Manifest {
	m := &manifest.Manifest{ManifestVersion: manifest.Version, Aggregates: map[string]*manifest.Aggregate{}}
	m.Name, _ = v.LookupPath(cue.ParsePath("name")).String()
	for name, av := range fields(v.LookupPath(cue.ParsePath("aggregates"))) {
		m.Aggregates[name] = c.aggregate(av)
	}
	for name, sv := range fields(v.LookupPath(cue.ParsePath("scenarios"))) {
		m.Scenarios = append(m.Scenarios, c.scenario(name, sv))
	}
	c.readSide(m, v)
	m.Retention = c.retention(v.LookupPath(cue.ParsePath("retention")))
	c.auth(m, v)
	return m
}

// retention reads a `retention` block; nil when absent, so a context
// without one compiles to the manifest it always did.
func (c *compilation) retention(v cue.Value) *manifest.Retention {
	if !v.Exists() {
		return nil
	}
	r := &manifest.Retention{Pos: c.at(v)}
	if kv := v.LookupPath(cue.ParsePath("keepFor")); kv.Exists() {
		r.KeepFor, _ = kv.String()
	}
	r.KeepLast, _ = v.LookupPath(cue.ParsePath("keepLast")).Int64()
	r.SinceSnapshot, _ = v.LookupPath(cue.ParsePath("sinceSnapshot")).Bool()
	r.HotBytes, _ = v.LookupPath(cue.ParsePath("hotBytes")).Int64()
	return r
}

func (c *compilation) aggregate(v cue.Value) *manifest.Aggregate {
	a := &manifest.Aggregate{
		State:    c.schema(v.LookupPath(cue.MakePath(cue.Def("state")))),
		Initial:  c.json(v.LookupPath(cue.ParsePath("initial"))),
		Commands: map[string]*manifest.Command{},
		Events:   map[string]*manifest.Event{},
		Pos:      c.at(v),
	}
	for name, cv := range fields(v.LookupPath(cue.ParsePath("commands"))) {
		cmd := &manifest.Command{
			Payload: c.schema(cv.LookupPath(cue.MakePath(cue.Def("payload")))),
			Pos:     c.at(cv),
			Emit:    []manifest.Emit{},
		}
		if im, _ := cv.LookupPath(cue.ParsePath("ifMatch")).String(); im == "required" {
			cmd.IfMatch = im
		}
		iv := cv.LookupPath(cue.ParsePath("instance"))
		cmd.Instance, _ = iv.String()
		switch cmd.Instance {
		case manifest.InstanceExisting, manifest.InstanceNew, manifest.InstanceAny:
		default:
			c.fail(iv, "instance must be %q, %q or %q, not %q", manifest.InstanceExisting, manifest.InstanceNew, manifest.InstanceAny, cmd.Instance)
		}
		cmd.Require = c.named(cv.LookupPath(cue.ParsePath("require")))
		cmd.Lookup = c.lookups(cv.LookupPath(cue.ParsePath("lookup")))
		emit := cv.LookupPath(cue.ParsePath("emit"))
		if len(items(emit)) == 0 {
			c.fail(emit, "command %s emits no event: list at least one", name)
		}
		list, _ := emit.List()
		for list.Next() {
			ev := list.Value()
			name := ev.LookupPath(cue.ParsePath("event"))
			e := manifest.Emit{Pos: c.at(name), Payload: c.shape(ev.LookupPath(cue.ParsePath("payload")))}
			e.Event, _ = name.String()
			if iv := ev.LookupPath(cue.ParsePath("if")); iv.Exists() {
				x := c.expr(iv)
				e.If = &x
			}
			cmd.Emit = append(cmd.Emit, e)
		}
		a.Commands[name] = cmd
	}
	for name, ev := range fields(v.LookupPath(cue.ParsePath("events"))) {
		e := &manifest.Event{
			Payload: c.schema(ev.LookupPath(cue.MakePath(cue.Def("payload")))),
			Apply:   c.shape(ev.LookupPath(cue.ParsePath("apply"))),
			Pos:     c.at(ev),
		}
		for _, av := range items(ev.LookupPath(cue.ParsePath("aliases"))) {
			al := manifest.Alias{Pos: c.at(av)}
			al.Name, _ = av.String()
			e.Aliases = append(e.Aliases, al)
		}
		for _, lv := range items(ev.LookupPath(cue.ParsePath("lenses"))) {
			l := manifest.Lens{
				From: c.schema(lv.LookupPath(cue.MakePath(cue.Def("from")))),
				Up:   c.shape(lv.LookupPath(cue.ParsePath("up"))),
				Pos:  c.at(lv),
			}
			if dv := lv.LookupPath(cue.ParsePath("down")); dv.Exists() {
				d := c.shape(dv)
				l.Down = &d
			}
			e.Lenses = append(e.Lenses, l)
		}
		a.Events[name] = e
	}
	a.Invariants = c.named(v.LookupPath(cue.ParsePath("invariants")))
	a.Retention = c.retention(v.LookupPath(cue.ParsePath("retention")))
	a.Snapshots = c.snapshots(v)
	a.Unique = c.unique(v.LookupPath(cue.ParsePath("unique")))
	if nv := v.LookupPath(cue.ParsePath("newId")); nv.Exists() {
		x := c.expr(nv)
		a.NewID = &x
	}
	return a
}

// unique reads an aggregate's unique constraints, sorted by name.
func (c *compilation) unique(v cue.Value) []manifest.Unique {
	var out []manifest.Unique
	for name, uv := range fields(v) {
		u := manifest.Unique{Name: name, Key: c.expr(uv.LookupPath(cue.ParsePath("key"))), Pos: c.at(uv)}
		u.ClaimedBy = c.strings(uv.LookupPath(cue.ParsePath("claimedBy")))
		u.ReleasedBy = c.strings(uv.LookupPath(cue.ParsePath("releasedBy")))
		out = append(out, u)
	}
	slices.SortFunc(out, func(a, b manifest.Unique) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// lookups reads a command's lookups, sorted by name.
func (c *compilation) lookups(v cue.Value) []manifest.Lookup {
	var out []manifest.Lookup
	for name, lv := range fields(v) {
		l := manifest.Lookup{Name: name, Pos: c.at(lv)}
		if qv := lv.LookupPath(cue.ParsePath("query")); qv.Exists() {
			l.Query, _ = qv.String()
			for pn, pv := range fields(lv.LookupPath(cue.ParsePath("params"))) {
				l.Params = append(l.Params, manifest.Field{Name: pn, Expr: c.expr(pv)})
			}
			slices.SortFunc(l.Params, func(a, b manifest.Field) int { return strings.Compare(a.Name, b.Name) })
		} else {
			l.Aggregate, _ = lv.LookupPath(cue.ParsePath("aggregate")).String()
			x := c.expr(lv.LookupPath(cue.ParsePath("id")))
			l.ID = &x
		}
		out = append(out, l)
	}
	slices.SortFunc(out, func(a, b manifest.Lookup) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// strings reads a list of strings.
func (c *compilation) strings(v cue.Value) []string {
	var out []string
	for _, iv := range items(v) {
		s, err := iv.String()
		if err != nil {
			c.fail(iv, "expected a string: %v", err)
			continue
		}
		out = append(out, s)
	}
	return out
}

// snapshots reads v's snapshots, nil when it declares none. The schema
// bounds every; the interpreter checks it again for a manifest written
// by hand.
func (c *compilation) snapshots(v cue.Value) *manifest.Snapshots {
	sv := v.LookupPath(cue.ParsePath("snapshots"))
	if !sv.Exists() {
		return nil
	}
	ev := sv.LookupPath(cue.ParsePath("every"))
	n, err := ev.Int64()
	if err != nil {
		c.fail(ev, "snapshots.every must be a whole number above 0: %v", err)
	}
	return &manifest.Snapshots{Every: int(n), Pos: c.at(ev)}
}

func (c *compilation) scenario(name string, v cue.Value) *manifest.Scenario {
	s := &manifest.Scenario{Name: name, Pos: c.at(v)}
	s.Aggregate, _ = v.LookupPath(cue.ParsePath("aggregate")).String()
	s.ID, _ = v.LookupPath(cue.ParsePath("id")).String()
	for _, gv := range items(v.LookupPath(cue.ParsePath("given"))) {
		s.Given = append(s.Given, c.item(gv, "event"))
	}
	when := v.LookupPath(cue.ParsePath("when"))
	if when.IncompleteKind() == cue.ListKind {
		for _, wv := range items(when) {
			it := c.item(wv, "command")
			s.When = append(s.When, manifest.WhenItem{Command: it.Event, Payload: it.Payload, At: it.At, As: it.As, Pos: it.Pos})
		}
	} else {
		it := c.item(when, "command")
		s.When = []manifest.WhenItem{{Command: it.Event, Payload: it.Payload, At: it.At, As: it.As, Pos: it.Pos}}
	}
	if av := v.LookupPath(cue.ParsePath("as")); av.Exists() {
		s.As = c.json(av)
	}
	then := v.LookupPath(cue.ParsePath("then"))
	if ev := then.LookupPath(cue.ParsePath("events")); ev.Exists() {
		s.Then.Events = []manifest.GivenItem{}
		for _, iv := range items(ev) {
			s.Then.Events = append(s.Then.Events, c.item(iv, "event"))
		}
	}
	s.Then.Pos = c.at(then)
	if sv := then.LookupPath(cue.ParsePath("state")); sv.Exists() {
		s.Then.State = c.json(sv)
		s.Then.StatePos = c.at(sv)
	}
	if ev := then.LookupPath(cue.ParsePath("error")); ev.Exists() {
		s.Then.Error, _ = ev.String()
		s.Then.Pos = c.at(ev)
	}
	for name, qv := range fields(then.LookupPath(cue.ParsePath("query"))) {
		q := manifest.QueryThen{Name: name, Pos: c.at(qv), Rows: []json.RawMessage{}}
		if pv := qv.LookupPath(cue.ParsePath("params")); pv.Exists() {
			q.Params = c.json(pv)
		}
		for _, rv := range items(qv.LookupPath(cue.ParsePath("rows"))) {
			q.Rows = append(q.Rows, c.json(rv))
			q.RowPos = append(q.RowPos, c.at(rv))
		}
		s.Then.Queries = append(s.Then.Queries, q)
	}
	for name, pv := range fields(then.LookupPath(cue.ParsePath("projection"))) {
		pt := manifest.ProjectionThen{Name: name, Pos: c.at(pv)}
		pt.Key, _ = pv.LookupPath(cue.ParsePath("key")).String()
		rv := pv.LookupPath(cue.ParsePath("row"))
		pt.Row, pt.RowPos = c.json(rv), c.at(rv)
		s.Then.Projections = append(s.Then.Projections, pt)
	}
	return s
}

// item reads {<label>: name, payload: {...}}; an absent payload stays nil.
func (c *compilation) item(v cue.Value, label string) manifest.GivenItem {
	var it manifest.GivenItem
	lv := v.LookupPath(cue.ParsePath(label))
	it.Event, _ = lv.String()
	it.Pos = c.at(lv)
	if label == "event" {
		// Another instance's event (given only; vet refuses them in then).
		it.Aggregate, _ = v.LookupPath(cue.ParsePath("aggregate")).String()
		it.ID, _ = v.LookupPath(cue.ParsePath("id")).String()
	}
	if av := v.LookupPath(cue.ParsePath("as")); av.Exists() {
		it.As = c.json(av)
	}
	if pv := v.LookupPath(cue.ParsePath("payload")); pv.Exists() {
		it.Payload = c.json(pv)
	}
	if av := v.LookupPath(cue.ParsePath("at")); av.Exists() {
		s, _ := av.String()
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			c.fail(av, "at must be an RFC 3339 time: %v", err)
		} else {
			t = t.UTC()
			it.At = &t
		}
	}
	if vv := v.LookupPath(cue.ParsePath("version")); vv.Exists() {
		n, err := vv.Int64()
		if err != nil {
			c.fail(vv, "version must be an integer: %v", err)
		}
		version := int(n)
		it.Version = &version
	}
	return it
}

// named reads a struct of named expressions, in declaration order.
func (c *compilation) named(v cue.Value) []manifest.Named {
	var out []manifest.Named
	for name, ev := range fields(v) {
		if ev.IncompleteKind() == cue.StructKind {
			// {check, status}: a guard with a status of its own.
			n := manifest.Named{Name: name, Expr: c.expr(ev.LookupPath(cue.ParsePath("check")))}
			if st, err := ev.LookupPath(cue.ParsePath("status")).Int64(); err == nil && st != 422 {
				n.Status = int(st)
			}
			out = append(out, n)
			continue
		}
		out = append(out, manifest.Named{Name: name, Expr: c.expr(ev)})
	}
	return out
}

// shape reads either one expression or a struct of field expressions.
func (c *compilation) shape(v cue.Value) manifest.Shape {
	if !v.Exists() {
		return manifest.Shape{}
	}
	if v.IncompleteKind() == cue.StringKind {
		x := c.expr(v)
		return manifest.Shape{Whole: &x}
	}
	var s manifest.Shape
	for name, fv := range fields(v) {
		s.Fields = append(s.Fields, manifest.Field{Name: name, Expr: c.expr(fv)})
	}
	if s.Fields == nil {
		s.Fields = []manifest.Field{}
	}
	return s
}

func (c *compilation) expr(v cue.Value) manifest.Expr {
	src, err := v.String()
	if err != nil {
		c.fail(v, "expected an expression string: %v", err)
	}
	p := c.exprPos(v.Pos())
	p.Path = path(v)
	return manifest.Expr{Src: src, Pos: p}
}

// at is where v was written by the user. A struct unified with the schema
// may report the schema's position; then the first field the user wrote
// stands for it.
func (c *compilation) at(v cue.Value) manifest.Pos {
	p := c.userPos(v)
	p.Path = path(v)
	return p
}

func (c *compilation) userPos(v cue.Value) manifest.Pos {
	if p := v.Pos(); p.IsValid() && !isSchemaFile(p.Filename()) {
		return c.pos(p)
	}
	if n := v.Source(); n != nil {
		if p := n.Pos(); p.IsValid() && !isSchemaFile(p.Filename()) {
			return c.pos(p)
		}
	}
	if op, args := v.Expr(); op == cue.AndOp {
		for _, x := range args {
			if p := x.Pos(); p.IsValid() && !isSchemaFile(p.Filename()) {
				return c.pos(p)
			}
		}
	}
	for _, f := range fields(v) {
		if p := c.userPos(f); p.File != "" {
			return p
		}
	}
	for _, e := range items(v) {
		if p := c.userPos(e); p.File != "" {
			return p
		}
	}
	return manifest.Pos{}
}

func isSchemaFile(name string) bool {
	return name == "schema.cue" || strings.HasSuffix(name, "/schema/schema.cue")
}

// path spells v's path from the context root, as users write it.
func path(v cue.Value) string {
	return strings.TrimPrefix(v.Path().String(), "#Context.")
}

// json encodes a concrete value with sorted keys.
func (c *compilation) json(v cue.Value) json.RawMessage {
	data, err := v.MarshalJSON()
	if err != nil {
		c.fail(v, "must be concrete data: %v", err)
		return json.RawMessage("null")
	}
	return canonical(data)
}

// schema generates JSON Schema 2020-12 for a CUE definition.
func (c *compilation) schema(v cue.Value) json.RawMessage {
	orig := v
	v, _ = v.Default() // an absent #payload defaults to {}
	if st, err := v.Fields(cue.Optional(true), cue.Definitions(true)); err == nil && !st.Next() && v.IncompleteKind() == cue.StructKind {
		return json.RawMessage(`{"additionalProperties":false,"type":"object"}`)
	}
	expr, err := jsonschema.Generate(v, nil)
	if err != nil {
		c.fail(v, "cannot generate JSON Schema: %v", err)
		return json.RawMessage(`{}`)
	}
	oneDescription(expr)
	data, err := c.ctx.BuildExpr(expr).MarshalJSON()
	if err != nil {
		c.fail(v, "cannot encode JSON Schema: %v", err)
		return json.RawMessage(`{}`)
	}
	var doc map[string]any
	if json.Unmarshal(data, &doc) == nil {
		// The top-level description is the schema's own doc comment.
		delete(doc, "description")
		delete(doc, "$schema")
		defs, _ := doc["$defs"].(map[string]any)
		delete(doc, "$defs")
		inlined, recursive := inline(doc, defs, 0)
		if recursive {
			inlined.(map[string]any)["$defs"] = defs
		}
		c.defaults(orig, inlined.(map[string]any))
		data, _ = json.Marshal(inlined)
	}
	return canonical(data)
}

// oneDescription keeps the last description of each schema object. A doc
// comment the user writes above a field the schema also documents (#state,
// #payload, #from) gives Generate two descriptions, which would not unify;
// the last one holds both comments.
func oneDescription(expr ast.Expr) {
	ast.Walk(expr, func(n ast.Node) bool {
		st, ok := n.(*ast.StructLit)
		if !ok {
			return true
		}
		last := -1
		for i, d := range st.Elts {
			if f, ok := d.(*ast.Field); ok {
				if name, _, _ := ast.LabelName(f.Label); name == "description" {
					if last >= 0 {
						st.Elts[last] = nil
					}
					last = i
				}
			}
		}
		st.Elts = slices.DeleteFunc(st.Elts, func(d ast.Decl) bool { return d == nil })
		return true
	}, nil)
}

// defaults restores what Generate drops for a top-level field with a CUE
// default (`limit: int & >0 & <=100 | *20` comes out as a bare integer):
// the field's schema is generated again from its expression, which keeps
// the bounds, and the default is recorded as "default" (query parameters
// take their defaults from it).
func (c *compilation) defaults(v cue.Value, doc map[string]any) {
	props, _ := doc["properties"].(map[string]any)
	it, err := v.Fields(cue.Optional(true))
	if err != nil {
		return
	}
	for it.Next() {
		name := it.Selector().Unquoted()
		fv := it.Value()
		d, ok := fv.Default()
		if !ok || props == nil {
			continue
		}
		def, err := d.MarshalJSON()
		if err != nil {
			continue
		}
		ps, _ := props[name].(map[string]any)
		if ps == nil {
			continue
		}
		// The field's expression, not its evaluated value, still holds the
		// constraints beside the default.
		src := fv
		if op, alts := fv.Expr(); op == cue.NoOp && len(alts) == 1 {
			src = alts[0]
		} else if op == cue.OrOp {
			for _, a := range alts {
				if !a.IsConcrete() {
					src = a
					break
				}
			}
		}
		if expr, err := jsonschema.Generate(src, nil); err == nil {
			if raw, err := c.ctx.BuildExpr(expr).MarshalJSON(); err == nil {
				var alt map[string]any
				if json.Unmarshal(raw, &alt) == nil && len(alt) > 1 {
					delete(alt, "$schema")
					// The field's own generation names the definitions it
					// uses ([...#Line] as items: {$ref}) in $defs of its
					// own: inline them as the whole schema's are.
					defs, _ := alt["$defs"].(map[string]any)
					delete(alt, "$defs")
					inlined, recursive := inline(alt, defs, 0)
					if recursive {
						c.fail(fv, "a recursive definition in a field with a default is not supported")
					}
					ps = inlined.(map[string]any)
				}
			}
		}
		var dv any
		_ = json.Unmarshal(def, &dv)
		ps["default"] = dv
		props[name] = ps
	}
}

// inline replaces references to $defs with the definitions they name, so
// every schema in a manifest stands alone. CUE generates an embedded
// definition ({#Line, sku: string}) as a $ref beside closed properties,
// which JSON Schema reads as two closed objects that no document satisfies;
// merging the properties gives the meaning CUE has. Recursive definitions
// stay references (recursive reports whether any remain).
func inline(x any, defs map[string]any, depth int) (out any, recursive bool) {
	switch v := x.(type) {
	case []any:
		res := make([]any, len(v))
		for i, e := range v {
			var r bool
			res[i], r = inline(e, defs, depth)
			recursive = recursive || r
		}
		return res, recursive
	case map[string]any:
		res := make(map[string]any, len(v))
		for k, e := range v {
			var r bool
			res[k], r = inline(e, defs, depth)
			recursive = recursive || r
		}
		ref, ok := res["$ref"].(string)
		if !ok {
			return res, recursive
		}
		def, ok := defs[strings.TrimPrefix(ref, "#/$defs/")].(map[string]any)
		if !ok || depth > 16 {
			return res, true
		}
		delete(res, "$ref")
		target, r := inline(def, defs, depth+1)
		recursive = recursive || r
		return mergeSchema(target.(map[string]any), res), recursive
	}
	return x, false
}

// mergeSchema merges an inlined definition with the keywords beside its
// reference: properties and required are united, and the siblings win on
// everything else (notably additionalProperties, which CUE sets from the
// closedness of the whole struct).
func mergeSchema(def, sib map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range def {
		if k != "description" {
			out[k] = v
		}
	}
	for k, v := range sib {
		switch k {
		case "properties":
			props := map[string]any{}
			for pk, pv := range asMap(out["properties"]) {
				props[pk] = pv
			}
			for pk, pv := range asMap(v) {
				props[pk] = pv
			}
			out[k] = props
		case "required":
			seen := map[string]bool{}
			var req []any
			for _, list := range []any{out["required"], v} {
				l, _ := list.([]any)
				for _, r := range l {
					if s, ok := r.(string); ok && !seen[s] {
						seen[s] = true
						req = append(req, s)
					}
				}
			}
			out[k] = req
		default:
			out[k] = v
		}
	}
	return out
}

func asMap(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

// canonical re-encodes JSON with sorted object keys and no HTML escaping,
// so manifests are byte-for-byte reproducible.
func canonical(data []byte) json.RawMessage {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var x any
	if err := dec.Decode(&x); err != nil {
		return data
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(x); err != nil {
		return data
	}
	return bytes.TrimRight(b.Bytes(), "\n")
}

// fields iterates over the regular fields of a struct in declaration order.
func fields(v cue.Value) func(yield func(string, cue.Value) bool) {
	return func(yield func(string, cue.Value) bool) {
		if !v.Exists() {
			return
		}
		it, err := v.Fields()
		if err != nil {
			return
		}
		for it.Next() {
			name := it.Selector().Unquoted()
			if !yield(name, it.Value()) {
				return
			}
		}
	}
}

func items(v cue.Value) []cue.Value {
	if !v.Exists() {
		return nil
	}
	it, err := v.List()
	if err != nil {
		return nil
	}
	var out []cue.Value
	for it.Next() {
		out = append(out, it.Value())
	}
	return out
}
