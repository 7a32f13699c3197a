package cuesource

import "encoding/hex"

// UUID stamps version (4, 7, 8: RFC 9562) and the RFC's variant on b and
// spells it in the canonical form: the one formatting of every id the
// runtimes make (random, time-ordered, name-based).
func UUID(b [16]byte, version byte) string {
	b[6] = b[6]&0x0f | version<<4
	b[8] = b[8]&0x3f | 0x80
	var s [36]byte
	hex.Encode(s[0:8], b[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], b[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], b[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], b[8:10])
	s[23] = '-'
	hex.Encode(s[24:36], b[10:16])
	return string(s[:])
}
