package interpreter

import (
	"fmt"
	"math/bits"
	"reflect"
	"regexp"
	"sync"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/builtin"
	"github.com/expr-lang/expr/vm/runtime"
)

// Metering. The run-time compile rewrites every operation whose cost grows
// with its input into a call that first charges the evaluation's Budget
// (the `_budget_` field of Env) and then does what expr would have done:
//
//   - builtins that build or scan strings and lists (`upper(s)` becomes
//     `_upper_(_budget_, s)`), and the standard library's set, unset,
//     merge and append;
//   - `+` unless an operand is a number, `==` and `!=` between two values
//     that are not literals, `in`, and the string operators;
//   - each iteration of a closure (`all`, `map`, `filter`, `reduce`, ...),
//     charged by the size of its body.
//
// The checking compile is not patched: vet's messages are about what the
// author wrote, and an author cannot name `_budget_`.
const budgetField = "_budget_"

// runOptions are the options of every run-time compile: the standard
// library, fast member access and metering, over Env.
func runOptions() []expr.Option {
	return append(append(append(stdlib(), fetchOptions()...), meterOptions()...), expr.Env(Env{}))
}

// meterOptions are the options of the run-time compile that meter it,
// made once.
var meterOptions = sync.OnceValue(func() []expr.Option {
	opts := []expr.Option{
		expr.Function("_tick_", tick, new(func(*Budget, int, any) any)),
		expr.Function("_add_", add, new(func(*Budget, any, any) any)),
		expr.Function("_eq_", eq, new(func(*Budget, any, any) bool)),
		expr.Function("_in_", in, new(func(*Budget, any, any) bool)),
		expr.Function("_scan_", scan, new(func(*Budget, any) any)),
		expr.Function("_sortscan_", sortScan, new(func(*Budget, any) any)),
		expr.Function("_matches_", matches, new(func(*Budget, any, any) bool)),
	}
	for _, f := range builtin.Builtins {
		if est, ok := builtinCost[f.Name]; ok {
			opts = append(opts, meteredBuiltin(f, est))
		}
	}
	for name, m := range meteredStdlib {
		opts = append(opts, expr.Function("_"+name+"_", m.fn, m.types...))
	}
	return append(opts, expr.Patch(meterPatch{}))
})

var budgetType = reflect.TypeOf((*Budget)(nil))

// budgetOf takes the Budget the patch passes as the first argument.
func budgetOf(args []any) (*Budget, []any, error) {
	b, ok := args[0].(*Budget)
	if !ok || b == nil {
		return nil, nil, errNoBudget
	}
	return b, args[1:], nil
}

func tick(args ...any) (any, error) {
	b, rest, err := budgetOf(args)
	if err != nil {
		return nil, err
	}
	if err := b.charge(int64(rest[0].(int)), "an iteration"); err != nil {
		return nil, err
	}
	return rest[1], nil
}

func add(args ...any) (any, error) {
	b, rest, err := budgetOf(args)
	if err != nil {
		return nil, err
	}
	x, y := rest[0], rest[1]
	switch xs := x.(type) {
	case string:
		if err := b.charge(int64(len(xs))+strLen(y), "joining strings with +"); err != nil {
			return nil, err
		}
	case []any:
		if err := b.charge(slotCost*(count(xs)+count(y)), "joining lists with +"); err != nil {
			return nil, err
		}
	}
	return runtime.Add(x, y), nil
}

func eq(args ...any) (any, error) {
	b, rest, err := budgetOf(args)
	if err != nil {
		return nil, err
	}
	x, y := rest[0], rest[1]
	if deep(x) && deep(y) {
		lim := b.remaining()
		if err := b.charge(min(sizeOf(x, lim), sizeOf(y, lim)), "comparing with =="); err != nil {
			return nil, err
		}
	} else if err := b.charge(min(strLen(x), strLen(y)), "comparing with =="); err != nil {
		return nil, err
	}
	return runtime.Equal(x, y), nil
}

// deep tells a value whose comparison walks it.
func deep(v any) bool {
	switch v.(type) {
	case nil, bool, int, float64, string:
		return false
	}
	return true
}

func in(args ...any) (any, error) {
	b, rest, err := budgetOf(args)
	if err != nil {
		return nil, err
	}
	needle, hay := rest[0], rest[1]
	if err := b.charge(strLen(needle), "searching with in"); err != nil {
		return nil, err
	}
	if _, isMap := hay.(map[string]any); !isMap {
		if err := b.charge(sizeOf(hay, b.remaining()), "searching with in"); err != nil {
			return nil, err
		}
	}
	return runtime.In(needle, hay), nil
}

