// Package schema holds the CUE schema of a context, #Context, and embeds it
// so the compiler can unify any context with it even outside this module.
//
// The same file is the CUE package github.com/cuesource/cuesource/schema
// that contexts import, so `cue vet` and `cuesource vet` check against one
// definition.
package schema

import _ "embed"

// Source is schema.cue.
//
//go:embed schema.cue
var Source []byte

// ImportPath is the CUE import path of the schema package.
const ImportPath = "github.com/cuesource/cuesource/schema"
