//go:build !js

package cuesource

import (
	"crypto/rand"
)

// NewID returns a random (version 4) UUID.
func NewID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return UUID(b, 4)
}
