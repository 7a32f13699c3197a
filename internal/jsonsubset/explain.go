package jsonsubset

import (
	"math"
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
	add := func(msg string) { *out = append(*out, Violation{ptr, msg}) }
	if n.never {
		add("false schema")
		return
	}
	if depth > 256 {
		add("the schema nests too deep here")
		return
	}
	if n.types != 0 && n.types&kindOf(v) == 0 {
		add("got " + jsonType(v) + ", want " + n.typeList())
		return
	}
	if n.hasEnum && !has(n.enum, v) {
		add(enumMessage(n.enum))
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
			add(gotWant("minLength", l, n.minLen))
		}
		if n.maxLen >= 0 && l > n.maxLen {
			add(gotWant("maxLength", l, n.maxLen))
		}
		if n.pattern != nil && !n.pattern.MatchString(x) {
			add(quote(x) + " does not match pattern " + quote(n.pattern.String()))
		}
	case []any:
		n.explainArray(x, ptr, depth, out, add)
	case map[string]any:
		n.explainObject(x, ptr, depth, out, add)
	}
	if n.not != nil && sub(n.not) {
		add("'not' failed")
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
			add("'oneOf' failed, subschemas " + strconv.Itoa(matched[0]) + ", " + strconv.Itoa(matched[1]) + " matched")
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
		add(gotWant("minItems", len(x), n.minItems))
	}
	if n.maxItems >= 0 && len(x) > n.maxItems {
		add(gotWant("maxItems", len(x), n.maxItems))
	}
	if n.unique {
	dup: // the first pair, as validators report it: the lowest second index
		for i := 1; i < len(x); i++ {
			for j := range i {
				if value.Equal(x[i], x[j]) {
					add("items at " + strconv.Itoa(j) + " and " + strconv.Itoa(i) + " are equal")
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
				if n.minContains == 1 {
					add("no items match contains schema")
				} else {
					add("min " + strconv.Itoa(n.minContains) + " items required to match contains schema, but none matched")
				}
			}
			for i, e := range x {
				if !n.contains.check(e, depth+1) {
					n.contains.explain(e, ptr+"/"+strconv.Itoa(i), depth+1, out)
				}
			}
		}
		if n.maxContains >= 0 && c > n.maxContains {
			add("max " + strconv.Itoa(n.maxContains) + " items required to match contains schema, but matched " + strconv.Itoa(c) + " items")
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
		add(gotWant("minProperties", len(x), n.minProps))
	}
	if n.maxProps >= 0 && len(x) > n.maxProps {
		add(gotWant("maxProperties", len(x), n.maxProps))
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
		add("missing property " + quote(missing[0]))
	default:
		add("missing properties " + quoteAll(missing))
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
			msg := "invalid property name " + quote(k)
			if len(why) > 0 {
				msg += ": " + why[0].Message
			}
			add(msg)
		}
	}
	if len(extra) > 0 {
		add("additional properties " + quoteAll(extra) + " not allowed")
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
		switch x := v.(type) {
		case []any, map[string]any:
			return "value must be one of the values the schema lists"
		case string:
			want = append(want, quote(x))
		case nil:
			want = append(want, "null")
		case bool:
			want = append(want, strconv.FormatBool(x))
		case int:
			want = append(want, strconv.Itoa(x))
		case float64:
			want = append(want, number(x))
		}
	}
	switch len(want) {
	case 0:
		return "no value is allowed here"
	case 1:
		return "value must be " + want[0]
	}
	return "value must be one of " + strings.Join(want, ", ")
}

func gotWant(kw string, got, want int) string {
	return kw + ": got " + strconv.Itoa(got) + ", want " + strconv.Itoa(want)
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
