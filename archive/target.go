package archive

import (
	"context"
	"errors"
)

// ErrNotFound: a Target has no object of that name.
var ErrNotFound = errors.New("archive: segment not found")

// Target keeps segments. Put must be atomic and durable before it
// returns (a reader never sees half a segment), and may replace an
// object of the same name (a step repeated after a crash).
type Target interface {
	Put(ctx context.Context, name string, data []byte) error
	// Get returns the object, or an error wrapping ErrNotFound.
	Get(ctx context.Context, name string) ([]byte, error)
	// List names every segment kept, in name (so position) order.
	List(ctx context.Context) ([]string, error)
	// String says where, for messages.
	String() string
}
