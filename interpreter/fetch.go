package interpreter

import (
	"fmt"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/vm/runtime"
)

// Member access on decoded JSON is the hottest operation of every command:
// expr reads a field of an untyped value through reflection
// (runtime.Fetch -> reflect.Value.MapIndex). For the run-time compile, a
// patch rewrites `x.f` and `x[k]` on JSON values into calls of functions
// that index map[string]any and []any directly and fall back to expr's own
// Fetch for anything else, with expr's semantics:
//
//   - a missing key gives nil; a field of nil is an error, as in expr;
//   - `x?.f` gives nil when x is nil, and so does every access after it in
//     the same chain (`x?.f.g`), as expr's chains do; a parenthesised chain
//     ends there.
//
// The checking compile is not patched, so vet's messages are expr's.
const (
	fetchStrict = "_fetch_"
	fetchNil    = "_fetchnil_" // inside an optional chain: nil stays nil
)

func fetchOptions() []expr.Option {
	return []expr.Option{
		expr.Function(fetchStrict, func(args ...any) (any, error) { return fetch(args[0], args[1], false) }),
		expr.Function(fetchNil, func(args ...any) (any, error) { return fetch(args[0], args[1], true) }),
		expr.Patch(fetchPatch{}),
	}
}

func fetch(from, key any, nilSafe bool) (v any, err error) {
	switch m := from.(type) {
	case map[string]any:
		if k, ok := key.(string); ok {
			return m[k], nil
		}
	case []any:
		if i, ok := key.(int); ok && i >= 0 && i < len(m) {
			return m[i], nil
		}
	case nil:
		if nilSafe {
			return nil, nil
		}
		return nil, fmt.Errorf("cannot fetch %v from %T", key, from)
	}
	// Everything else (negative or float indexes, typed values returned by
	// builtins) keeps expr's behaviour, including its panics as errors.
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%v", r)
		}
	}()
	return runtime.Fetch(from, key), nil
}

type fetchPatch struct{}

// Visit runs after a node's children were visited, so a member access sees
// its object already rewritten: that is how a chain's nil-safety passes on.
func (fetchPatch) Visit(node *ast.Node) {
	m, ok := (*node).(*ast.MemberNode)
	if !ok || m.Method {
		return
	}
	if id, ok := m.Node.(*ast.IdentifierNode); ok && id.Value == "meta" {
		return // a Go struct: expr's field access is right and cheap
	}
	name := fetchStrict
	if m.Optional || isNilSafeFetch(m.Node) {
		name = fetchNil
	}
	ast.Patch(node, &ast.CallNode{
		Callee:    &ast.IdentifierNode{Value: name},
		Arguments: []ast.Node{m.Node, m.Property},
	})
}

func isNilSafeFetch(n ast.Node) bool {
	c, ok := n.(*ast.CallNode)
	if !ok {
		return false
	}
	id, ok := c.Callee.(*ast.IdentifierNode)
	return ok && id.Value == fetchNil
}
