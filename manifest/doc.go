// Package manifest defines the compiled form of a context: plain, versioned,
// deterministic JSON that a runtime loads instead of the CUE source.
//
// # What it owns
//
// The data types of the manifest and their encoding. The compiler writes a
// manifest; the interpreter reads one. Nothing here evaluates CUE or
// expressions, so the package is safe to link into every runtime, including
// the WebAssembly build.
//
// # Format
//
// A manifest is one JSON object (see [Manifest]). Objects whose order matters
// (guards, emits, invariants, field-wise reducers, scenarios) are arrays;
// everything else is a map, which encoding/json writes with sorted keys, so
// the same source always gives the same bytes. Every expression carries its
// source text and position, so runtime errors can point at the definition.
// [Version] changes whenever a runtime would misread an older manifest.
package manifest
