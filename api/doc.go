// Package api is the HTTP semantics of a context, once, for every runtime.
//
// # What it owns
//
// Routes (on paths normalised as the URL standard normalises them, since a
// Workers runtime does so before a Worker sees them), the rule for
// instance ids, the validation of headers, bodies and query parameters, status
// codes, RFC 9457 problem+json bodies, the idempotency and If-Match rules,
// ETags and Location, authentication by bearer token, in a context with
// auth the caller (identified once per request through an [Identifier])
// and the rules' answers (401 invalid_token with its reason, 403
// forbidden with the rule, a read denied as a missing instance), and the HTTP form of
// a command's answer ([Answer]: the domain's answer and typed rejection,
// from the root package, mapped to a status and a problem+json body).
// [Service.Serve] takes a transport-neutral [Request] and gives a
// [Response]; [Service.Stream] serves the live stream of the global log to
// an [EventWriter] (as Server-Sent Events frames, [SSEFrame]); package
// api/nethttp adapts both to net/http. [Service.SetProgram] replaces the
// program (and its documents) for the requests that start after it.
//
// # What it never does
//
// Storage, concurrency control or deciding. A [Backend] runs a command
// under its instance's single writer (natively a lock and group commit
// over SQLite; on Workers a Durable Object) by calling cuesource.Decide
// with the snapshot it holds, appends what it returns and gives back its
// answer. So both runtimes answer every request the same way by
// construction. Nothing below api imports it.
package api
