//go:build !js

package api

import (
	"github.com/cuesource/cuesource/api/openapi"
	"github.com/cuesource/cuesource/interpreter"
)

func init() { writeOpenAPI = OpenAPI }

// OpenAPI is the OpenAPI document of the routes Serve answers for p (GET
// /openapi.json), with this API's page limit and problem types.
func OpenAPI(p *interpreter.Program) []byte {
	return openapi.Build(p, openapi.Facts{MaxPage: MaxPage, MaxHistory: MaxHistory, ProblemType: ProblemType})
}
