package interpreter

import (
	"math"
	"regexp"
	"unicode/utf8"

	"github.com/cuesource/cuesource/value"
)

// check is a compiled fast path for the JSON Schema subset CUE generates.
// It only answers valid or not: an invalid document is validated again by
// jsonschema, which words the violations. So the fast path must never call
// a document valid that jsonschema rejects; a schema using any keyword it
// does not know gets no fast path at all (fastCheck returns nil).
type check func(v any) bool

func fastCheck(s map[string]any) check {
	c, ok := compileCheck(s, 0)
	if !ok {
		return nil
	}
	return c
}

// Keywords without effect on validity here: annotations, and $defs, which
// only matter through $ref (which has no fast path).
var annotations = map[string]bool{
	"$schema": true, "$id": true, "$comment": true, "$defs": true, "title": true, "description": true,
	"default": true, "examples": true, "deprecated": true, "readOnly": true, "writeOnly": true,
	"format": true, // an annotation unless format assertion is turned on, which it is not
}

func compileCheck(s map[string]any, depth int) (check, bool) {
	if depth > 32 {
		return nil, false
	}
	var checks []check
	add := func(c check) { checks = append(checks, c) }
	for kw, arg := range s {
		switch kw {
		case "type":
			types, ok := typeList(arg)
			if !ok {
				return nil, false
			}
			add(func(v any) bool {
				for _, t := range types {
					if hasType(v, t) {
						return true
					}
				}
				return false
			})
		case "properties":
			props := map[string]check{}
			for name, ps := range asMap(arg) {
				pm, ok := ps.(map[string]any)
				if !ok {
					return nil, false
				}
				pc, ok := compileCheck(pm, depth+1)
				if !ok {
					return nil, false
				}
				props[name] = pc
			}
			add(func(v any) bool {
				m, ok := v.(map[string]any)
				if !ok {
					return true
				}
				for name, pc := range props {
					if pv, ok := m[name]; ok && !pc(pv) {
						return false
					}
				}
				return true
			})
		case "additionalProperties":
			declared := map[string]bool{}
			for name := range asMap(s["properties"]) {
				declared[name] = true
			}
			if _, ok := s["patternProperties"]; ok {
				return nil, false
			}
			var extra check
			switch a := arg.(type) {
			case bool:
				if a {
					continue
				}
				extra = func(any) bool { return false }
			case map[string]any:
				var ok bool
				if extra, ok = compileCheck(a, depth+1); !ok {
					return nil, false
				}
			default:
				return nil, false
			}
			add(func(v any) bool {
				m, ok := v.(map[string]any)
				if !ok {
					return true
				}
				for k, e := range m {
					if !declared[k] && !extra(e) {
						return false
					}
				}
				return true
			})
		case "required":
			var names []string
			for _, r := range asList(arg) {
				n, ok := r.(string)
				if !ok {
					return nil, false
				}
				names = append(names, n)
			}
			add(func(v any) bool {
				m, ok := v.(map[string]any)
				if !ok {
					return true
				}
				for _, n := range names {
					if _, ok := m[n]; !ok {
						return false
					}
				}
				return true
			})
		case "items":
			im, ok := arg.(map[string]any)
			if !ok {
				return nil, false
			}
			ic, ok := compileCheck(im, depth+1)
			if !ok {
				return nil, false
			}
			add(func(v any) bool {
				l, ok := v.([]any)
				if !ok {
					return true
				}
				for _, e := range l {
					if !ic(e) {
						return false
					}
				}
				return true
			})
		case "minItems", "maxItems", "minLength", "maxLength", "minProperties", "maxProperties":
			n, ok := arg.(float64)
			if !ok || n != math.Trunc(n) {
				return nil, false
			}
			add(sizeCheck(kw, int(n)))
		case "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum":
			n, ok := arg.(float64)
			if !ok {
				return nil, false
			}
			add(boundCheck(kw, n))
		case "pattern":
			p, ok := arg.(string)
			if !ok {
				return nil, false
			}
			re, err := regexp.Compile(p)
			if err != nil {
				return nil, false
			}
			add(func(v any) bool {
				str, ok := v.(string)
				return !ok || re.MatchString(str)
			})
		case "enum":
			vals := asList(arg)
			add(func(v any) bool {
				for _, e := range vals {
					if value.Equal(v, e) {
						return true
					}
				}
				return false
			})
		case "const":
			add(func(v any) bool { return value.Equal(v, arg) })
		case "allOf", "anyOf", "oneOf":
			var subs []check
			for _, sub := range asList(arg) {
				sm, ok := sub.(map[string]any)
				if !ok {
					return nil, false
				}
				sc, ok := compileCheck(sm, depth+1)
				if !ok {
					return nil, false
				}
				subs = append(subs, sc)
			}
			add(combinator(kw, subs))
		case "not":
			nm, ok := arg.(map[string]any)
			if !ok {
				return nil, false
			}
			nc, ok := compileCheck(nm, depth+1)
			if !ok {
				return nil, false
			}
			add(func(v any) bool { return !nc(v) })
		default:
			if !annotations[kw] {
				return nil, false
			}
		}
	}
	return func(v any) bool {
		for _, c := range checks {
			if !c(v) {
				return false
			}
		}
		return true
	}, true
}

func typeList(arg any) ([]string, bool) {
	switch t := arg.(type) {
	case string:
		return []string{t}, true
	case []any:
		var out []string
		for _, e := range t {
			s, ok := e.(string)
			if !ok {
				return nil, false
			}
			out = append(out, s)
		}
		return out, true
	}
	return nil, false
}

func hasType(v any, t string) bool {
	switch t {
	case "string":
		_, ok := v.(string)
		return ok
	case "boolean":
		_, ok := v.(bool)
		return ok
	case "null":
		return v == nil
	case "object":
		_, ok := v.(map[string]any)
		return ok
	case "array":
		_, ok := v.([]any)
		return ok
	case "number":
		_, ok := number(v)
		return ok
	case "integer":
		// JSON Schema: a number with no fractional part, written 2 or 2.0.
		f, ok := number(v)
		return ok && f == math.Trunc(f)
	}
	return false
}

func number(v any) (float64, bool) {
	switch n := v.(type) {
	case int:
		return float64(n), true
	case float64:
		return n, true
	}
	return 0, false
}

func sizeCheck(kw string, n int) check {
	size := func(v any) (int, bool) {
		switch x := v.(type) {
		case string:
			if kw == "minLength" || kw == "maxLength" {
				return utf8.RuneCountInString(x), true
			}
		case []any:
			if kw == "minItems" || kw == "maxItems" {
				return len(x), true
			}
		case map[string]any:
			if kw == "minProperties" || kw == "maxProperties" {
				return len(x), true
			}
		}
		return 0, false
	}
	min := kw == "minItems" || kw == "minLength" || kw == "minProperties"
	return func(v any) bool {
		got, ok := size(v)
		if !ok {
			return true
		}
		if min {
			return got >= n
		}
		return got <= n
	}
}

func boundCheck(kw string, bound float64) check {
	return func(v any) bool {
		f, ok := number(v)
		if !ok {
			return true
		}
		switch kw {
		case "minimum":
			return f > bound
		case "maximum":
			return f <= bound
		case "exclusiveMinimum":
			return f > bound
		default:
			return f < bound
		}
	}
}

func combinator(kw string, subs []check) check {
	return func(v any) bool {
		n := 0
		for _, sc := range subs {
			if sc(v) {
				n++
			} else if kw == "allOf" {
				return false
			}
		}
		switch kw {
		case "anyOf":
			return n > 0
		case "oneOf":
			return n == 1
		}
		return true
	}
}
