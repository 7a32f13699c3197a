// Package web is the playground and inspector: the browser UI that
// `cuesource play`, `cuesource serve` and `cuesource inspect` show at `/`.
//
// # What it owns
//
// The page and its assets (plain ES2022 modules, one stylesheet, no
// framework, no build step), embedded in the binary so the UI works
// offline, and [Handler], which serves them: `GET /` (index.html, with the
// admin token of a play session when there is one) and `GET /ui/...` (the
// assets). The page talks to the context's HTTP API from the same origin,
// or from another server the user connects to: commands through forms
// generated from each command's JSON Schema, the timeline of an instance
// from `/{aggregate}/{id}/history`, the read side, the live stream of
// `/events`, the storage report of `/admin/storage`, scenarios exported
// as CUE text, and, in a context with auth, the identity commands and
// queries are sent as (tokens the server mints at `/admin/dev-token`).
//
// # What it never does
//
// Routing the API or touching a store: the caller mounts [Handler] for `/`
// and `/ui/` beside the API, and everything the page shows comes from the
// API over HTTP.
package web
