// Package compiler turns a context written in CUE into a manifest.
//
// # What it owns
//
// Loading a context file or directory with cuelang.org/go, unifying it with
// the embedded #Context schema, generating JSON Schema 2020-12 from the CUE
// type definitions (#state, #payload), and collecting every expression with
// the file, line and column where it was written. CUE errors come back as a
// [diag.List] with every error positioned.
//
// # What it never does
//
// Compile or run expressions, or check what the expressions mean: the
// interpreter does that from the manifest, so the checks `vet` runs and the
// checks a runtime runs on load are the same. This is the only package that
// imports CUE; runtimes never link it.
package compiler
