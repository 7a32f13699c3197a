package jsonsubset

import (
	"math"
	"math/bits"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/cuesource/cuesource/value"
)

// Valid reports whether v, in value.Decode's representation, satisfies the
// schema. When [Schema.Decides] it answers as a JSON Schema 2020-12
// validator would; the agreement test holds it to santhosh-tekuri/jsonschema.
func (s *Schema) Valid(v any) bool { return s.root.check(v, 0) }

// valid reports whether v satisfies every schema in c.
func valid(c []*node, v any) bool {
	for _, n := range c {
		if !n.check(v, 0) {
			return false
		}
	}
	return true
}

// check validates v; depth stops $ref cycles that never reach a value.
func (n *node) check(v any, depth int) bool {
	if n.never || depth > 256 {
		return false
	}
	if n.types != 0 && n.types&kindOf(v) == 0 {
		return false
	}
	if n.hasEnum && !has(n.enum, v) {
		return false
	}
	sub := func(s *node) bool { return s.check(v, depth+1) }
	if n.ref != nil && !sub(n.ref) || n.not != nil && sub(n.not) {
		return false
	}
	if !all(n.allOf, sub) || len(n.anyOf) > 0 && !slices.ContainsFunc(n.anyOf, sub) {
		return false
	}
	if n.cond != nil {
		if sub(n.cond) {
			if n.then != nil && !sub(n.then) {
				return false
			}
		} else if n.els != nil && !sub(n.els) {
			return false
		}
	}
	if len(n.oneOf) > 0 {
		matched := 0
		for _, s := range n.oneOf {
			if sub(s) {
				matched++
			}
		}
		if matched != 1 {
			return false
		}
	}
	switch x := v.(type) {
	case int:
		return n.checkNumber(float64(x))
	case float64:
		return n.checkNumber(x)
	case string:
		l := utf8.RuneCountInString(x)
		return l >= n.minLen && (n.maxLen < 0 || l <= n.maxLen) && (n.pattern == nil || n.pattern.MatchString(x))
	case []any:
		if len(x) < n.minItems || n.maxItems >= 0 && len(x) > n.maxItems {
			return false
		}
		if n.contains != nil {
			if c := n.containing(x, depth); c < n.minContains || n.maxContains >= 0 && c > n.maxContains {
				return false
			}
		}
		for i, e := range x {
			if n.unique && slices.ContainsFunc(x[:i], func(o any) bool { return value.Equal(o, e) }) {
				return false
			}
			s := n.items
			if i < len(n.prefix) {
				s = n.prefix[i]
			}
			if s != nil && !s.check(e, depth+1) {
				return false
			}
		}
	case map[string]any:
		if len(x) < n.minProps || n.maxProps >= 0 && len(x) > n.maxProps {
			return false
		}
		for _, r := range n.required {
			if _, ok := x[r]; !ok {
				return false
			}
		}
		for k, e := range x {
			if n.names != nil && !n.names.check(k, depth+1) || !n.checkProp(k, e, depth+1) {
				return false
			}
		}
	}
	return true
}

// containing counts the items of x that satisfy n's contains.
func (n *node) containing(x []any, depth int) int {
	c := 0
	for _, e := range x {
		if n.contains.check(e, depth+1) {
			c++
		}
	}
	return c
}

func (n *node) checkNumber(f float64) bool {
	if f < n.lo || f == n.lo && n.loExcl || f > n.hi || f == n.hi && n.hiExcl {
		return false
	}
	return n.multipleOf == 0 || isMultiple(f, n.multipleOf)
}

// isMultiple compares as decimals, as JSON text means them (and as
// validators holding big.Rat do): 0.3 is a multiple of 0.1. Each number is
// its shortest decimal a×10^e; with both scaled to the smaller exponent,
// f is a multiple of m when the remainder of a×10^k by b is 0, computed a
// digit at a time so that nothing overflows (math/big would cost a Worker
// its size).
func isMultiple(f, m float64) bool {
	a, ea, okA := decimal(f)
	b, eb, okB := decimal(m)
	if !okA || !okB || b == 0 {
		return false
	}
	if a == 0 {
		return true
	}
	for ; eb > ea; eb-- { // m has the larger exponent: scale b up
		if b > math.MaxUint64/10 {
			return false // b×10^k exceeds a, which is not 0
		}
		b *= 10
	}
	r := a % b
	for ; ea > eb; ea-- {
		hi, lo := bits.Mul64(r, 10) // hi <= 9 < b, or b <= 9 and hi == 0
		_, r = bits.Div64(hi, lo, b)
	}
	return r == 0
}

// decimal writes |f| as a×10^e with a an integer of at most 17 digits.
func decimal(f float64) (a uint64, e int, ok bool) {
	s := strconv.FormatFloat(math.Abs(f), 'e', -1, 64) // d.ddde±x
	mant, exp, _ := strings.Cut(s, "e")
	x, err := strconv.Atoi(exp)
	if err != nil {
		return 0, 0, false
	}
	digits := strings.Replace(mant, ".", "", 1)
	a, err = strconv.ParseUint(digits, 10, 64)
	return a, x - (len(digits) - 1), err == nil
}

// checkProp validates the value e of property k against the schemas
// propSchemas gives, without gathering them: validation runs per request.
func (n *node) checkProp(k string, e any, depth int) bool {
	matched := false
	if s, ok := n.props[k]; ok {
		if !s.check(e, depth) {
			return false
		}
		matched = true
	}
	for _, p := range n.patterns {
		if p.re.MatchString(k) {
			if !p.schema.check(e, depth) {
				return false
			}
			matched = true
		}
	}
	return matched || n.additional == nil || n.additional.check(e, depth)
}

// has reports whether list holds a value equal to v, as JSON values are.
func has(list []any, v any) bool {
	for _, e := range list {
		if value.Equal(e, v) {
			return true
		}
	}
	return false
}
