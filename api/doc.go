// Package api is the HTTP semantics of a context, once, for every runtime.
//
// # What it owns
//
// Routes (on paths normalised as the URL standard normalises them, since a
// Workers runtime does so before a Worker sees them), the rule for
// instance ids, the validation of headers, bodies and query parameters, status
// codes, RFC 9457 problem+json bodies, the idempotency and If-Match rules,
// ETags and Location, authentication by bearer token, and the decision of
// a command against an instance's snapshot ([Decide]): what the command
// appends and what it answers. [Service.Serve] takes a transport-neutral
// [Request] and gives a [Response]; [Service.Stream] serves the live stream
// of the global log to an [EventWriter] (as Server-Sent Events frames,
// [SSEFrame]); [Handler] adapts both to net/http.
//
// # What it never does
//
// Storage or concurrency control. A [Backend] runs a command under its
// instance's single writer (natively a lock and group commit over SQLite; on
// Workers a Durable Object) by calling [Decide] with the snapshot it holds,
// and appends what Decide returns. So both runtimes answer every request the
// same way by construction.
package api
