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
//
// It checks the optional abilities of package store too, each on a store
// that has it: batch append ([store.Batcher]), the shared database
// ([store.SQL]), the after-append hook ([store.Hooker]), the outbox
// with its leases and dead letters ([store.Outbox]) and snapshots
// ([store.Snapshots]: written with their commit or not at all, the newest
// kept). A store without one
// skips its tests, and the skip names the interface.
package storetest
