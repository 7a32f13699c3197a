package jsonsubset

import (
	"math"
	"math/bits"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/cuesource/cuesource/value"
)

// Violation is one way a document fails its schema: where (an RFC 6901
// pointer into the document, "" for the whole of it) and what.
type Violation struct {
	Pointer string
	Message string
	types   kind // for a type mismatch: the types the schema wanted
}

// Violations lists every way v fails the schema, sorted by pointer and
// then message; it is empty exactly when [Schema.Valid] is true. It
// reports what a JSON Schema 2020-12 validator reports, at the same
// places: the leaves of the failure (a type that does not match stops
// the checks of its location, as a const or enum does; a failed anyOf
// lists the failures of every branch), and the agreement test holds the
// pointers to santhosh-tekuri/jsonschema's.
func (s *Schema) Violations(v any) []Violation {
	if s.root.check(v, 0) {
		return nil
	}
	var out []Violation
	s.root.explain(v, "", 0, &out)
	if len(out) == 0 { // never valid for want of words
		out = append(out, Violation{Message: "does not match the schema"})
	}
	out = oneTypeEach(out)
	// sort.Slice, not slices.SortFunc: a Worker links sort.Slice anyway,
	// and each instance of the generic sort is several kilobytes of wasm.
	sort.Slice(out, func(i, j int) bool {
		if out[i].Pointer != out[j].Pointer {
			return out[i].Pointer < out[j].Pointer
		}
		return out[i].Message < out[j].Message
	})
	return out
}

// explain appends to out why v, at ptr, fails n. It follows check: each
// decision (a branch matching, a property failing) is check's.
func (n *node) explain(v any, ptr string, depth int, out *[]Violation) {
	add := func(msg string) { *out = append(*out, Violation{Pointer: ptr, Message: msg}) }
	if n.never {
		add("no value is allowed here")
		return
	}
	if depth > 256 {
		add("the schema nests too deep here")
		return
	}
	if n.types != 0 && n.types&kindOf(v) == 0 {
		*out = append(*out, Violation{Pointer: ptr, Message: "must be " + n.typeList() + ", got " + withArticle(jsonType(v)), types: n.types})
		return
	}
	if n.hasEnum && !has(n.enum, v) {
		add(enumMessage(n.enum) + ", got " + shown(v))
		return
	}
	sub := func(s *node) bool { return s.check(v, depth+1) }
	if n.ref != nil && !sub(n.ref) {
		n.ref.explain(v, ptr, depth+1, out)
	}
	switch x := v.(type) {
	case int:
		n.explainNumber(float64(x), add)
	case float64:
		n.explainNumber(x, add)
	case string:
		l := utf8.RuneCountInString(x)
		if l < n.minLen {
			add(atLeast(n.minLen, "character") + ", got " + strconv.Itoa(l))
		}
		if n.maxLen >= 0 && l > n.maxLen {
			add(atMost(n.maxLen, "character") + ", got " + strconv.Itoa(l))
		}
		if n.pattern != nil && !n.pattern.MatchString(x) {
			add("must match " + quote(n.pattern.String()) + ", got " + quote(x))
		}
	case []any:
		n.explainArray(x, ptr, depth, out, add)
	case map[string]any:
		n.explainObject(x, ptr, depth, out, add)
	}
	if n.not != nil && sub(n.not) {
		if n.not.hasEnum && len(n.not.enum) == 1 {
			add("must not be " + shown(n.not.enum[0]))
		} else {
			add("must not match the schema under 'not'")
		}
	}
	for _, s := range n.allOf {
		if !sub(s) {
			s.explain(v, ptr, depth+1, out)
		}
	}
	if len(n.anyOf) > 0 && !slices.ContainsFunc(n.anyOf, sub) {
		for _, s := range n.anyOf {
			s.explain(v, ptr, depth+1, out)
		}
	}
	if n.cond != nil {
		if sub(n.cond) {
			if n.then != nil && !sub(n.then) {
				n.then.explain(v, ptr, depth+1, out)
			}
		} else if n.els != nil && !sub(n.els) {
			n.els.explain(v, ptr, depth+1, out)
		}
	}
	if len(n.oneOf) > 0 {
		var matched []int
		for i, s := range n.oneOf {
			if sub(s) {
				matched = append(matched, i)
			}
		}
		switch len(matched) {
		case 0:
			for _, s := range n.oneOf {
				s.explain(v, ptr, depth+1, out)
			}
		case 1:
		default:
			add("must match exactly one schema under 'oneOf', got " + strconv.Itoa(matched[0]) + " and " + strconv.Itoa(matched[1]))
		}
	}
}

