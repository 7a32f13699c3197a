package projection

// SetTestHookBatch installs f to run in every catch-up transaction after
// the rows are written and before the checkpoint moves; nil removes it.
func SetTestHookBatch(f func(name string, last int64)) {
	if f == nil {
		testHookBatch.Store(nil)
		return
	}
	testHookBatch.Store(&f)
}
