package auth

// DevSecret is a Dev key's secret, for tests that sign what it would not.
func DevSecret(d *Dev) []byte { return d.secret }
