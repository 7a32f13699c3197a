package value_test

import (
	"errors"
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
