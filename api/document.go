//go:build !js

package api

import (
	"github.com/cuesource/cuesource/api/openapi"
	"github.com/cuesource/cuesource/interpreter"
)

// OpenAPI is the OpenAPI document of the routes Serve answers for p (GET
// /openapi.json), with this API's page limit and problem types.
func OpenAPI(p *interpreter.Program) []byte {
	return openapi.Build(p, openapi.Facts{MaxPage: MaxPage, ProblemType: ProblemType})
}

// openAPIOf is p's OpenAPI document, made by make (nil: [OpenAPI]).
func openAPIOf(p *interpreter.Program, make func(*interpreter.Program) []byte) *document {
	if make == nil {
		make = OpenAPI
	}
	return &document{make: func() []byte { return make(p) }}
}
