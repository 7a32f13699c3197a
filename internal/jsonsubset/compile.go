package jsonsubset

import (
	"cmp"
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

const maxSafe = 1<<53 - 1 // the largest integer a float64 holds exactly

// schemaError says why a schema cannot be sampled, and where (an RFC 6901
// pointer into it).
type schemaError struct {
	ptr, reason string
}

func (e *schemaError) Error() string { return "sample: #" + e.ptr + ": " + e.reason }

func errAt(ptr, format string, args ...any) error {
	return &schemaError{ptr, fmt.Sprintf(format, args...)}
}

// kind is a set of JSON types; integers and other numbers are apart so that
// "integer" is a subset of "number".
type kind uint8

const (
	kNull kind = 1 << iota
	kBool
	kInt
	kFrac
	kString
	kArray
	kObject
	kNum = kInt | kFrac
	kAll = kNull | kBool | kNum | kString | kArray | kObject
)

// kindNames and namedKinds pair the JSON Schema type names with kinds.
var (
	kindNames  = [...]string{"null", "boolean", "integer", "number", "string", "array", "object"}
	namedKinds = [...]kind{kNull, kBool, kInt, kNum, kString, kArray, kObject}
)

func kindOf(v any) kind {
	switch x := v.(type) {
	case nil:
		return kNull
	case bool:
		return kBool
	case int:
		return kInt
	case float64:
		if x == math.Trunc(x) {
			return kInt
		}
		return kFrac
	case string:
		return kString
	case []any:
		return kArray
	case map[string]any:
		return kObject
	}
	return 0
}

// node is one compiled schema location: its own keywords, with
// subschemas compiled to nodes and $ref resolved.
type node struct {
	ptr     string
	never   bool // the false schema
	types   kind // 0: any
	hints   kind // the types its keywords are about
	enum    []any
	hasEnum bool
	enumPtr string
	ref     *node
	allOf   []*node
	anyOf   []*node
	oneOf   []*node
	not     *node
	hasRef  bool // a $ref is somewhere below: the schema may recurse

	lo, hi         float64 // ±Inf when unbounded
	loExcl, hiExcl bool
	multipleOf     float64

	minLen, maxLen int // maxLen < 0: none
	pattern        *regexp.Regexp
	format         string

	prefix             []*node
	items              *node
	minItems, maxItems int
	unique             bool
	contains           *node
	minContains        int // 1 unless given
	maxContains        int // < 0: none

	cond, then, els *node // if, then, else

	props              map[string]*node
	required           []string
	additional         *node
	patterns           []patternProp
	names              *node
	minProps, maxProps int
}

type patternProp struct {
	re     *regexp.Regexp
	ptr    string
	schema *node
}

func newNode(ptr string) *node {
	return &node{ptr: ptr, lo: math.Inf(-1), hi: math.Inf(1), maxLen: -1, maxItems: -1, maxProps: -1, minContains: 1, maxContains: -1}
}

// Schema is a JSON Schema compiled once into nodes; it is immutable and
// safe for concurrent use.
type Schema struct {
	root        *node
	decides     bool
	ungenerable string // where the first contains or if is: generation takes neither
}

// Compile compiles doc (a decoded JSON Schema: map[string]any as
// encoding/json gives it). An error says what is unsupported or malformed
// and where, as a JSON pointer into the schema.
func Compile(doc map[string]any) (*Schema, error) {
	c := &compiling{doc: doc, nodes: map[string]*node{}, decides: true}
	if d, ok := doc["$schema"]; ok && d != draft2020 {
		c.decides = false // another draft reads some keywords otherwise
	}
	root, err := c.schema(doc, "")
	if err != nil {
		return nil, err
	}
	return &Schema{root: root, decides: c.decides, ungenerable: c.ungenerable}, nil
}

// Decides reports whether [Schema.Valid] answers as a JSON Schema 2020-12
// validator does. It does not when the schema holds what generation may
// ignore but validation may not: an $id below the root (it moves the base
// of the $refs under it) or a $schema naming another draft.
func (s *Schema) Decides() bool { return s.decides }

const draft2020 = "https://json-schema.org/draft/2020-12/schema"

type compiling struct {
	doc         map[string]any
	nodes       map[string]*node
	decides     bool
	ungenerable string
}

func (c *compiling) schema(x any, ptr string) (*node, error) {
	if n, ok := c.nodes[ptr]; ok {
		return n, nil // also how recursion through $ref ends
	}
	n := newNode(ptr)
	c.nodes[ptr] = n
	switch s := x.(type) {
	case bool:
		n.never = !s
	case map[string]any:
		for _, kw := range sortedKeys(s) { // sorted: the first error is always the same
			if err := c.keyword(n, kw, s[kw], ptr+"/"+escape(kw)); err != nil {
				return nil, err
			}
		}
	default:
		return nil, errAt(ptr, "a schema must be an object or a boolean")
	}
	return n, nil
}

// The keywords compiled here, by number. A keyword is looked up by name
// once and then switched on by number: a Worker links this compiler, and
// in wasm every case of a switch over strings is a comparison call.
const (
	kwType = iota
	kwEnum
	kwConst
	kwRef
	kwAllOf
	kwAnyOf
	kwOneOf
	kwNot
	kwMinimum // the four bounds in this order: lower ones first
	kwExclusiveMinimum
	kwMaximum
	kwExclusiveMaximum
	kwMultipleOf
	kwMinLength // the six sizes in the order of sizeHints
	kwMaxLength
	kwMinItems
	kwMaxItems
	kwMinProperties
	kwMaxProperties
	kwPattern
	kwFormat
	kwItems
	kwPrefixItems
	kwUniqueItems
	kwProperties
	kwRequired
	kwAdditionalProperties
	kwPatternProperties
	kwPropertyNames
	kwContains // these four single subschemas, and the two counts, are
	kwIf       // checked when validating; generation leaves them to the
	kwThen     // final check of each candidate
	kwElse
	kwMinContains
	kwMaxContains
	kwID
	kwAnnotation // this and the names after it have no effect on validity
)

var keywords = [...]string{
	"type", "enum", "const", "$ref", "allOf", "anyOf", "oneOf", "not",
	"minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum", "multipleOf",
	"minLength", "maxLength", "minItems", "maxItems", "minProperties", "maxProperties",
	"pattern", "format", "items", "prefixItems", "uniqueItems",
	"properties", "required", "additionalProperties", "patternProperties", "propertyNames",
	"contains", "if", "then", "else", "minContains", "maxContains", "$id",
	// annotations
	"$schema", "$comment", "$defs", "definitions", "title", "description", "default", "examples",
	"deprecated", "readOnly", "writeOnly", "contentMediaType", "contentEncoding",
}

var sizeHints = [...]kind{kString, kString, kArray, kArray, kObject, kObject}

func (c *compiling) keyword(n *node, kw string, arg any, p string) error {
	id := slices.Index(keywords[:], kw)
	var err error
	var bad string // what is wrong with arg: one error below, less code in a Worker
	switch id {
	case -1:
		bad = "keyword " + strconv.Quote(kw) + " is not supported"
	case kwType:
		names, isList := arg.([]any)
		if !isList {
			names = []any{arg}
		}
		ok := true
		for _, name := range names {
			s, _ := name.(string)
			k := slices.Index(kindNames[:], s)
			if k < 0 {
				ok = false
				continue
			}
			n.types |= namedKinds[k]
		}
		if !ok || n.types == 0 {
			bad = "type must be a JSON type name or a list of them"
		}
	case kwEnum, kwConst:
		vals := []any{arg}
		if id == kwEnum {
			list, ok := arg.([]any)
			if !ok {
				bad = "enum must be an array"
				break
			}
			vals = list
		}
		if n.hasEnum { // const and enum together: only common values
			both, k := make([]any, len(vals)), 0
			for _, v := range vals {
				if has(n.enum, v) {
					both[k], k = v, k+1
				}
			}
			vals = both[:k]
		}
		n.enum, n.hasEnum, n.enumPtr = vals, true, p
	case kwRef:
		s, _ := arg.(string)
		if !strings.HasPrefix(s, "#") {
			bad = "only local references (#...) are supported, not " + strconv.Quote(s)
			break
		}
		target := s[1:]
		if t, err := url.PathUnescape(target); err == nil {
			target = t
		}
		x, ok := lookup(c.doc, target)
		if !ok {
			bad = "reference " + strconv.Quote(s) + " does not resolve"
			break
		}
		n.ref, err = c.schema(x, target)
		n.hasRef = true
	case kwAllOf, kwAnyOf, kwOneOf, kwPrefixItems:
		// One call for the four lists, and one for the four single
		// subschemas below: each call site is much code in wasm.
		var list []*node
		list, err = c.subs(n, kw, arg, p)
		switch id {
		case kwAllOf:
			n.allOf = list
		case kwAnyOf:
			n.anyOf = list
		case kwOneOf:
			n.oneOf = list
		default:
			n.prefix, n.hints = list, n.hints|kArray
		}
	case kwNot, kwItems, kwAdditionalProperties, kwPropertyNames, kwContains, kwIf, kwThen, kwElse:
		if _, isList := arg.([]any); isList && id == kwItems {
			bad = "items must be a schema (tuples are prefixItems in 2020-12)"
			break
		}
		var s *node
		s, err = c.sub(n, arg, p)
		switch id {
		case kwNot:
			n.not = s
		case kwItems:
			n.items, n.hints = s, n.hints|kArray
		case kwAdditionalProperties:
			n.additional, n.hints = s, n.hints|kObject
		case kwContains:
			n.contains, n.hints = s, n.hints|kArray
			c.ungenerable = cmp.Or(c.ungenerable, p)
		case kwIf:
			n.cond = s
			c.ungenerable = cmp.Or(c.ungenerable, p)
		case kwThen:
			n.then = s
		case kwElse:
			n.els = s
		default:
			n.names, n.hints = s, n.hints|kObject
		}
	case kwMinimum, kwExclusiveMinimum, kwMaximum, kwExclusiveMaximum:
		f, ok := toFloat(arg)
		if !ok {
			bad = kw + " must be a number"
			break
		}
		excl := id == kwExclusiveMinimum || id == kwExclusiveMaximum
		if id <= kwExclusiveMinimum {
			if f > n.lo || f == n.lo && excl {
				n.lo, n.loExcl = f, excl
			}
		} else if f < n.hi || f == n.hi && excl {
			n.hi, n.hiExcl = f, excl
		}
		n.hints |= kNum
	case kwMultipleOf:
		f, ok := toFloat(arg)
		if !ok || f <= 0 {
			bad = "multipleOf must be a positive number"
			break
		}
		n.multipleOf, n.hints = f, n.hints|kNum
	case kwMinLength, kwMaxLength, kwMinItems, kwMaxItems, kwMinProperties, kwMaxProperties:
		f, ok := toFloat(arg)
		if !ok || f < 0 || f != math.Trunc(f) {
			bad = kw + " must be a non-negative integer"
			break
		}
		sizes := [...]*int{&n.minLen, &n.maxLen, &n.minItems, &n.maxItems, &n.minProps, &n.maxProps}
		*sizes[id-kwMinLength] = int(min(f, maxSafe))
		n.hints |= sizeHints[id-kwMinLength]
	case kwMinContains, kwMaxContains:
		f, ok := toFloat(arg)
		if !ok || f < 0 || f != math.Trunc(f) {
			bad = kw + " must be a non-negative integer"
			break
		}
		if id == kwMinContains {
			n.minContains = int(min(f, maxSafe))
		} else {
			n.maxContains = int(min(f, maxSafe))
		}
	case kwPattern:
		n.pattern, err = parsePattern(arg, p)
		n.hints |= kString
	case kwFormat:
		n.format, _ = arg.(string)
		n.hints |= kString
	case kwUniqueItems:
		n.unique, _ = arg.(bool)
		n.hints |= kArray
	case kwProperties:
		m, ok := arg.(map[string]any)
		if !ok {
			bad = "properties must be an object"
			break
		}
		n.props = map[string]*node{}
		for _, k := range sortedKeys(m) {
			if n.props[k], err = c.sub(n, m[k], p+"/"+escape(k)); err != nil {
				return err
			}
		}
		n.hints |= kObject
	case kwRequired:
		list, _ := arg.([]any)
		n.required = make([]string, len(list))
		for i, x := range list {
			s, ok := x.(string)
			if !ok {
				bad = "required must be an array of strings"
				break
			}
			n.required[i] = s
		}
		n.hints |= kObject
	case kwPatternProperties:
		m, ok := arg.(map[string]any)
		if !ok {
			bad = "patternProperties must be an object"
			break
		}
		n.patterns = make([]patternProp, len(m))
		for i, pat := range sortedKeys(m) {
			pp := &n.patterns[i]
			pp.ptr = p + "/" + escape(pat)
			if pp.re, err = parsePattern(pat, pp.ptr); err != nil {
				return err
			}
			if pp.schema, err = c.sub(n, m[pat], pp.ptr); err != nil {
				return err
			}
		}
		n.hints |= kObject
	case kwID:
		c.decides = c.decides && p == "/$id" // see Decides
	}
	if bad != "" {
		return &schemaError{p, bad}
	}
	return err
}

// sub compiles a subschema of n.
func (c *compiling) sub(n *node, x any, p string) (*node, error) {
	s, err := c.schema(x, p)
	if err == nil {
		n.hasRef = n.hasRef || s.hasRef
	}
	return s, err
}

// subs compiles the list of subschemas of n that kw holds.
func (c *compiling) subs(n *node, kw string, arg any, p string) ([]*node, error) {
	list, ok := arg.([]any)
	if !ok || len(list) == 0 {
		return nil, errAt(p, "%s must be a non-empty array of schemas", kw)
	}
	out := make([]*node, len(list))
	for i, x := range list {
		s, err := c.sub(n, x, p+"/"+strconv.Itoa(i))
		if err != nil {
			return nil, err
		}
		out[i] = s
	}
	return out, nil
}

func parsePattern(arg any, p string) (*regexp.Regexp, error) {
	s, ok := arg.(string)
	if !ok {
		return nil, errAt(p, "a pattern must be a string")
	}
	re, err := regexp.Compile(s)
	if err != nil {
		return nil, errAt(p, "invalid pattern: %v", err)
	}
	return re, nil
}

// lookup resolves an RFC 6901 pointer in doc.
func lookup(doc any, ptr string) (any, bool) {
	if ptr == "" {
		return doc, true
	}
	if !strings.HasPrefix(ptr, "/") {
		return nil, false
	}
	x := doc
	for _, tok := range strings.Split(ptr[1:], "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		switch v := x.(type) {
		case map[string]any:
			var ok bool
			if x, ok = v[tok]; !ok {
				return nil, false
			}
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(v) {
				return nil, false
			}
			x = v[i]
		default:
			return nil, false
		}
	}
	return x, true
}

func escape(tok string) string {
	return strings.ReplaceAll(strings.ReplaceAll(tok, "~", "~0"), "/", "~1")
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func toFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case json.Number:
		f, err := x.Float64()
		return f, err == nil
	}
	return 0, false
}

// Bool is the boolean schema b: true accepts every document, false none.
func Bool(b bool) *Schema {
	n := newNode("")
	n.never = !b
	return &Schema{root: n, decides: true}
}
