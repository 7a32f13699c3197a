// Package openapi builds the OpenAPI 3.1 document of a context's HTTP API
// (GET /openapi.json): the paths from the route table, each command's
// operation with its payload schema, guards, invariants and answers, the
// read side, and the shared schemas. It reads the program and states the
// API's facts it is given; it answers nothing itself.
package openapi
