package interpreter

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"

	"github.com/cuesource/cuesource/manifest"
)

// A context's declared metadata (auth's meta, a command's meta): further
// fields every event records beside its actor, correlation and causation,
// from cmd and caller. Expressions read them as meta.<name>: metaPatch
// rewrites meta.<name> to meta.declared.<name> for the names the context
// declares, so Meta stays one type and vet types each name (by the
// context's expression; one only commands declare reads as any).

// metaNames are Meta's own fields, which a declared name cannot be.
var metaNames = []string{"aggregate", "aggregateId", "version", "command", "commandId", "eventId", "eventType",
	"position", "timestamp", "actor", "correlationId", "causationId", "declared"}

// metaPatch rewrites meta.<name> of a declared name to meta.declared.<name>.
type metaPatch struct{ names map[string]bool }

func (p metaPatch) Visit(node *ast.Node) {
	m, ok := (*node).(*ast.MemberNode)
	if !ok {
		return
	}
	id, ok := m.Node.(*ast.IdentifierNode)
	prop, ok2 := m.Property.(*ast.StringNode)
	if !ok || !ok2 || id.Value != "meta" || !p.names[prop.Value] {
		return
	}
	ast.Patch(node, &ast.MemberNode{
		Node:     &ast.MemberNode{Node: &ast.IdentifierNode{Value: "meta"}, Property: &ast.StringNode{Value: "declared"}},
		Property: &ast.StringNode{Value: prop.Value}, Optional: m.Optional,
	})
}

// metaOptions are the compile options of the context's declared
// metadata: none when it declares none.
func (c *compiler) metaOptions() []expr.Option {
	if len(c.declared) == 0 {
		return nil
	}
	return []expr.Option{expr.Patch(metaPatch{names: c.declared})}
}

// declaredField is one declared metadata field.
type declaredField struct {
	name string
	x    *expression
}

// declaredMeta reads the names the context declares, before any
// expression that may read them is compiled, and checks them; with vet,
// it types them (the context's expressions, over caller and an untyped
// cmd) as meta's declared fields.
func (c *compiler) declaredMeta(m *manifest.Manifest) []declaredField {
	if m.Auth == nil {
		return nil
	}
	c.declared = map[string]bool{}
	check := func(fs []manifest.Field) {
		for _, f := range fs {
			if slices.Contains(metaNames, f.Name) {
				c.errs.Add(f.Expr.Pos, "meta: %s is one of meta's own fields (%s), which a declared name cannot be", f.Name, strings.Join(metaNames, ", "))
				continue
			}
			c.declared[f.Name] = true
		}
	}
	check(m.Auth.Meta)
	for _, ar := range m.Auth.Aggregates {
		for _, cr := range ar.Commands {
			check(cr.Meta)
		}
	}
	var out []declaredField
	types := map[string]reflect.Type{}
	for _, f := range m.Auth.Meta {
		if !c.declared[f.Name] {
			continue
		}
		x, t := c.compile(f.Expr, env{caller: c.caller, cmd: c.typeOf(schema{}, "cmd")}, false)
		if x != nil {
			out = append(out, declaredField{name: f.Name, x: x})
			types[f.Name] = t
		}
	}
	if c.structs != nil && len(c.declared) > 0 {
		var fields []reflect.StructField
		for _, name := range sortedKeys(c.declared) {
			t := types[name]
			if t == nil {
				t = anyType
			}
			fields = append(fields, reflect.StructField{Name: exported(name), Type: t, Tag: reflect.StructTag(`expr:"` + name + `"`)})
		}
		declared := c.structType(fields, "meta (declared)")
		var all []reflect.StructField
		for _, f := range reflect.VisibleFields(metaType) {
			if f.Name == "Declared" {
				f.Type = declared
			}
			f.Index, f.Offset = nil, 0
			all = append(all, f)
		}
		c.metaType = c.structType(all, "meta")
	}
	return out
}

func exported(name string) string { return "X" + name }

// Declared evaluates the declared metadata of a command of aggregate for
// the caller and cmd in env: the context's and the command's own (which
// win); a field that cannot be evaluated (a claim the caller lacks) is
// null. Nil when the context declares none.
func (a *Auth) Declared(aggregate, command string, env *Env) map[string]any {
	var own []declaredField
	if ar := a.aggregates[aggregate]; ar != nil {
		if cr := ar.commands[command]; cr != nil {
			own = cr.meta
		}
	}
	if len(a.meta) == 0 && len(own) == 0 {
		return nil
	}
	out := map[string]any{}
	for _, fs := range [][]declaredField{a.meta, own} {
		for _, f := range fs {
			v, err := f.x.run(env)
			if err != nil {
				v = nil
			}
			out[f.name] = v
		}
	}
	return out
}

// MarshalJSON writes the recorded fields and the declared ones beside
// them, as one object: what an event's meta holds.
func (r Recorded) MarshalJSON() ([]byte, error) {
	type plain Recorded
	b, err := json.Marshal(plain(r))
	if err != nil || len(r.Declared) == 0 {
		return b, err
	}
	extra, err := json.Marshal(r.Declared)
	if err != nil {
		return nil, err
	}
	return append(append(b[:len(b)-1], ','), extra[1:]...), nil
}

// UnmarshalJSON reads an event's meta: the recorded fields, and every
// other as declared.
func (r *Recorded) UnmarshalJSON(data []byte) error {
	type plain Recorded
	if err := json.Unmarshal(data, (*plain)(r)); err != nil {
		return err
	}
	var all map[string]any
	if err := json.Unmarshal(data, &all); err != nil {
		return err
	}
	delete(all, "actor")
	delete(all, "correlationId")
	delete(all, "causationId")
	r.Declared = nil
	if len(all) > 0 {
		r.Declared = all
	}
	return nil
}