func scan(args ...any) (any, error) {
	b, rest, err := budgetOf(args)
	if err != nil {
		return nil, err
	}
	if err := b.charge(sizeOf(rest[0], b.remaining()), "scanning a string"); err != nil {
		return nil, err
	}
	return rest[0], nil
}

// sortScan charges a sort by its comparisons: each element's size, about
// log2(n) times.
func sortScan(args ...any) (any, error) {
	b, rest, err := budgetOf(args)
	if err != nil {
		return nil, err
	}
	if err := b.charge(sortCost(b, rest), "sorting or grouping"); err != nil {
		return nil, err
	}
	return rest[0], nil
}

func sortCost(b *Budget, args []any) int64 {
	n := count(arg(args, 0))
	size := sizeOf(arg(args, 0), b.remaining())
	if size > b.remaining() {
		return size
	}
	return size * int64(bits.Len64(uint64(n))+1)
}

// matches is `s matches p` with a pattern computed at run time: compiling
// it costs with its length, matching with both (RE2 is linear in the text
// for a given program).
func matches(args ...any) (any, error) {
	b, rest, err := budgetOf(args)
	if err != nil {
		return nil, err
	}
	if rest[0] == nil || rest[1] == nil {
		return false, nil
	}
	s, ok1 := rest[0].(string)
	p, ok2 := rest[1].(string)
	if !ok1 || !ok2 {
		return nil, fmt.Errorf("matches needs two strings, not %s and %s", typeName(rest[0]), typeName(rest[1]))
	}
	if err := b.charge(int64(len(p))*128+int64(len(s))*(1+int64(len(p))/8), "matching a pattern"); err != nil {
		return nil, err
	}
	re, err := regexp.Compile(p)
	if err != nil {
		return nil, err
	}
	return re.MatchString(s), nil
}

// estimate is what a builtin will cost on these arguments, computed
// before it runs.
type estimate func(b *Budget, args []any) int64

func meteredBuiltin(f *builtin.Function, est estimate) expr.Option {
	call := f.Func
	switch {
	case f.Fast != nil:
		fast := f.Fast
		call = func(args ...any) (any, error) { return fast(args[0]), nil }
	case f.Safe != nil:
		safe := f.Safe
		call = func(args ...any) (any, error) {
			out, _, err := safe(args...)
			return out, err
		}
	}
	name := f.Name
	fn := func(args ...any) (any, error) {
		b, rest, err := budgetOf(args)
		if err != nil {
			return nil, err
		}
		if err := b.charge(est(b, rest), name); err != nil {
			return nil, err
		}
		return call(rest...)
	}
	var types []any
	for _, t := range f.Types {
		if f.Predicate {
			break // the types are the closure form's
		}
		types = append(types, withBudget(t))
	}
	if len(types) == 0 {
		types = append(types, new(func(*Budget, ...any) any))
	}
	return expr.Function("_"+name+"_", fn, types...)
}

// withBudget is the function type t with a *Budget first, as a pointer
// to a zero function of that type, the form expr.Function takes.
func withBudget(t reflect.Type) any {
	in := []reflect.Type{budgetType}
	for i := range t.NumIn() {
		in = append(in, t.In(i))
	}
	var out []reflect.Type
	for i := range t.NumOut() {
		out = append(out, t.Out(i))
	}
	return reflect.New(reflect.FuncOf(in, out, t.IsVariadic())).Interface()
}

// argsSize is the default estimate: the work is linear in the arguments.
func argsSize(b *Budget, args []any) int64 {
	var n int64
	for _, a := range args {
		n += sizeOf(a, b.remaining())
	}
	return n
}

func arg(args []any, i int) any {
	if i < len(args) {
		return args[i]
	}
	return nil
}

func intArg(args []any, i int) int64 {
	switch n := arg(args, i).(type) {
	case int:
		return int64(n)
	case float64:
		return int64(n)
	}
	return 0
}

