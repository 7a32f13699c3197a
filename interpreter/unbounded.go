package interpreter

import (
	"fmt"

	"github.com/expr-lang/expr/ast"

	"github.com/cuesource/cuesource/diag"
	"github.com/cuesource/cuesource/manifest"
)

// unbounded finds what in a checked expression grows with its input
// beyond the input's own size: vet warns of it, since the expression
// budget will refuse such commands on large inputs rather than run them.
// It does not refuse them: on the inputs a context expects they are fine.
func unbounded(tree ast.Node) []finding {
	var warns []finding
	warn := func(at ast.Node, format string, args ...any) {
		warns = append(warns, finding{at: at.Location().From, msg: fmt.Sprintf(format, args...)})
	}
	walk(tree, func(n ast.Node) {
		switch x := n.(type) {
		case *ast.BuiltinNode:
			switch {
			case x.Name == "repeat" && len(x.Arguments) == 2 && !constant(x.Arguments[1]):
				warn(x, "repeat(%s, %s) makes a string as long as its input says: it is bounded only by the expression budget", x.Arguments[0], x.Arguments[1])
			case loop(x) && !constant(x.Arguments[0]):
				walk(x.Arguments[1], func(m ast.Node) {
					switch inner := m.(type) {
					case *ast.BuiltinNode:
						if loop(inner) && !constant(inner.Arguments[0]) {
							warn(inner, "%s over %s runs inside %s over %s: its time grows with the product of their lengths", inner.Name, inner.Arguments[0], x.Name, x.Arguments[0])
						}
					case *ast.BinaryNode:
						if inner.Operator == "in" && !constant(inner.Right) {
							warn(inner, "%s searches %s inside %s over %s: its time grows with the product of their lengths", inner, inner.Right, x.Name, x.Arguments[0])
						}
					}
				})
			}
		case *ast.BinaryNode:
			switch {
			case x.Operator == ".." && !(constant(x.Left) && constant(x.Right)):
				warn(x, "the range %s is as long as its input says: it is bounded only by the expression budget", x)
			case x.Operator == "matches" && !constant(x.Right):
				warn(x.Right, "the pattern %s is compiled at every run: a pattern from input costs with its length", x.Right)
			}
		}
	})
	return warns
}

// finding is one warning, at an offset (in runes) into the expression.
type finding struct {
	at  int
	msg string
}

// position places a finding in the context file.
func (f finding) position(x manifest.Expr) manifest.Pos {
	line, col := 1, 0
	for i, r := range []rune(x.Src) {
		if i == f.at {
			break
		}
		if r == '\n' {
			line, col = line+1, 0
		} else {
			col++
		}
	}
	return offset(x.Pos, line, col)
}

// warnUnbounded adds the warnings of a checked expression.
func (c *compiler) warnUnbounded(x manifest.Expr, tree ast.Node) {
	for _, w := range unbounded(tree) {
		c.warns = append(c.warns, &diag.Error{Pos: w.position(x), Msg: w.msg})
	}
}

// loop tells a builtin that runs a closure over a collection.
func loop(n *ast.BuiltinNode) bool {
	return len(n.Arguments) >= 2 && hasPredicate(n.Arguments[1:2])
}

// constant tells a node made of literals only.
func constant(n ast.Node) bool {
	ok := true
	walk(n, func(m ast.Node) {
		switch m.(type) {
		case *ast.IntegerNode, *ast.FloatNode, *ast.StringNode, *ast.BoolNode, *ast.NilNode,
			*ast.ArrayNode, *ast.MapNode, *ast.PairNode, *ast.UnaryNode, *ast.BinaryNode:
		default:
			ok = false
		}
	})
	return ok
}

// walk calls f on every node of the tree rooted at n.
func walk(n ast.Node, f func(ast.Node)) {
	ast.Walk(&n, visitor(f))
}

type visitor func(ast.Node)

func (v visitor) Visit(n *ast.Node) { v(*n) }
