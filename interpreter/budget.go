package interpreter

import (
	"errors"
	"fmt"
	"reflect"
)

// A Budget bounds the work of the expressions that run for one command,
// one projected event, one effect delivery or one lens read. Everything
// an expression does that costs more than a constant (building or scanning
// a string or a list, copying a map, an iteration of a loop) is charged
// here *before* it is done, so an expression that would need gigabytes or
// minutes fails at once with ErrBudget instead of taking the runtime down.
//
// Units are roughly bytes: a byte allocated, copied or scanned costs one;
// a node of a loop's body costs NodeCost per iteration. expr's own
// MemoryBudget still bounds the elements of ranges and literals.
type Budget struct {
	used  int64
	limit int64
}

const (
	// CostBudget is what one command (every guard, emit, reducer and
	// invariant together), one projected event, one effect delivery or
	// one lens read may spend. Measured here: spending all of it takes
	// well under 200 ms of CPU natively (BENCHMARKS.md, RELIABILITY.md).
	CostBudget = 16 << 20
	// NodeCost is what one node of a loop's body costs per iteration.
	NodeCost = 64
)

// NewBudget gives a budget of CostBudget units.
func NewBudget() *Budget { return &Budget{limit: CostBudget} }

// Used tells how much of the budget was spent.
func (b *Budget) Used() int64 { return b.used }

// errBudget is what a charge over the budget fails with; EvalError wraps
// it so errors.Is(err, ErrBudget) holds.
type budgetError struct{ what string }

func (e *budgetError) Error() string {
	return fmt.Sprintf("expression budget exceeded: %s would take the work of this evaluation over %d units", e.what, CostBudget)
}

func (e *budgetError) Unwrap() error { return ErrBudget }

// charge spends n units on what, or fails without spending them.
func (b *Budget) charge(n int64, what string) error {
	if n < 0 || b.used+n > b.limit || b.used+n < 0 {
		b.used = b.limit
		return &budgetError{what: what}
	}
	b.used += n
	return nil
}

// remaining is what is left, the bound size estimates stop at.
func (b *Budget) remaining() int64 { return b.limit - b.used }

var errNoBudget = errors.New("no budget in the environment")

// Per-value costs of the size estimate: a slot of a list or an interface
// value, a map entry, and a scalar.
const (
	slotCost   = 16
	entryCost  = 96
	scalarCost = 8
)

// sizeOf estimates the bytes of v, a decoded JSON value or what a builtin
// returned. It stops counting past limit, so estimating a huge value costs
// no more than the budget it is checked against.
func sizeOf(v any, limit int64) int64 {
	var n int64
	var walk func(v any)
	walk = func(v any) {
		if n > limit {
			return
		}
		switch x := v.(type) {
		case nil, bool, int, float64:
			n += scalarCost
		case string:
			n += slotCost + int64(len(x))
		case []any:
			n += slotCost + slotCost*int64(len(x))
			for _, e := range x {
				walk(e)
				if n > limit {
					return
				}
			}
		case map[string]any:
			n += slotCost + entryCost*int64(len(x))
			for k, e := range x {
				n += int64(len(k))
				walk(e)
				if n > limit {
					return
				}
			}
		case []string:
			n += slotCost + slotCost*int64(len(x))
			for _, s := range x {
				n += int64(len(s))
			}
		default:
			rv := reflect.ValueOf(v)
			switch rv.Kind() {
			case reflect.Slice, reflect.Array:
				n += slotCost + slotCost*int64(rv.Len())
				for i := 0; i < rv.Len() && n <= limit; i++ {
					walk(rv.Index(i).Interface())
				}
			case reflect.Map:
				n += slotCost + entryCost*int64(rv.Len())
				it := rv.MapRange()
				for it.Next() && n <= limit {
					walk(it.Key().Interface())
					walk(it.Value().Interface())
				}
			case reflect.String:
				n += slotCost + int64(rv.Len())
			default:
				n += scalarCost
			}
		}
	}
	walk(v)
	return n
}

// strLen is the length of a string argument, 0 for anything else.
func strLen(v any) int64 {
	if s, ok := v.(string); ok {
		return int64(len(s))
	}
	return 0
}

// count is the number of elements of a list or map argument.
func count(v any) int64 {
	switch x := v.(type) {
	case []any:
		return int64(len(x))
	case map[string]any:
		return int64(len(x))
	case string:
		return int64(len(x))
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Slice, reflect.Array, reflect.Map, reflect.String:
		return int64(rv.Len())
	}
	return 0
}