// explainNumber words the bounds as "must be at least 1, got 0".
func (n *node) explainNumber(f float64, add func(string)) {
	switch {
	case f < n.lo:
		add("must be at least " + number(n.lo) + ", got " + number(f))
	case f == n.lo && n.loExcl:
		add("must be greater than " + number(n.lo) + ", got " + number(f))
	}
	switch {
	case f > n.hi:
		add("must be at most " + number(n.hi) + ", got " + number(f))
	case f == n.hi && n.hiExcl:
		add("must be less than " + number(n.hi) + ", got " + number(f))
	}
	if n.multipleOf != 0 && !isMultiple(f, n.multipleOf) {
		add("must be a multiple of " + number(n.multipleOf) + ", got " + number(f))
	}
}

func (n *node) explainArray(x []any, ptr string, depth int, out *[]Violation, add func(string)) {
	if len(x) < n.minItems {
		add(atLeast(n.minItems, "item") + ", got " + strconv.Itoa(len(x)))
	}
	if n.maxItems >= 0 && len(x) > n.maxItems {
		add(atMost(n.maxItems, "item") + ", got " + strconv.Itoa(len(x)))
	}
	if n.unique {
	dup: // the first pair, as validators report it: the lowest second index
		for i := 1; i < len(x); i++ {
			for j := range i {
				if value.Equal(x[i], x[j]) {
					add("must have unique items, got items " + strconv.Itoa(j) + " and " + strconv.Itoa(i) + " equal")
					break dup
				}
			}
		}
	}
	if n.contains != nil {
		c := n.containing(x, depth)
		if c < n.minContains {
			// The items that do not match say why; an empty array has none.
			if len(x) == 0 {
				add(atLeast(n.minContains, "item") + " matching the schema under 'contains', got none")
			}
			for i, e := range x {
				if !n.contains.check(e, depth+1) {
					n.contains.explain(e, ptr+"/"+strconv.Itoa(i), depth+1, out)
				}
			}
		}
		if n.maxContains >= 0 && c > n.maxContains {
			add(atMost(n.maxContains, "item") + " matching the schema under 'contains', got " + strconv.Itoa(c))
		}
	}
	for i, e := range x {
		s := n.items
		if i < len(n.prefix) {
			s = n.prefix[i]
		}
		if s != nil && !s.check(e, depth+1) {
			s.explain(e, ptr+"/"+strconv.Itoa(i), depth+1, out)
		}
	}
}

func (n *node) explainObject(x map[string]any, ptr string, depth int, out *[]Violation, add func(string)) {
	if len(x) < n.minProps {
		add(atLeast(n.minProps, "property") + ", got " + strconv.Itoa(len(x)))
	}
	if n.maxProps >= 0 && len(x) > n.maxProps {
		add(atMost(n.maxProps, "property") + ", got " + strconv.Itoa(len(x)))
	}
	var missing []string
	for _, r := range n.required {
		if _, ok := x[r]; !ok {
			missing = append(missing, r)
		}
	}
	switch len(missing) {
	case 0:
	case 1:
		add("must have the property " + quote(missing[0]))
	default:
		add("must have the properties " + quoteAll(missing))
	}
	var extra []string
	for _, k := range sortedKeys(x) {
		e, at := x[k], ptr+"/"+escape(k)
		matched := false
		if s, ok := n.props[k]; ok {
			matched = true
			if !s.check(e, depth+1) {
				s.explain(e, at, depth+1, out)
			}
		}
		for _, p := range n.patterns {
			if p.re.MatchString(k) {
				matched = true
				if !p.schema.check(e, depth+1) {
					p.schema.explain(e, at, depth+1, out)
				}
			}
		}
		switch {
		case matched || n.additional == nil:
		case n.additional.never: // additionalProperties: false
			extra = append(extra, k)
		case !n.additional.check(e, depth+1):
			n.additional.explain(e, at, depth+1, out)
		}
		if n.names != nil && !n.names.check(k, depth+1) {
			// Said at the object, where the name is: the name is no
			// location of the document.
			var why []Violation
			n.names.explain(k, "", depth+1, &why)
			msg := "property name " + quote(k)
			if len(why) > 0 {
				msg += ": " + why[0].Message
			}
			add(msg)
		}
	}
	if len(extra) > 0 {
		if len(extra) == 1 {
			add("must not have the property " + quote(extra[0]) + " (not declared)")
		} else {
			add("must not have the properties " + quoteAll(extra) + " (not declared)")
		}
	}
}

