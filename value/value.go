package value

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"strconv"
	"strings"
)

// Limits bound what Decode accepts.
type Limits struct {
	MaxBytes int // 0: DefaultMaxBytes
	MaxDepth int // 0: DefaultMaxDepth
}

const (
	DefaultMaxBytes = 1 << 20 // 1 MiB
	DefaultMaxDepth = 64
	// MaxSafeInteger is the largest integer JSON numbers carry exactly in
	// every runtime (2^53−1).
	MaxSafeInteger = 1<<53 - 1
)

var (
	ErrTooLarge = errors.New("value: document too large")
	ErrTooDeep  = errors.New("value: document nested too deeply")
)

// SyntaxError is malformed JSON.
type SyntaxError struct {
	Offset int64
	Msg    string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("invalid JSON at byte %d: %s", e.Offset, e.Msg)
}

// NumberError is a number that cannot be represented exactly.
type NumberError struct {
	Pointer string // JSON pointer to the number
	Literal string
	Float   bool // beyond float64's range rather than an unsafe integer
	// Rounded: not an integer, but a 64-bit float rounds it to one (to 0
	// when it is too small), so an int field would take it for that
	// integer.
	Rounded bool
}

func (e *NumberError) Error() string {
	return fmt.Sprintf("%s: %s", ptr(e.Pointer), e.Reason())
}

// Reason is the message without the pointer.
func (e *NumberError) Reason() string {
	switch {
	case e.Rounded:
		return fmt.Sprintf("number %s is not an integer, but a 64-bit float rounds it to one; send fewer digits", e.Literal)
	case e.Float:
		return fmt.Sprintf("number %s is outside the range of a 64-bit float", e.Literal)
	}
	return fmt.Sprintf("integer %s is outside ±(2^53−1) and cannot be represented exactly; send it as a string", e.Literal)
}

func ptr(p string) string {
	if p == "" {
		return "(root)"
	}
	return p
}

// Decode parses one JSON document within limits. Empty input is null.
func Decode(data []byte, lim Limits) (any, error) {
	maxBytes, maxDepth := lim.MaxBytes, lim.MaxDepth
	if maxBytes == 0 {
		maxBytes = DefaultMaxBytes
	}
	if maxDepth == 0 {
		maxDepth = DefaultMaxDepth
	}
	if len(data) > maxBytes {
		return nil, fmt.Errorf("%w: %d bytes, the limit is %d", ErrTooLarge, len(data), maxBytes)
	}
	if v, ok := fastDecode(data, maxDepth); ok {
		return v, nil
	}
	return slowDecode(data, maxDepth)
}

// slowDecode is the reference: encoding/json, then exact numbers. It
// decides what fastDecode gives up on, with the precise error.
func slowDecode(data []byte, maxDepth int) (any, error) {
	if d := depth(data); d > maxDepth {
		return nil, fmt.Errorf("%w: depth %d, the limit is %d", ErrTooDeep, d, maxDepth)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, nil
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, syntaxError(err, dec, int64(len(data)))
	}
	if off := dec.InputOffset(); len(bytes.TrimSpace(data[off:])) > 0 {
		return nil, &SyntaxError{Offset: off, Msg: "data after the JSON value"}
	}
	if err := duplicateKey(data); err != nil {
		return nil, err
	}
	return convert(v, nil)
}

// Stored bounds what is decoded from storage: payloads and states were
// checked when they were written, so the bounds only guard against a
// corrupt store.
var Stored = Limits{MaxBytes: math.MaxInt, MaxDepth: 1 << 10}

// DecodeStored decodes a payload or a state read from storage.
func DecodeStored(data []byte) (any, error) { return Decode(data, Stored) }

// MustDecode decodes trusted JSON (from a compiled manifest) and panics on
// error; for tests and constants.
func MustDecode(data []byte) any {
	v, err := Decode(data, Limits{MaxBytes: math.MaxInt})
	if err != nil {
		panic(err)
	}
	return v
}

func syntaxError(err error, dec *json.Decoder, size int64) error {
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return &SyntaxError{Offset: size, Msg: "unexpected end of input"}
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return &SyntaxError{Offset: se.Offset, Msg: se.Error()}
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return &SyntaxError{Offset: te.Offset, Msg: te.Error()}
	}
	return &SyntaxError{Offset: dec.InputOffset(), Msg: err.Error()}
}

// depth is the deepest nesting of arrays and objects, found without
// decoding so that a hostile document is refused before any allocation.
func depth(data []byte) int {
	d, max, inString, escaped := 0, 0, false, false
	for _, c := range data {
		if inString {
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			inString = true
		case '[', '{':
			d++
			if d > max {
				max = d
			}
		case ']', '}':
			d--
		}
	}
	return max
}

func convert(v any, path []string) (any, error) {
	switch x := v.(type) {
	case json.Number:
		return number(string(x), path)
	case map[string]any:
		for k, e := range x {
			if _, ok := e.(string); ok {
				continue
			}
			c, err := convert(e, append(path, k))
			if err != nil {
				return nil, err
			}
			x[k] = c
		}
	case []any:
		for i, e := range x {
			if _, ok := e.(string); ok {
				continue
			}
			c, err := convert(e, append(path, strconv.Itoa(i)))
			if err != nil {
				return nil, err
			}
			x[i] = c
		}
	}
	return v, nil
}

