package value_test

import (
	"bytes"
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/cuesource/cuesource/value"
)

func stdEncode(v any) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return "error: " + err.Error()
	}
	return string(bytes.TrimRight(b.Bytes(), "\n"))
}

// FuzzEncodeMatchesEncodingJSON: the fast encoder writes exactly what
// encoding/json writes, for any string and number.
func FuzzEncodeMatchesEncodingJSON(f *testing.F) {
	for _, s := range []string{"", "plain", "quote\" back\\slash", "\x00\x01\b\f\n\r\t\x1f", "<&>", "\u2028\u2029", "\xff\xfe bad utf8", "héllo 世界 🎉"} {
		f.Add(s, 1.5, int64(3))
	}
	f.Add("x", 1e21, int64(-9007199254740991))
	f.Add("x", 1e-7, int64(0))
	f.Add("x", 123456789.125, int64(42))
	f.Fuzz(func(t *testing.T, s string, fl float64, n int64) {
		if math.IsNaN(fl) || math.IsInf(fl, 0) {
			return
		}
		v := map[string]any{s: []any{s, fl, int(n), nil, true, map[string]any{"k" + s: fl}}, "t": time.Unix(n%1e10, 0).UTC()}
		got, err := value.Encode(v)
		if err != nil {
			t.Fatal(err)
		}
		if want := stdEncode(v); string(got) != want {
			t.Fatalf("encode differs:\n got %s\nwant %s", got, want)
		}
	})
}

func TestEncodeFallsBackForOtherTypes(t *testing.T) {
	v := map[string]any{"list": []string{"a"}, "m": map[string]int{"b": 1}, "s": struct {
		A int `json:"a"`
	}{1}}
	got, err := value.Encode(v)
	if err != nil {
		t.Fatal(err)
	}
	if want := stdEncode(v); string(got) != want {
		t.Fatalf("got %s want %s", got, want)
	}
	if _, err := value.Encode(math.NaN()); err == nil {
		t.Fatal("NaN must not encode")
	}
}
