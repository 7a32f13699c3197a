package value_test

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cuesource/cuesource/value"
)

func TestDecodeNumbers(t *testing.T) {
	v, err := value.Decode([]byte(`{"i":3,"f":3.5,"e":1e3,"neg":-9007199254740991,"list":[1,2.0]}`), value.Limits{})
	require.NoError(t, err)
	m := v.(map[string]any)
	assert.Equal(t, 3, m["i"])
	assert.Equal(t, 3.5, m["f"])
	assert.Equal(t, 1000.0, m["e"])
	assert.Equal(t, -9007199254740991, m["neg"])
	assert.Equal(t, []any{1, 2.0}, m["list"])
}

// TestDecodeKeysOnce: the same key in different objects is fine.
func TestDecodeKeysOnce(t *testing.T) {
	for _, in := range []string{`{"a":{"a":1},"b":[{"a":1},{"a":2}],"c":{"a":{"a":[]}}}`, `{"s":"\ud800","t":{"s":1}}`} {
		_, err := value.Decode([]byte(in), value.Limits{})
		assert.NoError(t, err, in)
	}
}

func TestDecodeRejects(t *testing.T) {
	for _, tt := range []struct {
		name, in string
		is       error
		msg      string
	}{
		{"too large", `"` + strings.Repeat("x", 100) + `"`, value.ErrTooLarge, "the limit is 64"},
		{"too deep", strings.Repeat("[", 9) + strings.Repeat("]", 9), value.ErrTooDeep, "depth 9"},
		{"unsafe integer", `{"a":[1,{"b":18014398509481984}]}`, nil, "/a/1/b: integer 18014398509481984"},
		{"syntax", `{"a":}`, nil, "invalid JSON at byte"},
		{"trailing", `1 2`, nil, "data after the JSON value"},
		{"duplicate key", `{"a":1,"b":{"c":[{"d":1}],"c":2}}`, nil, `the object has the key "c" twice`},
		{"duplicate key after a repaired string", `{"s":"\ud800","s":1}`, nil, `key "s" twice`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := value.Decode([]byte(tt.in), value.Limits{MaxBytes: 64, MaxDepth: 8})
			require.Error(t, err)
			if tt.is != nil {
				assert.True(t, errors.Is(err, tt.is), "%v", err)
			}
			assert.Contains(t, err.Error(), tt.msg)
		})
	}
}

func TestDepthIgnoresBracketsInStrings(t *testing.T) {
	_, err := value.Decode([]byte(`{"a":"[[[[[[[[[[[[\"{{{{{{"}`), value.Limits{MaxDepth: 2})
	assert.NoError(t, err)
}

func TestEqual(t *testing.T) {
	a := value.MustDecode([]byte(`{"x":[1,2.5,{"y":"z"}],"n":null,"b":true}`))
	b := value.MustDecode([]byte(`{"b":true,"n":null,"x":[1.0,2.5,{"y":"z"}]}`))
	assert.True(t, value.Equal(a, b))
	assert.False(t, value.Equal(a, value.MustDecode([]byte(`{"b":true,"n":null,"x":[1,2.5,{"y":"w"}]}`))))
	assert.False(t, value.Equal(1, "1"))
	assert.True(t, value.Equal(map[string]any{"k": []string{"a"}}, value.MustDecode([]byte(`{"k":["a"]}`))))
}

func TestEncodeIsCanonical(t *testing.T) {
	b, err := value.Encode(map[string]any{"b": 1, "a": "<&>"})
	require.NoError(t, err)
	assert.Equal(t, `{"a":"<&>","b":1}`, string(b))
}

func TestDecodeRejectsTrailingData(t *testing.T) {
	for _, in := range []string{`{"a":1}}`, `{"a":1}]`, `{"a":1} x`, `1 2`, `{} {}`} {
		_, err := value.Decode([]byte(in), value.Limits{})
		assert.ErrorContains(t, err, "data after the JSON value", in)
	}
	_, err := value.Decode([]byte(" {\"a\":1} \n"), value.Limits{})
	assert.NoError(t, err)
}

// TestDecodeNumbersExactly: a number that is not an integer never decodes
// to one (1e-400 used to read as 0, 1.0000000000000000001 as 1, so an int
// field took them), while a float that keeps a fraction, or an integer
// written with a fraction or an exponent, reads as before; -0 is 0.
func TestDecodeNumbersExactly(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want any // nil: refused
		msg  string
	}{
		{"1e-400", nil, "number 1e-400 is not an integer"},
		{"-1e-400", nil, "not an integer"},
		{"1.0000000000000000001", nil, "not an integer"},
		{"0.99999999999999999999", nil, "not an integer"},
		{"4503599627370496.5", nil, "not an integer"},
		{"123456789012345678901.5", nil, "not an integer"},
		{"1e-999999999999", nil, "not an integer"},
		{"1e400", nil, "outside the range of a 64-bit float"},
		{"-1e400", nil, "outside the range of a 64-bit float"},
		{"1e999999999999", nil, "outside the range"},
		{"1e-320", 1e-320, ""},
		{"0.1", 0.1, ""},
		{"2.0", 2.0, ""},
		{"1.5e1", 15.0, ""},
		{"1E2", 100.0, ""},
		{"1e23", 1e23, ""},
		{"0e-999999999999", 0.0, ""},
		{"0.000", 0.0, ""},
		{"-0.0", 0.0, ""},
		{"-0e5", 0.0, ""},
		{"-0", 0, ""},
		{"120e-1", 12.0, ""},
		{"1200e-3", 1.2, ""},
	} {
		t.Run(tt.in, func(t *testing.T) {
			v, err := value.Decode([]byte(`{"n":`+tt.in+`}`), value.Limits{})
			if tt.want == nil {
				require.Error(t, err)
				assert.True(t, strings.HasPrefix(err.Error(), "/n: "), err.Error())
				assert.Contains(t, err.Error(), tt.msg)
				var ne *value.NumberError
				assert.True(t, errors.As(err, &ne))
				return
			}
			require.NoError(t, err)
			n := v.(map[string]any)["n"]
			assert.Equal(t, tt.want, n)
			if f, ok := n.(float64); ok && f == 0 {
				assert.False(t, math.Signbit(f), "-0 reads as 0")
			}
		})
	}
}
