package projections

// SetTestHookBatch installs f to run in every catch-up transaction after
// the rows are written and before the checkpoint moves; nil removes it.
func SetTestHookBatch(f func(name string, last int64)) {
	if f == nil {
		testHookBatch.Store(nil)
		return
	}
	testHookBatch.Store(&f)
}

// SetTestHookQuery installs f to run once a query holds its connection,
// before its statement runs; nil removes it.
func SetTestHookQuery(f func(name string)) {
	if f == nil {
		testHookQuery.Store(nil)
		return
	}
	testHookQuery.Store(&f)
}
