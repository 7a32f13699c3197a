package api

import (
	"mime"
	"strings"
	"testing"
)

// The Content-Type check reads media types as package mime does (which
// the wasm engine does not link): the same answer for each of these.
func TestMediaTypeLikeMime(t *testing.T) {
	for _, ct := range []string{"", "application/json", "Application/JSON", "application/json; charset=utf-8", "application/json;charset=utf-8;", "application/json; ===",
		"application/vnd.shop+json; charset=utf-8", "application/json; a=1; a=2", "application/json; a=\"x;y\"", "application/json; a=\"unterminated", "text", "/json",
		"application/json ; x = y", "application/json; x", "application/json;;", "application/json; x=", "a/b/c", "application/json\t; q=1", "application/json; a=b c"} {
		mt, _, err := mime.ParseMediaType(ct)
		got, ok := mediaType(ct)
		want := err == nil && (mt == "application/json" || strings.HasSuffix(mt, "+json"))
		if isJSON(ct) != want {
			t.Errorf("%q: isJSON %v, mime says %v (%q %v; mine %q %v)", ct, isJSON(ct), want, mt, err, got, ok)
		}
	}
}
