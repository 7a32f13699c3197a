package interpreter

import (
	"errors"
	"fmt"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
	"math/big"
	"sort"
	"strconv"

	"github.com/santhosh-tekuri/jsonschema/v6"
	jskind "github.com/santhosh-tekuri/jsonschema/v6/kind"

	"github.com/cuesource/cuesource/internal/jsonsubset"
	"github.com/cuesource/cuesource/value"
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

type validator struct {
	full *jsonschema.Schema
	lazy *lazySchema        // when full is compiled on first use
	fast *jsonsubset.Schema // nil: the schema is outside the subset jsonsubset decides
}

// fastPath compiles the fast path for the JSON Schema subset CUE
// generates. It only answers valid or not: an invalid document is
// validated again by jsonschema, which words the violations. So it must
// never call a document valid that jsonschema rejects: a schema outside
// the subset gets no fast path at all, nor does a boolean schema (doc is
// nil: only objects decode into it).
func fastPath(doc map[string]any) *jsonsubset.Schema {
	if doc == nil {
		return nil
	}
	s, err := jsonsubset.Compile(doc)
	if err != nil || !s.Decides() {
		return nil
	}
	return s
}

func (vd validator) validate(v any) []Violation {
	if vd.fast != nil && vd.fast.Valid(v) {
		return nil
	}
	if vd.full == nil && vd.lazy != nil {
		s, err := vd.lazy.get()
		if err != nil {
			// Never accept what the fast path refused for want of a schema.
			return []Violation{{Message: "the schema does not compile: " + err.Error()}}
		}
		return validate(s, v)
	}
	return validate(vd.full, v)
}

// validate lists every leaf violation of v against s, sorted by pointer.
func validate(s *jsonschema.Schema, v any) []Violation {
	if s == nil {
		return nil
	}
	err := s.Validate(v)
	if err == nil {
		return nil
	}
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return []Violation{{Message: err.Error()}}
	}
	var out []Violation
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(e.Causes) == 0 {
			if _, group := e.ErrorKind.(*jskind.Group); !group {
				out = append(out, Violation{Pointer: value.Pointer(e.InstanceLocation), Message: describe(e.ErrorKind)})
			}
			return
		}
		for _, c := range e.Causes {
			walk(c)
		}
	}
	walk(ve)
	// The validator walks properties in map order; sort so that the same
	// document always lists its violations the same way.
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Pointer != out[j].Pointer {
			return out[i].Pointer < out[j].Pointer
		}
		return out[i].Message < out[j].Message
	})
	return out
}

// describe words the bounds messages the validator spells tersely.
func describe(k jsonschema.ErrorKind) string {
	var bound string
	var want, got *big.Rat
	switch k := k.(type) {
	case *jskind.Minimum:
		bound, want, got = "at least ", k.Want, k.Got
	case *jskind.Maximum:
		bound, want, got = "at most ", k.Want, k.Got
	case *jskind.ExclusiveMinimum:
		bound, want, got = "greater than ", k.Want, k.Got
	case *jskind.ExclusiveMaximum:
		bound, want, got = "less than ", k.Want, k.Got
	default:
		return k.LocalizedString(printer)
	}
	return "must be " + bound + ratText(want) + ", got " + ratText(got)
}

func ratText(r *big.Rat) string {
	f, _ := r.Float64()
	return strconv.FormatFloat(f, 'g', -1, 64)
}

var printer = message.NewPrinter(language.English)
