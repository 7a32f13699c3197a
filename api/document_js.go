//go:build js

package api

import "github.com/cuesource/cuesource/interpreter"

// openAPIOf is p's OpenAPI document, made by make (nil: none, 404).
// The Worker's build
// (GOOS=js) links no api/openapi (about 40 kB of its gzipped wasm): it
// serves the document `worker build` rendered with [OpenAPI], so it is
// the native server's byte for byte.
func openAPIOf(p *interpreter.Program, make func(*interpreter.Program) []byte) *document {
	if make == nil {
		return &document{}
	}
	return &document{make: func() []byte { return make(p) }}
}
