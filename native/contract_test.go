package native_test

import (
	"github.com/cuesource/cuesource/api"
	"github.com/cuesource/cuesource/native"
)

// The backend is what the HTTP layer runs; native does not import api.
var (
	_ api.Backend  = (*native.Backend)(nil)
	_ api.Notifier = (*native.Backend)(nil)
)
