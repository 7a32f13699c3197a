package lens

import (
	"fmt"
	"strconv"

	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/parser"
)

// Step is one lens in one direction.
type Step struct {
	// Fields are the field-wise expressions; ignored when Whole is set.
	Fields []Field
	// Whole is one expression giving the whole payload.
	Whole string
	// Carry names the fields of the step's output that a field-wise step
	// does not set: each is copied from the input when the input has it.
	Carry []string
}

// Field is one field-wise expression.
type Field struct {
	Name string
	Src  string
}

// CarryFunc is the name fused trees call to build a payload with carried
// fields: __lens_carry(n, "f1", v1, ..., "fn", vn, src1, ["k", ...], src2,
// [...], ...) is the map of the n fields set, plus srcN[k] for each key k
// of each source that holds it.
const CarryFunc = "__lens_carry"

const (
	eventVar  = "event"
	storedVar = "__lens0" // event, read once
)

// gen makes a fresh node each time it is called: checked trees are
// changed in place by expr, so no node may appear twice.
type gen func() ast.Node

// payload is the symbolic value of the payload after some steps, as
// expressions over the stored payload and earlier bindings.
type payload struct {
	whole  gen            // the payload is this value; nil when field-wise
	fields map[string]gen // set fields: always present
	order  []string       // of fields and carried, for determinism
	carry  map[string]gen // carried fields: present when this source has the key
}

type fuser struct {
	lets []*ast.VariableDeclaratorNode
	n    int
}

// Fuse composes steps, applied in order to `event`, into one tree giving
// the last step's output. No steps give `event` unchanged.
func Fuse(steps []Step) (*parser.Tree, error) {
	f := &fuser{}
	cur := &payload{whole: ident(eventVar)}
	for i, s := range steps {
		next, err := f.step(cur, s)
		if err != nil {
			return nil, fmt.Errorf("step %d: %w", i, err)
		}
		cur = next
	}
	root := f.materialize(cur)
	root = f.prune(root)
	for i := len(f.lets) - 1; i >= 0; i-- {
		l := f.lets[i]
		root = &ast.VariableDeclaratorNode{Name: l.Name, Value: l.Value, Expr: root}
	}
	// The stored payload is read from the environment once: a variable
	// is cheaper to load than a field of the environment, which expr
	// reads by reflection.
	uses := 0
	ast.Walk(&root, visitor(func(n *ast.Node) {
		if id, ok := (*n).(*ast.IdentifierNode); ok && id.Value == eventVar {
			uses++
			*n = &ast.IdentifierNode{Value: storedVar}
		}
	}))
	if uses > 0 {
		root = &ast.VariableDeclaratorNode{Name: storedVar, Value: &ast.IdentifierNode{Value: eventVar}, Expr: root}
	}
	return &parser.Tree{Node: root, Source: file.NewSource(root.String())}, nil
}

func (f *fuser) step(in *payload, s Step) (*payload, error) {
	bare := f.bareOnce(in)
	if s.Whole != "" {
		n, err := f.substitute(s.Whole, in, bare)
		if err != nil {
			return nil, err
		}
		return &payload{whole: f.bind(n)}, nil
	}
	out := &payload{fields: map[string]gen{}, carry: map[string]gen{}}
	for _, fd := range s.Fields {
		n, err := f.substitute(fd.Src, in, bare)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", fd.Name, err)
		}
		out.fields[fd.Name] = f.bind(n)
		out.order = append(out.order, fd.Name)
	}
	for _, k := range s.Carry {
		if _, set := out.fields[k]; set {
			continue
		}
		switch {
		case in.whole != nil:
			out.carry[k] = in.whole
		case in.fields[k] != nil:
			out.fields[k] = in.fields[k]
		case in.carry[k] != nil:
			out.carry[k] = in.carry[k]
		default:
			continue // absent before, absent after
		}
		out.order = append(out.order, k)
	}
	return out, nil
}

// bareOnce returns the input payload as one value, bound at first use:
// what a step sees as a bare `event` (len(event), event[k], merge(event, ...)).
func (f *fuser) bareOnce(in *payload) gen {
	if in.whole != nil {
		return in.whole
	}
	var g gen
	return func() ast.Node {
		if g == nil {
			g = f.let(f.materialize(in))
		}
		return g()
	}
}

// substitute parses src and replaces its references to `event`.
func (f *fuser) substitute(src string, in *payload, bare gen) (ast.Node, error) {
	tree, err := parser.Parse(src)
	if err != nil {
		return nil, err
	}
	// event.k: the expression the input gives k; any other use of event:
	// the whole input.
	owned := map[*ast.IdentifierNode]bool{}
	ast.Walk(&tree.Node, visitor(func(n *ast.Node) {
		if m, ok := (*n).(*ast.MemberNode); ok {
			if id, k := staticMember(m); id != nil && k != "" && id.Value == eventVar {
				owned[id] = true
			}
		}
	}))
	ast.Walk(&tree.Node, visitor(func(n *ast.Node) {
		switch x := (*n).(type) {
		case *ast.MemberNode:
			if id, k := staticMember(x); id != nil && owned[id] {
				*n = field(in, k)
			}
		case *ast.IdentifierNode:
			if x.Value == eventVar && !owned[x] {
				*n = bare()
			}
		}
	}))
	return tree.Node, nil
}

