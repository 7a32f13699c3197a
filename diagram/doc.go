// Package diagram draws a context's event model as SVG.
//
// # What it owns
//
// [SVG] lays out a manifest and writes the picture: one band per aggregate,
// its commands, the events they emit, and the projections and effects
// those events feed, with an arrow for every emit, projection handler,
// effect trigger and effect send (send links are dashed and routed around
// the bands, so they can cross aggregates). Every node and edge is a
// group with data attributes (data-kind, data-name, data-from, data-to)
// and a title, so a browser can make it clickable and tests can find it.
//
// # Layout
//
// Deterministic and computed here, with no layout engine: aggregates top
// to bottom by name; inside a band, commands by name in the first column,
// events in the second in the order their commands emit them, then
// projections and effects by name in the third. A projection or effect
// sits in the band of the aggregate most of its events come from. Box
// widths come from the text length at an approximate character width.
//
// # What it never does
//
// Compile or check a context, evaluate expressions, or do I/O: it reads a
// [manifest.Manifest] and imports only package manifest and the standard
// library, so it builds for WebAssembly and the API can serve the same
// picture.
package diagram
