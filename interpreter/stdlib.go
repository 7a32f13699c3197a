package interpreter

import (
	"fmt"
	"reflect"
	"sort"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
)

// The standard library: immutable updates on JSON values. Each function
// returns a new value and never changes its arguments, because reducers see
// the old state and the old state may be shared.
//
//	set(obj, key, value)      obj with key set
//	set(list, index, value)   list with the element replaced
//	unset(obj, key...)        obj without the keys
//	merge(obj, obj...)        shallow merge, later objects win
//	append(list, value...)    list with values added at the end
//	now()                     the command's time (meta.timestamp), never the clock
//
// expr's own builtins (len, keys, values, filter, map, sum, ...) remain.
func stdlib() []expr.Option {
	return []expr.Option{
		expr.Function("set", set, new(func(any, any, any) any)),
		expr.Function("unset", unset, new(func(any, ...any) any)),
		expr.Function("merge", merge, new(func(any, ...any) map[string]any)),
		expr.Function("append", appendFn, new(func(any, ...any) []any)),
		expr.Patch(timePatch{}),
	}
}

func set(args ...any) (any, error) {
	switch c := args[0].(type) {
	case map[string]any:
		k, ok := args[1].(string)
		if !ok {
			return nil, fmt.Errorf("set: an object key must be a string, not %T", args[1])
		}
		out := make(map[string]any, len(c)+1)
		for key, v := range c {
			out[key] = v
		}
		out[k] = args[2]
		return out, nil
	case nil:
		k, ok := args[1].(string)
		if !ok {
			return nil, fmt.Errorf("set: an object key must be a string, not %T", args[1])
		}
		return map[string]any{k: args[2]}, nil
	case []any:
		i, ok := toIndex(args[1])
		if !ok || i < 0 || i >= len(c) {
			return nil, fmt.Errorf("set: index %v out of range for a list of %d", args[1], len(c))
		}
		out := append([]any(nil), c...)
		out[i] = args[2]
		return out, nil
	}
	return nil, fmt.Errorf("set: expects an object or a list, not %s", typeName(args[0]))
}

func unset(args ...any) (any, error) {
	c, ok := args[0].(map[string]any)
	if !ok {
		if args[0] == nil {
			return map[string]any{}, nil
		}
		return nil, fmt.Errorf("unset: expects an object, not %s", typeName(args[0]))
	}
	drop := map[string]bool{}
	for _, k := range args[1:] {
		s, ok := k.(string)
		if !ok {
			return nil, fmt.Errorf("unset: keys must be strings, not %T", k)
		}
		drop[s] = true
	}
	out := make(map[string]any, len(c))
	for k, v := range c {
		if !drop[k] {
			out[k] = v
		}
	}
	return out, nil
}

func merge(args ...any) (any, error) {
	out := map[string]any{}
	for i, a := range args {
		if a == nil {
			continue
		}
		m, ok := a.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("merge: argument %d is %s, not an object", i+1, typeName(a))
		}
		for k, v := range m {
			out[k] = v
		}
	}
	return out, nil
}

func appendFn(args ...any) (any, error) {
	var base []any
	switch c := args[0].(type) {
	case nil:
	case []any:
		base = c
	default:
		rv := reflect.ValueOf(c)
		if rv.Kind() != reflect.Slice {
			return nil, fmt.Errorf("append: expects a list, not %s", typeName(c))
		}
		for i := 0; i < rv.Len(); i++ {
			base = append(base, rv.Index(i).Interface())
		}
	}
	out := make([]any, 0, len(base)+len(args)-1)
	out = append(out, base...)
	return append(out, args[1:]...), nil
}

func toIndex(v any) (int, bool) {
	switch n := v.(type) {
	case int:
		return n, true
	case float64:
		if n == float64(int(n)) {
			return int(n), true
		}
	}
	return 0, false
}

func typeName(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case int, float64:
		return "a number"
	case map[string]any:
		return "an object"
	case []any:
		return "a list"
	}
	return fmt.Sprintf("%T", v)
}

// timePatch makes time deterministic: now() becomes date(meta.timestamp),
// the command's time from its envelope, so replays and both runtimes agree
// whatever the machine's clock. (date() without a zone already parses in
// UTC, not the local zone: it uses time.Parse.)
type timePatch struct{}

func (timePatch) Visit(node *ast.Node) {
	switch n := (*node).(type) {
	case *ast.BuiltinNode:
		if n.Name != "now" || len(n.Arguments) != 0 {
			return
		}
	case *ast.CallNode:
		if id, ok := n.Callee.(*ast.IdentifierNode); !ok || id.Value != "now" || len(n.Arguments) != 0 {
			return
		}
	default:
		return
	}
	ast.Patch(node, &ast.BuiltinNode{Name: "date", Arguments: []ast.Node{
		&ast.MemberNode{Node: &ast.IdentifierNode{Value: "meta"}, Property: &ast.StringNode{Value: "timestamp"}},
	}})
}

// sortedKeys is used where determinism matters (messages, encodings).
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
