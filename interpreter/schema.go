package interpreter

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/cuesource/cuesource/internal/jsonsubset"
	"github.com/cuesource/cuesource/manifest"
)

// Violation is one way a document fails its schema.
type Violation struct {
	Pointer string `json:"pointer"` // RFC 6901; "" is the whole document
	Message string `json:"message"`
}

func (v Violation) String() string {
	p := v.Pointer
	if p == "" {
		p = "(root)"
	}
	return fmt.Sprintf("%s: %s", p, v.Message)
}

// validator validates documents against one schema. Package jsonsubset
// decides validity and words the violations, the same in every runtime.
type validator struct {
	s *jsonsubset.Schema // nil: the schema did not compile (an error says so)
}

// validate lists every leaf violation of v, sorted by pointer.
func (vd validator) validate(v any) []Violation {
	if vd.s == nil {
		return nil
	}
	vs := vd.s.Violations(v)
	if len(vs) == 0 {
		return nil
	}
	out := make([]Violation, len(vs))
	for i, x := range vs {
		out[i] = Violation{Pointer: x.Pointer, Message: x.Message}
	}
	return out
}

// compileSchema compiles a schema of the manifest. Only the subset of JSON
// Schema 2020-12 that package jsonsubset decides is accepted, in both
// compiles: every runtime validates with it, so a schema outside it is
// refused where it is declared rather than validated otherwise somewhere.
func compileSchema(raw json.RawMessage) (*jsonsubset.Schema, map[string]any, error) {
	// encoding/json, not package value, whose documents refuse integers a
	// float64 does not hold exactly: CUE's int64 bounds are such integers.
	var doc any
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, nil, fmt.Errorf("invalid JSON Schema: %v", err)
	}
	switch d := doc.(type) {
	case bool:
		return jsonsubset.Bool(d), nil, nil
	case map[string]any:
		s, err := jsonsubset.Compile(d)
		if err != nil {
			return nil, nil, fmt.Errorf("JSON Schema outside the subset cuesource validates: %s", strings.TrimPrefix(err.Error(), "sample: "))
		}
		if !s.Decides() {
			return nil, nil, fmt.Errorf("JSON Schema outside the subset cuesource validates: only draft 2020-12 is read, with $id at the root only")
		}
		return s, d, nil
	}
	return nil, nil, fmt.Errorf("invalid JSON Schema: a schema must be an object or a boolean")
}

func (c *compiler) schema(raw json.RawMessage, pos manifest.Pos) schema {
	fast, doc, err := compileSchema(raw)
	if err != nil {
		c.errs.Add(pos, "%v", err)
		return schema{}
	}
	return schema{fast: fast, doc: doc, defs: asMap(doc["$defs"])}
}
