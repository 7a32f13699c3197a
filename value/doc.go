// Package value owns the runtime representation of JSON data: how payloads
// and states are decoded (with size, depth and number limits), encoded,
// compared and matched.
//
// Values are what encoding/json produces for `any`, except numbers: an
// integer literal becomes an int, any other number a float64. Integers
// beyond ±(2^53−1) are rejected rather than rounded, because JavaScript (the
// Workers runtime, browsers) cannot hold them exactly; a payload that needs
// them should carry them as strings.
package value
