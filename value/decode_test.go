package value

import (
	"reflect"
	"testing"
)

var decodeSeeds = []string{
	`{"sku":"A-1","qty":2,"price":4.5,"tags":["a","b"],"note":null,"ok":true,"no":false}`,
	`[1,-1,0,-0,1.5,-2.5e3,1E2,9007199254740991,-9007199254740991,9007199254740992,1e400,12345678901234567890]`,
	`"esc \" \\ \/ \b \f \n \r \t \u00e9 \ud83d\ude00 \ud800 x"`, `"caf\xc3\xa9"`, `"bad \xff"`,
	` { "a" : { "b" : [ { } , [ ] ] } } `, `{"a":1,"a":2}`, `01`, `-`, `1.`, `.5`, `1e`, `[1,]`, `{"a":1,}`,
	`{"a"}`, `[1e-400,1.0000000000000000001,-0.0,2.0,1e23]`, `tru`, `nul`, `[[[[[[[[]]]]]]]]`, `{} x`, "\"tab\there\"", `"\u12"`, ``, `  `,
}

// FuzzDecodeMatchesReference: whatever the one-pass decoder accepts, it
// decodes exactly as the reference path does, which accepts it too.
func FuzzDecodeMatchesReference(f *testing.F) {
	for _, s := range decodeSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fast, ok := fastDecode(data, 8)
		if !ok {
			return
		}
		slow, err := slowDecode(data, 8)
		if err != nil {
			t.Fatalf("%q: the fast path accepts what the reference refuses: %v", data, err)
		}
		if !reflect.DeepEqual(fast, slow) {
			t.Fatalf("%q: fast %#v, reference %#v", data, fast, slow)
		}
	})
}

// TestFastDecodeTakesCommonDocuments makes sure the fast path is the one
// that runs on ordinary payloads, escapes and Unicode included.
func TestFastDecodeTakesCommonDocuments(t *testing.T) {
	for _, s := range []string{decodeSeeds[0], decodeSeeds[1][:60] + "]", `"esc \" \\ \/ \b \f \n \r \t \u00e9 \ud83d\ude00 x"`, `"café"`, decodeSeeds[5], `{"a":1,"b":{"a":2}}`} {
		if _, ok := fastDecode([]byte(s), 64); !ok {
			t.Errorf("fast path gave up on %s", s)
		}
	}
}