// typeList names the types n allows, as "string or null".
func (n *node) typeList() string {
	var names []string
	for _, t := range [...]struct {
		k    kind
		name string
	}{{kNull, "null"}, {kBool, "boolean"}, {kNum, "number"}, {kInt, "integer"}, {kString, "string"}, {kArray, "array"}, {kObject, "object"}} {
		if n.types&t.k == t.k && !(t.k == kInt && n.types&kNum == kNum) {
			names = append(names, t.name)
		}
	}
	for i, name := range names {
		names[i] = withArticle(name)
	}
	return strings.Join(names, " or ")
}

// jsonType names the type of v: every number is a number.
func jsonType(v any) string {
	switch kindOf(v) {
	case kNull:
		return "null"
	case kBool:
		return "boolean"
	case kInt, kFrac:
		return "number"
	case kString:
		return "string"
	case kArray:
		return "array"
	case kObject:
		return "object"
	}
	return "invalid"
}

func enumMessage(vals []any) string {
	var want []string
	for _, v := range vals {
		switch v.(type) {
		case []any, map[string]any:
			return "must be one of the values the schema lists"
		}
		want = append(want, shown(v))
	}
	switch len(want) {
	case 0:
		return "no value is allowed here"
	case 1:
		return "must be " + want[0]
	}
	return "must be one of " + strings.Join(want, ", ")
}

// shown writes a scalar as a message shows it: strings quoted, numbers
// as JSON writes them; an array or an object by its type.
func shown(v any) string {
	switch x := v.(type) {
	case string:
		return quote(x)
	case nil:
		return "null"
	case bool:
		return strconv.FormatBool(x)
	case int:
		return strconv.Itoa(x)
	case float64:
		return number(x)
	}
	return withArticle(jsonType(v))
}

// withArticle is "a string", "an integer", "null".
func withArticle(t string) string {
	switch t {
	case "null":
		return t
	case "integer", "array", "object":
		return "an " + t
	}
	return "a " + t
}

func atLeast(n int, unit string) string { return "must have at least " + count(n, unit) }
func atMost(n int, unit string) string  { return "must have at most " + count(n, unit) }

func count(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	if strings.HasSuffix(unit, "y") {
		return strconv.Itoa(n) + " " + strings.TrimSuffix(unit, "y") + "ies"
	}
	return strconv.Itoa(n) + " " + unit + "s"
}

// oneTypeEach keeps one type mismatch per location: a schema that asks
// for a number and, in an allOf, for an integer says "must be an
// integer" once, not both.
func oneTypeEach(vs []Violation) []Violation {
	best := map[string]int{} // pointer -> index of its narrowest type mismatch
	for i, v := range vs {
		if v.types == 0 {
			continue
		}
		j, ok := best[v.Pointer]
		if !ok || narrower(v.types, vs[j].types) {
			best[v.Pointer] = i
		}
	}
	out := vs[:0]
	for i, v := range vs {
		if v.types != 0 && best[v.Pointer] != i {
			continue
		}
		v.types = 0
		out = append(out, v)
	}
	return out
}

// narrower reports whether types a admit fewer values than b.
func narrower(a, b kind) bool {
	if bits.OnesCount8(uint8(a)) != bits.OnesCount8(uint8(b)) {
		return bits.OnesCount8(uint8(a)) < bits.OnesCount8(uint8(b))
	}
	return a&kFrac == 0 && b&kFrac != 0 // integer before number
}

// number writes f as JSON does: integers without an exponent.
func number(f float64) string {
	if f == math.Trunc(f) && math.Abs(f) <= maxSafe {
		return strconv.FormatInt(int64(f), 10)
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

// quote quotes s in single quotes, as the messages have always done.
func quote(s string) string {
	q := strconv.Quote(s)
	q = strings.ReplaceAll(q[1:len(q)-1], `\"`, `"`)
	return "'" + strings.ReplaceAll(q, "'", `\'`) + "'"
}

func quoteAll(list []string) string {
	q := make([]string, len(list))
	for i, s := range list {
		q[i] = quote(s)
	}
	return strings.Join(q, ", ")
}
