// Package storetest is the conformance suite for [store.Store]
// implementations. Every runtime store (memory, SQLite) calls [Run] from
// its own tests:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) store.Store { return open(t) })
//	}
//
// open is called once per subtest and must return an empty store; register
// cleanup with t.Cleanup. The suite checks the semantics documented on
// [store.Store] and [store.Commit]: optimistic concurrency, gap-free
// versions and positions, all-or-nothing appends, the sentinel errors,
// idempotency records, copy semantics and JSON round-trips.
package storetest