// field is the expression giving key k of the payload in.
func field(in *payload, k string) ast.Node {
	switch {
	case in.whole != nil:
		return member(in.whole(), k)
	case in.fields[k] != nil:
		return in.fields[k]()
	case in.carry[k] != nil:
		return member(in.carry[k](), k)
	}
	return &ast.NilNode{}
}

// materialize builds the payload in as one value.
func (f *fuser) materialize(in *payload) ast.Node {
	if in.whole != nil {
		return in.whole()
	}
	var set []string
	var sources []string // carried fields by source, in order of first use
	keys := map[string]*ast.ArrayNode{}
	for _, k := range in.order {
		if in.fields[k] != nil {
			set = append(set, k)
			continue
		}
		src := in.carry[k]().(*ast.IdentifierNode).Value // event or a binding
		if keys[src] == nil {
			keys[src] = &ast.ArrayNode{}
			sources = append(sources, src)
		}
		keys[src].Nodes = append(keys[src].Nodes, &ast.StringNode{Value: k})
	}
	if len(sources) == 0 {
		m := &ast.MapNode{}
		for _, k := range set {
			m.Pairs = append(m.Pairs, &ast.PairNode{Key: &ast.StringNode{Value: k}, Value: in.fields[k]()})
		}
		return m
	}
	args := []ast.Node{&ast.IntegerNode{Value: len(set)}}
	for _, k := range set {
		args = append(args, &ast.StringNode{Value: k}, in.fields[k]())
	}
	for _, src := range sources {
		args = append(args, &ast.IdentifierNode{Value: src}, keys[src])
	}
	return &ast.CallNode{Callee: &ast.IdentifierNode{Value: CarryFunc}, Arguments: args}
}

// bind returns a generator for n: n itself when it is cheap to repeat,
// else a let binding (inlined again if used once).
func (f *fuser) bind(n ast.Node) gen {
	if g := trivial(n); g != nil {
		return g
	}
	return f.let(n)
}

func (f *fuser) let(n ast.Node) gen {
	f.n++
	name := "__lens" + strconv.Itoa(f.n)
	f.lets = append(f.lets, &ast.VariableDeclaratorNode{Name: name, Value: n})
	return ident(name)
}

// prune drops unused bindings and inlines those used once, last first
// (a binding is used only after it).
func (f *fuser) prune(root ast.Node) ast.Node {
	for i := len(f.lets) - 1; i >= 0; i-- {
		name := f.lets[i].Name
		var uses []*ast.Node
		scan := func(n *ast.Node) {
			ast.Walk(n, visitor(func(n *ast.Node) {
				if id, ok := (*n).(*ast.IdentifierNode); ok && id.Value == name {
					uses = append(uses, n)
				}
			}))
		}
		scan(&root)
		for _, l := range f.lets[i+1:] {
			scan(&l.Value)
		}
		switch len(uses) {
		case 0:
		case 1:
			*uses[0] = f.lets[i].Value
		default:
			continue
		}
		f.lets = append(f.lets[:i], f.lets[i+1:]...)
	}
	return root
}

// trivial returns a generator of copies of n when n is a literal, a
// variable or a field of a variable.
func trivial(n ast.Node) gen {
	switch x := n.(type) {
	case *ast.NilNode:
		return func() ast.Node { return &ast.NilNode{} }
	case *ast.BoolNode:
		v := x.Value
		return func() ast.Node { return &ast.BoolNode{Value: v} }
	case *ast.IntegerNode:
		v := x.Value
		return func() ast.Node { return &ast.IntegerNode{Value: v} }
	case *ast.FloatNode:
		v := x.Value
		return func() ast.Node { return &ast.FloatNode{Value: v} }
	case *ast.StringNode:
		v := x.Value
		return func() ast.Node { return &ast.StringNode{Value: v} }
	case *ast.IdentifierNode:
		return ident(x.Value)
	case *ast.MemberNode:
		if id, k := staticMember(x); id != nil && k != "" {
			name := id.Value
			return func() ast.Node { return member(&ast.IdentifierNode{Value: name}, k) }
		}
	}
	return nil
}

// staticMember matches ident.k and ident["k"].
func staticMember(m *ast.MemberNode) (*ast.IdentifierNode, string) {
	id, ok := m.Node.(*ast.IdentifierNode)
	if !ok || m.Method {
		return nil, ""
	}
	k, ok := m.Property.(*ast.StringNode)
	if !ok {
		return nil, ""
	}
	if id.Value != eventVar && !isLet(id.Value) {
		return nil, ""
	}
	return id, k.Value
}

func isLet(name string) bool { return len(name) > 6 && name[:6] == "__lens" }

func ident(name string) gen {
	return func() ast.Node { return &ast.IdentifierNode{Value: name} }
}

// member reads key k of n: nil when the map n has no such key, as event.k
// does.
func member(n ast.Node, k string) ast.Node {
	return &ast.MemberNode{Node: n, Property: &ast.StringNode{Value: k}}
}

type visitor func(*ast.Node)

func (v visitor) Visit(n *ast.Node) { v(n) }
