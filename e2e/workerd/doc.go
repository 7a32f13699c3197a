// Package workerd tests the Cloudflare Workers build of cuesource end to
// end, under the real workerd runtime: it builds the cuesource binary and
// the engine's wasm, writes a Worker with `cuesource worker build`, serves
// it with the Miniflare 4 harness (harness.mjs, run by the repository's
// pinned Node 22) on 127.0.0.1, and talks to it only over HTTP.
//
// It checks that every scenario passes over HTTP against the Worker; that
// the Worker answers a sequence of requests exactly as the native server
// does (status codes, bodies without ids and times, headers, the global
// log, the OpenAPI document, the admin endpoints); that Durable Object and
// D1 state survive a restart; that instances are isolated from each other
// under concurrent commands; that a Go panic inside an object, or the end
// of the isolate's Go runtime, leaves the Worker serving; that events
// reach the global log exactly once and in order after D1 failed for a
// while; and that the wasm build links no CUE and stays under 3 MB
// gzipped. It also runs the projector's failures and a redeploy that
// rebuilds a changed projection, queue effects and the webhook policy,
// event evolution, the live stream, the limits (a page's bytes, a wide
// projection), idempotency records' expiry, the tokens, the hostile
// definition and hostile-HTTP table, `cuesource export` and `cuesource
// inspect` from a Worker, and `cuesource worker dev`.
//
// It needs the JavaScript toolchain in node_modules (`make npm`): without
// it the workerd tests skip, or fail when the environment variable CI is
// set. All tests skip under -short.
package workerd