// builtinCost lists expr's builtins whose cost grows with their input;
// the others (abs, ceil, type, first, get, the bit operations, ...) cost a
// constant. Closure forms (`sum(xs, {...})`) are charged by their
// iterations instead.
var builtinCost = map[string]estimate{
	"len": func(b *Budget, args []any) int64 { return strLen(arg(args, 0)) / 4 }, // counts runes
	"repeat": func(b *Budget, args []any) int64 {
		n := intArg(args, 1)
		if n <= 0 {
			return 0
		}
		s := strLen(arg(args, 0))
		if s > 0 && n > b.remaining()/s+1 {
			return b.remaining() + 1
		}
		return s * n
	},
	"replace": func(b *Budget, args []any) int64 {
		s, old, repl := strLen(arg(args, 0)), strLen(arg(args, 1)), strLen(arg(args, 2))
		k := s + 1 // occurrences of an empty string
		if old > 0 {
			k = s / old
		}
		if len(args) == 4 {
			if n := intArg(args, 3); n >= 0 && n < k {
				k = n
			}
		}
		return s + k*repl
	},
	"split":      splitCost,
	"splitAfter": splitCost,
	"upper":      func(b *Budget, args []any) int64 { return 3 * strLen(arg(args, 0)) },
	"lower":      func(b *Budget, args []any) int64 { return 3 * strLen(arg(args, 0)) },
	"join": func(b *Budget, args []any) int64 {
		n := count(arg(args, 0))
		return argsSize(b, args[:1]) + n*strLen(arg(args, 1))
	},
	"toJSON":   jsonCost,
	"string":   jsonCost,
	"fromJSON": func(b *Budget, args []any) int64 { return 8 * strLen(arg(args, 0)) },
	"toBase64": func(b *Budget, args []any) int64 { return 2 * strLen(arg(args, 0)) },
	"keys":     pairsCost,
	"values":   pairsCost,
	"toPairs":  func(b *Budget, args []any) int64 { return 4 * pairsCost(b, args) },
	"fromPairs": func(b *Budget, args []any) int64 {
		return pairsCost(b, args) + argsSize(b, args)
	},
	"sort":       sortCost,
	"median":     sortCost,
	"fromBase64": argsSize, "trim": argsSize, "trimPrefix": argsSize, "trimSuffix": argsSize,
	"indexOf": argsSize, "lastIndexOf": argsSize, "hasPrefix": argsSize, "hasSuffix": argsSize,
	"int": argsSize, "float": argsSize, "date": argsSize, "duration": argsSize, "timezone": argsSize,
	"reverse": argsSize, "uniq": argsSize, "concat": argsSize, "flatten": argsSize, "take": argsSize,
	"min": argsSize, "max": argsSize, "mean": argsSize,
}

func splitCost(b *Budget, args []any) int64 {
	s, sep := strLen(arg(args, 0)), strLen(arg(args, 1))
	parts := s + 1
	if sep > 0 {
		parts = s/sep + 1
	}
	if len(args) == 3 {
		if n := intArg(args, 2); n > 0 && n < parts {
			parts = n
		}
	}
	return s + 2*slotCost*parts
}

func pairsCost(b *Budget, args []any) int64 { return entryCost * count(arg(args, 0)) }

// jsonCost bounds the text of a value: its size, and the indentation
// toJSON writes before every element.
func jsonCost(b *Budget, args []any) int64 {
	v := arg(args, 0)
	lim := b.remaining()
	size := sizeOf(v, lim)
	if size > lim {
		return size
	}
	elems, depth := extent(v, 0)
	return 2*size + elems*2*int64(depth)
}

// extent counts the elements of a value and its depth.
func extent(v any, d int) (int64, int) {
	var n int64 = 1
	deepest := d
	visit := func(e any) {
		m, dd := extent(e, d+1)
		n += m
		deepest = max(deepest, dd)
	}
	switch x := v.(type) {
	case []any:
		for _, e := range x {
			visit(e)
		}
	case map[string]any:
		for _, e := range x {
			visit(e)
		}
	}
	return n, deepest
}

type stdFunc struct {
	fn    func(args ...any) (any, error)
	types []any
}

// meteredStdlib charges the standard library's copies before making them.
var meteredStdlib = map[string]stdFunc{
	"set": {func(args ...any) (any, error) {
		b, rest, err := budgetOf(args)
		if err != nil {
			return nil, err
		}
		if err := b.charge(copyCost(rest[0])+entryCost+strLen(rest[1]), "set"); err != nil {
			return nil, err
		}
		return set(rest...)
	}, []any{new(func(*Budget, any, any, any) any)}},
	"unset": {func(args ...any) (any, error) {
		b, rest, err := budgetOf(args)
		if err != nil {
			return nil, err
		}
		if err := b.charge(copyCost(rest[0]), "unset"); err != nil {
			return nil, err
		}
		return unset(rest...)
	}, []any{new(func(*Budget, any, ...any) any)}},
	"merge": {func(args ...any) (any, error) {
		b, rest, err := budgetOf(args)
		if err != nil {
			return nil, err
		}
		var n int64
		for _, a := range rest {
			n += copyCost(a)
		}
		if err := b.charge(n, "merge"); err != nil {
			return nil, err
		}
		return merge(rest...)
	}, []any{new(func(*Budget, any, ...any) map[string]any)}},
	"append": {func(args ...any) (any, error) {
		b, rest, err := budgetOf(args)
		if err != nil {
			return nil, err
		}
		if err := b.charge(copyCost(rest[0])+slotCost*int64(len(rest)), "append"); err != nil {
			return nil, err
		}
		return appendFn(rest...)
	}, []any{new(func(*Budget, any, ...any) []any)}},
}

