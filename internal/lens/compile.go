package lens

import (
	"fmt"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/checker"
	"github.com/expr-lang/expr/compiler"
	"github.com/expr-lang/expr/conf"
	"github.com/expr-lang/expr/optimizer"
	"github.com/expr-lang/expr/parser"
	"github.com/expr-lang/expr/vm"
)

// Compile compiles a fused tree as expr.Compile compiles source, with the
// caller's options (environment, functions, patches, budgets) and [Carry].
func Compile(tree *parser.Tree, opts ...expr.Option) (*vm.Program, error) {
	config := conf.CreateNew()
	for _, op := range append(opts, expr.Function(CarryFunc, Carry)) {
		op(config)
	}
	for name := range config.Disabled {
		delete(config.Builtins, name)
	}
	config.Check()
	if _, err := new(checker.Checker).PatchAndCheck(tree, config); err != nil {
		return nil, err
	}
	if config.Optimize {
		if err := optimizer.Optimize(&tree.Node, config); err != nil {
			return nil, err
		}
	}
	return compiler.Compile(tree, config)
}

// Carry implements CarryFunc: it builds the payload in one map, so
// carrying fields costs no copy of an intermediate one.
func Carry(args ...any) (any, error) {
	n, ok := args[0].(int)
	if !ok || len(args) < 1+2*n || (len(args)-1-2*n)%2 != 0 {
		return nil, fmt.Errorf("%s: bad arguments", CarryFunc)
	}
	size := n
	for i := 1 + 2*n; i < len(args); i += 2 {
		keys, _ := args[i+1].([]any)
		size += len(keys)
	}
	out := make(map[string]any, size)
	for i := 1; i < 1+2*n; i += 2 {
		k, _ := args[i].(string)
		out[k] = args[i+1]
	}
	for i := 1 + 2*n; i < len(args); i += 2 {
		src, _ := args[i].(map[string]any)
		keys, _ := args[i+1].([]any)
		for _, k := range keys {
			if v, ok := src[k.(string)]; ok {
				out[k.(string)] = v
			}
		}
	}
	return out, nil
}
