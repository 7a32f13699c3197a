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

// Carry implements CarryFunc. The map literal it gets may be a constant
// the optimizer folded, shared by every run, so it is copied, not changed.
func Carry(args ...any) (any, error) {
	lit, ok := args[0].(map[string]any)
	if !ok || len(args)%2 != 1 {
		return nil, fmt.Errorf("%s: bad arguments", CarryFunc)
	}
	out := make(map[string]any, len(lit)+(len(args)-1)/2)
	for k, v := range lit {
		out[k] = v
	}
	for i := 1; i < len(args); i += 2 {
		src, _ := args[i].(map[string]any)
		k, _ := args[i+1].(string)
		if v, ok := src[k]; ok {
			out[k] = v
		}
	}
	return out, nil
}