// copyCost is what a shallow copy of a list or an object costs.
func copyCost(v any) int64 {
	switch x := v.(type) {
	case map[string]any:
		return entryCost * int64(len(x))
	case []any:
		return slotCost * int64(len(x))
	}
	return slotCost * count(v)
}

// meterPatch rewrites the tree as the package comment above says. It runs
// after a node's children were visited, and after fetchPatch.
type meterPatch struct{}

func (meterPatch) Visit(node *ast.Node) {
	switch n := (*node).(type) {
	case *ast.PredicateNode:
		n.Node = call("_tick_", &ast.IntegerNode{Value: NodeCost * nodes(n.Node)}, n.Node)
	case *ast.BuiltinNode:
		if hasPredicate(n.Arguments) {
			// Sorting compares and grouping hashes the keys, whose size
			// the collection's bounds.
			if n.Name == "sortBy" || n.Name == "groupBy" {
				n.Arguments[0] = call("_sortscan_", n.Arguments[0])
			}
			return
		}
		if _, ok := builtinCost[n.Name]; !ok {
			return
		}
		ast.Patch(node, call("_"+n.Name+"_", n.Arguments...))
	case *ast.CallNode:
		id, ok := n.Callee.(*ast.IdentifierNode)
		if !ok {
			return
		}
		if _, ok := meteredStdlib[id.Value]; ok {
			ast.Patch(node, call("_"+id.Value+"_", n.Arguments...))
		}
		// x[k] with a computed key hashes or compares k.
		if (id.Value == fetchStrict || id.Value == fetchNil) && !literal(n.Arguments[1]) {
			n.Arguments[1] = call("_scan_", n.Arguments[1])
		}
	case *ast.BinaryNode:
		switch n.Operator {
		case "+":
			if !numeric(n.Left) && !numeric(n.Right) {
				ast.Patch(node, call("_add_", n.Left, n.Right))
			}
		case "==", "!=":
			if literal(n.Left) || literal(n.Right) {
				return
			}
			var eq ast.Node = call("_eq_", n.Left, n.Right)
			if n.Operator == "!=" {
				eq = &ast.UnaryNode{Operator: "not", Node: eq}
			}
			ast.Patch(node, eq)
		case "<", ">", "<=", ">=":
			if !literal(n.Left) && !literal(n.Right) && !numeric(n.Left) && !numeric(n.Right) {
				n.Left = call("_scan_", n.Left) // strings compare byte by byte
			}
		case "in":
			ast.Patch(node, call("_in_", n.Left, n.Right))
		case "contains", "startsWith", "endsWith":
			n.Left = call("_scan_", n.Left)
		case "matches":
			if _, constant := n.Right.(*ast.StringNode); constant {
				n.Left = call("_scan_", n.Left) // compiled once, linear in the text
				return
			}
			ast.Patch(node, call("_matches_", n.Left, n.Right))
		}
	}
}

func call(name string, args ...ast.Node) ast.Node {
	return &ast.CallNode{
		Callee:    &ast.IdentifierNode{Value: name},
		Arguments: append([]ast.Node{&ast.IdentifierNode{Value: budgetField}}, args...),
	}
}

func hasPredicate(args []ast.Node) bool {
	for _, a := range args {
		if _, ok := a.(*ast.PredicateNode); ok {
			return true
		}
	}
	return false
}

// numeric tells an operand that is a number for sure: `+` on it cannot
// build a string or a list.
func numeric(n ast.Node) bool {
	switch x := n.(type) {
	case *ast.IntegerNode, *ast.FloatNode:
		return true
	case *ast.BinaryNode:
		switch x.Operator {
		case "-", "*", "/", "%", "**", "^":
			return true // a number, or an error
		}
	case *ast.UnaryNode:
		return x.Operator == "-" || x.Operator == "+"
	}
	if t := n.Type(); t != nil {
		switch t.Kind() {
		case reflect.Int, reflect.Int64, reflect.Float64:
			return true
		}
	}
	return false
}

// literal tells an operand whose comparison costs a constant.
func literal(n ast.Node) bool {
	switch n.(type) {
	case *ast.IntegerNode, *ast.FloatNode, *ast.StringNode, *ast.BoolNode, *ast.NilNode:
		return true
	}
	return false
}

// nodes counts the nodes of a tree: the work of one run of it.
func nodes(n ast.Node) int {
	var c counter
	ast.Walk(&n, &c)
	return int(c)
}

type counter int

func (c *counter) Visit(*ast.Node) { *c++ }
