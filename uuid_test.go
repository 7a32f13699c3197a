package cuesource

import (
	"encoding/hex"
	"testing"
)

func TestUUID(t *testing.T) {
	var v7 [16]byte
	hex.Decode(v7[:], []byte("017f22e279b07cc398c4dc0c0c07398f")) // RFC 9562, appendix A.6
	var ones [16]byte
	for i := range ones {
		ones[i] = 0xff
	}
	for _, c := range []struct {
		b       [16]byte
		version byte
		want    string
	}{
		{v7, 7, "017f22e2-79b0-7cc3-98c4-dc0c0c07398f"},
		{ones, 4, "ffffffff-ffff-4fff-bfff-ffffffffffff"},
		{[16]byte{}, 8, "00000000-0000-8000-8000-000000000000"},
	} {
		if got := UUID(c.b, c.version); got != c.want {
			t.Errorf("UUID(%x, %d) = %s, want %s", c.b, c.version, got, c.want)
		}
	}
	if id := NewID(); len(id) != 36 || id[14] != '4' {
		t.Errorf("NewID() = %s, want a version 4 UUID", id)
	}
}