func number(lit string, path []string) (any, error) {
	if !strings.ContainsAny(lit, ".eE") {
		n, err := strconv.ParseInt(lit, 10, 64)
		if err != nil || n > MaxSafeInteger || n < -MaxSafeInteger {
			return nil, &NumberError{Pointer: Pointer(path), Literal: lit}
		}
		return int(n), nil
	}
	f, err := strconv.ParseFloat(lit, 64)
	if err != nil {
		return nil, &NumberError{Pointer: Pointer(path), Literal: lit, Float: true}
	}
	if roundsToInteger(lit, f) {
		return nil, &NumberError{Pointer: Pointer(path), Literal: lit, Rounded: true}
	}
	return f + 0, nil // -0 is 0, as JSON.stringify writes it
}

// roundsToInteger reports whether f, the float64 of the literal lit
// (written with a fraction or an exponent), is an integer while lit is
// not: 1.0000000000000000001 reads as 1 and 1e-400 as 0, so an int field
// would accept what is not an integer. This is the only way a number that
// is not an integer becomes one: any other rounding keeps a fraction.
func roundsToInteger(lit string, f float64) bool {
	return f == math.Trunc(f) && !integerLiteral(lit)
}

// integerLiteral reports whether a JSON number literal denotes an integer
// (2.0, 1.5e1 and 0e-7 do), from its digits alone: no big arithmetic that
// a hostile exponent (1e-999999999) could inflate.
func integerLiteral(lit string) bool {
	mant, exp := lit, ""
	if i := strings.IndexAny(lit, "eE"); i >= 0 {
		mant, exp = lit[:i], lit[i+1:]
	}
	whole, frac, _ := strings.Cut(strings.TrimPrefix(mant, "-"), ".")
	digits := strings.TrimLeft(whole+frac, "0")
	if digits == "" {
		return true // zero
	}
	// The value is digits × 10^scale, digits without trailing zeros.
	trimmed := strings.TrimRight(digits, "0")
	scale := int64(len(digits)-len(trimmed)) - int64(len(frac))
	if exp != "" {
		e, err := strconv.ParseInt(exp, 10, 32)
		if err != nil { // beyond ±2^31: only its sign matters
			return !strings.HasPrefix(exp, "-")
		}
		scale += e
	}
	return scale >= 0
}

// duplicateKey finds the first member of an object whose name an earlier
// member of the same object has. JSON leaves the meaning of such a
// document open and parsers disagree on it (the first wins, or the last),
// so it is refused, as I-JSON (RFC 7493) does. data is one valid document.
func duplicateKey(data []byte) error {
	type frame struct {
		keys      map[string]bool // nil for an array
		expectKey bool
	}
	var stack []*frame
	valueDone := func() {
		if n := len(stack); n > 0 && stack[n-1].keys != nil {
			stack[n-1].expectKey = true
		}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	for {
		off := dec.InputOffset()
		tok, err := dec.Token()
		if err != nil {
			return nil // the end: Decode has read the document already
		}
		if n := len(stack); n > 0 && stack[n-1].expectKey {
			top := stack[n-1]
			if k, ok := tok.(string); ok {
				if top.keys[k] {
					return &SyntaxError{Offset: off, Msg: fmt.Sprintf("the object has the key %q twice", k)}
				}
				top.keys[k], top.expectKey = true, false
				continue
			}
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, &frame{keys: map[string]bool{}, expectKey: true})
		case json.Delim('['):
			stack = append(stack, &frame{})
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
			valueDone()
		default:
			valueDone()
		}
	}
}

// Pointer spells a path as an RFC 6901 JSON pointer.
func Pointer(path []string) string {
	var b strings.Builder
	for _, p := range path {
		b.WriteByte('/')
		b.WriteString(strings.NewReplacer("~", "~0", "/", "~1").Replace(p))
	}
	return b.String()
}

// Equal reports whether a and b are the same JSON value; numbers compare by
// value whatever their Go type.
func Equal(a, b any) bool {
	if fa, ok := toFloat(a); ok {
		fb, ok := toFloat(b)
		return ok && fa == fb
	}
	switch x := a.(type) {
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			w, ok := y[k]
			if !ok || !Equal(v, w) {
				return false
			}
		}
		return true
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !Equal(x[i], y[i]) {
				return false
			}
		}
		return true
	}
	if _, ok := toFloat(b); ok {
		return false
	}
	return reflect.DeepEqual(normalize(a), normalize(b))
}

// normalize turns Go values that expressions may produce ([]string,
// map[string]string, ...) into the JSON model by a round trip; only used on
// the slow path of Equal.
func normalize(v any) any {
	switch v.(type) {
	case nil, bool, string, map[string]any, []any:
		return v
	}
	data, err := json.Marshal(v)
	if err != nil {
		return v
	}
	return MustDecode(data)
}

func toFloat(v any) (float64, bool) {
	switch n := v.(type) {
	case int:
		return float64(n), true
	case int64:
		return float64(n), true
	case int32:
		return float64(n), true
	case float64:
		return n, true
	case float32:
		return float64(n), true
	case uint:
		return float64(n), true
	case uint64:
		return float64(n), true
	case json.Number:
		f, err := n.Float64()
		return f, err == nil
	}
	return 0, false
}
