//go:build js

package cuesource

import (
	"encoding/binary"
	"math/rand/v2"
)

// NewID returns a random (version 4) UUID. In the Worker's engine every id
// comes from the shell's crypto.randomUUID, so this fallback takes the
// runtime's ChaCha8 generator (seeded from the platform's entropy) rather
// than crypto/rand, whose FIPS machinery costs the engine 20 KB gzipped.
func NewID() string {
	var b [16]byte
	binary.LittleEndian.PutUint64(b[:8], rand.Uint64())
	binary.LittleEndian.PutUint64(b[8:], rand.Uint64())
	return UUID(b, 4)
}
