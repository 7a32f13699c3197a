package interpreter

import (
	"errors"
	"fmt"
	"golang.org/x/text/language"
	"golang.org/x/text/message"

	"github.com/santhosh-tekuri/jsonschema/v6"
	jskind "github.com/santhosh-tekuri/jsonschema/v6/kind"

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

// validate lists every leaf violation of v against s, in document order.
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
				out = append(out, Violation{Pointer: value.Pointer(e.InstanceLocation), Message: e.ErrorKind.LocalizedString(printer)})
			}
			return
		}
		for _, c := range e.Causes {
			walk(c)
		}
	}
	walk(ve)
	return out
}

var printer = message.NewPrinter(language.English)
