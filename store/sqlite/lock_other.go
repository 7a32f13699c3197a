//go:build !unix

package sqlite

// lockFile takes no lock where flock does not exist: Options.Lock is
// advisory protection, and these platforms go without it.
func lockFile(path string) (unlock func() error, err error) {
	return func() error { return nil }, nil
}
