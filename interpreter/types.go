package interpreter

import (
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strings"
)

// typer synthesises Go types from JSON Schemas so that expr can check
// member access and operand types at compile time. It remembers a readable
// name for every struct type it makes, so checker messages can say
// "state.items[*]" instead of spelling out the struct.
type typer struct {
	names map[reflect.Type]string
}

var (
	anyType    = reflect.TypeOf((*any)(nil)).Elem()
	stringType = reflect.TypeOf("")
	intType    = reflect.TypeOf(0)
	floatType  = reflect.TypeOf(0.0)
	boolType   = reflect.TypeOf(false)
	mapType    = reflect.TypeOf(map[string]any{})
	listType   = reflect.TypeOf([]any{})
)

// typeOf maps a schema to a type; what it cannot type precisely becomes any,
// which expr leaves unchecked.
func (t *typer) typeOf(s map[string]any, name string, defs map[string]any, depth int) reflect.Type {
	if s == nil || depth > 32 {
		return anyType
	}
	if ref, ok := s["$ref"].(string); ok {
		if d, ok := defs[strings.TrimPrefix(ref, "#/$defs/")].(map[string]any); ok {
			return t.typeOf(d, name, defs, depth+1)
		}
		return anyType
	}
	if all, ok := s["allOf"].([]any); ok {
		// CUE writes `int & >0` as allOf[{type: number}, {type: integer, ...}]:
		// the most specific member wins.
		best := anyType
		for _, m := range all {
			mt := t.typeOf(asMap(m), name, defs, depth+1)
			if best == anyType || (best == floatType && mt == intType) {
				best = mt
			}
		}
		return best
	}
	if _, ok := s["anyOf"]; ok {
		return anyType
	}
	if _, ok := s["oneOf"]; ok {
		return anyType
	}
	if enum, ok := s["enum"].([]any); ok {
		return kindOfAll(enum)
	}
	if c, ok := s["const"]; ok {
		return kindOfAll([]any{c})
	}
	typ, _ := s["type"].(string)
	switch typ {
	case "string":
		return stringType
	case "integer":
		return intType
	case "number":
		return floatType
	case "boolean":
		return boolType
	case "array":
		if items := asMap(s["items"]); items != nil {
			return reflect.SliceOf(t.typeOf(items, name+"[*]", defs, depth+1))
		}
		return listType
	case "object":
		props := asMap(s["properties"])
		extra := s["additionalProperties"]
		if len(props) == 0 {
			if em := asMap(extra); em != nil {
				return reflect.MapOf(stringType, t.typeOf(em, name+"[*]", defs, depth+1))
			}
			if extra == false {
				return t.structOf(nil, name)
			}
			return mapType
		}
		if extra != nil && extra != false {
			return mapType
		}
		keys := make([]string, 0, len(props))
		for k := range props {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		fields := make([]reflect.StructField, 0, len(keys))
		for i, k := range keys {
			fields = append(fields, reflect.StructField{
				Name: fmt.Sprintf("F%d", i),
				Type: t.typeOf(asMap(props[k]), name+"."+k, defs, depth+1),
				Tag:  reflect.StructTag(fmt.Sprintf(`expr:%q`, k)),
			})
		}
		return t.structOf(fields, name)
	}
	return anyType
}

// structOf makes a struct type that is distinct per name: reflect returns
// one type for equal field lists, and a command payload shaped like an
// event payload must still be called cmd in messages, not event. The marker
// field is hidden from expressions under the name "-", which no identifier
// can spell.
func (t *typer) structOf(fields []reflect.StructField, name string) reflect.Type {
	marker := reflect.StructField{
		Name: fmt.Sprintf("Z%d", len(t.names)),
		Type: reflect.TypeOf(struct{}{}),
		Tag:  `expr:"-"`,
	}
	st := reflect.StructOf(append(fields, marker))
	t.names[st] = name
	return st
}

func kindOfAll(vals []any) reflect.Type {
	var k reflect.Type
	for _, v := range vals {
		var vk reflect.Type
		switch v.(type) {
		case string:
			vk = stringType
		case bool:
			vk = boolType
		case float64, int:
			vk = floatType
		default:
			return anyType
		}
		if k != nil && k != vk {
			return anyType
		}
		k = vk
	}
	if k == nil {
		return anyType
	}
	return k
}

func asMap(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

var (
	structTypeRE = regexp.MustCompile(`type struct \{.*\} has no field`)
	goTypeWords  = strings.NewReplacer(
		"map[string]interface {}", "object", "[]interface {}", "list", "interface {}", "any",
		"float64", "number", "int", "integer", "bool", "boolean", "time.Time", "time", "time.Duration", "duration",
	)
)

// readable rewrites checker messages in the words of the context: the
// synthesised structs by the path they type (state.items[*]), Go types by
// their JSON kinds.
func (t *typer) readable(msg string) string {
	msg = strings.ReplaceAll(msg, "type interpreter.Meta", "meta")
	msg = strings.ReplaceAll(msg, "interpreter.Meta", "meta")
	if !strings.Contains(msg, "struct {") {
		return goTypeWords.Replace(msg)
	}
	// Outer structs spell their inner ones: replace the longest first.
	strs := make([]string, 0, len(t.names))
	byStr := map[string]string{}
	for typ, name := range t.names {
		strs = append(strs, typ.String())
		byStr[typ.String()] = name
	}
	sort.Slice(strs, func(i, j int) bool { return len(strs[i]) > len(strs[j]) })
	for _, s := range strs {
		msg = strings.ReplaceAll(msg, "type "+s, byStr[s])
		msg = strings.ReplaceAll(msg, s, byStr[s])
	}
	return goTypeWords.Replace(structTypeRE.ReplaceAllString(msg, "object has no field"))
}

// kind is the JSON kind a Go type produces, for comparing an expression's
// result with a schema: "" when unknown.
func kind(t reflect.Type) string {
	if t == nil {
		return ""
	}
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "integer"
	case reflect.Float32, reflect.Float64:
		return "number"
	case reflect.Map, reflect.Struct:
		return "object"
	case reflect.Slice, reflect.Array:
		return "array"
	}
	return ""
}

// schemaKind is the JSON kind a schema demands: "" when several or unknown.
func schemaKind(s map[string]any, defs map[string]any) string {
	if s == nil {
		return ""
	}
	if ref, ok := s["$ref"].(string); ok {
		return schemaKind(asMap(defs[strings.TrimPrefix(ref, "#/$defs/")]), nil)
	}
	if all, ok := s["allOf"].([]any); ok {
		k := ""
		for _, m := range all {
			mk := schemaKind(asMap(m), defs)
			if k == "" || (k == "number" && mk == "integer") {
				k = mk
			}
		}
		return k
	}
	if enum, ok := s["enum"].([]any); ok {
		return kind(kindOfAll(enum))
	}
	typ, _ := s["type"].(string)
	return typ
}

// fits reports whether a value of kind got can stand where want is demanded.
func fits(got, want string) bool {
	switch {
	case got == "" || want == "" || got == want:
		return true
	case want == "number" && got == "integer":
		return true
	}
	return false
}
