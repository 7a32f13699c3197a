package e2etest

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cuesource/cuesource/value"
)

// The hostile-HTTP table: requests a hostile or careless caller sends at
// the HTTP layer, each with the answer both runtimes owe it. e2e/native
// runs it against `cuesource serve`, e2e/workerd against the Worker under
// workerd, so the two are held to the same answers. Both serve
// contexts/example.cue with HostileToken as the user token, the admin
// token "T" and the default body limit.

// HostileToken is the user token the servers of the table require.
const HostileToken = "U"

// HostileMaxBody is the body limit the servers of the table have.
const HostileMaxBody = value.DefaultMaxBytes

// Hostile is one request sent byte for byte and the answer it must get.
type Hostile struct {
	Name   string
	Method string
	// Target is the request target as sent on the request line: escapes,
	// dot segments and bytes are left as they are.
	Target string
	// Header lines, as name, value pairs, sent as they are. Authorization
	// is "Bearer HostileToken" unless the case names one ("" sends none).
	// Content-Length is the body's unless the case names one.
	Header []string
	Body   string
	Status int
	// Kind is the problem kind the answer carries; "" when the answer is
	// not a problem of the API (a success, or the HTTP layer's own).
	Kind string
}

const (
	jsonCT = "application/json"
	openOK = `{"customer":"ada"}`
	tea    = `{"sku":"TEA-01","qty":2,"price":4.5}`
)

// post is a POST with Content-Type: application/json unless header names
// another.
func post(name, target, body string, status int, kind string, header ...string) Hostile {
	if !slices.ContainsFunc(header, func(h string) bool { return strings.EqualFold(h, "Content-Type") }) {
		header = append([]string{"Content-Type", jsonCT}, header...)
	}
	return Hostile{Name: name, Method: "POST", Target: target, Header: header, Body: body, Status: status, Kind: kind}
}

func get(name, target string, status int, kind string, header ...string) Hostile {
	return Hostile{Name: name, Method: "GET", Target: target, Header: header, Status: status, Kind: kind}
}

// HostileTable is the table, in order: some cases build on the instances
// earlier ones made (h1 is an open cart with one item after the first
// cases).
func HostileTable() []Hostile {
	deep := strings.Repeat(`{"a":`, 100) + "1" + strings.Repeat("}", 100)
	return []Hostile{
		// Setup, and the ordinary answers the others are measured against.
		post("open", "/cart/h1/Open", openOK, 201, ""),
		post("add an item", "/cart/h1/AddItem", tea, 200, ""),

		// Paths and ids.
		// A bad escape: net/http refuses the request line before the API
		// sees it (text/plain), workerd passes it to the API (invalid_path).
		post("bad escape", "/cart/%zz/Open", openOK, 400, ""),
		post("escape of a bad UTF-8 byte", "/cart/%FF/Open", openOK, 400, "invalid_id"),
		post("truncated UTF-8 sequence", "/cart/a%C3/Open", openOK, 400, "invalid_id"),
		post("the replacement character", "/cart/a%EF%BF%BD/Open", openOK, 400, "invalid_id"),
		// A raw byte that is not UTF-8: workerd turns it into U+FFFD,
		// net/http passes it on; refused either way.
		post("raw byte that is not UTF-8", "/cart/a\xff/Open", openOK, 400, "invalid_id"),
		get("raw UTF-8 in an id", "/cart/caf\xc3\xa9", 404, "instance_missing"),
		post("UTF-16 surrogate as UTF-8", "/cart/%ED%A0%80/Open", openOK, 400, "invalid_id"),
		get("bad UTF-8 on GET", "/cart/%FF", 400, "invalid_id"),
		get("bad UTF-8 on events", "/cart/%FF/events", 400, "invalid_id"),
		get("bad UTF-8 on history", "/cart/%FF/history", 400, "invalid_id"),
		post("bad UTF-8 on seed", "/admin/seed/cart/%FF", `{"events":[{"event":"CartOpened","payload":{"customer":"ada"}}]}`, 400, "invalid_id",
			"Authorization", "Bearer T"),
		// Dot segments, escaped or not, are removed as the URL standard
		// says: workerd does it before the Worker sees the request, the API
		// does it natively.
		post("escaped dot-dot", "/cart/%2e%2e/Open", openOK, 404, "not_found"), // /Open
		post("escaped dot", "/cart/%2E/Open", openOK, 201, ""),                 // /cart/Open: a cart with an id the server chooses
		post("dot-dot", "/cart/../Open", openOK, 404, "not_found"),             // /Open
		get("dot at the end", "/cart/.", 404, "not_found"),                     // /cart/
		get("escaped dot-dot at the end", "/cart/h1/%2e%2e", 404, "not_found"), // /cart/
		get("dot-dot past the root", "/../../cart/h1", 200, ""),                // /cart/h1
		get("dot-dot in the middle", "/cart/x/.%2E/h1", 200, ""),               // /cart/h1
		get("backslash", `/cart\h1`, 200, ""),                                  // /cart/h1
		post("NUL in an id", "/cart/a%00b/Open", openOK, 400, "invalid_id"),
		post("newline in an id", "/cart/a%0Ab/Open", openOK, 400, "invalid_id"),
		post("C1 control in an id", "/cart/a%C2%85b/Open", openOK, 400, "invalid_id"),
		post("id over 256 bytes", "/cart/"+strings.Repeat("i", 257)+"/Open", openOK, 400, "invalid_id"),
		post("id of 256 bytes", "/cart/"+strings.Repeat("i", 256)+"/Open", openOK, 201, ""),
		post("escaped slash in an id is part of it", "/cart/a%2Fb/Open", openOK, 201, ""),
		get("empty segment", "/cart//h1", 400, "invalid_path"),
		get("unknown aggregate", "/nope/h1", 404, "unknown_aggregate"),
		post("unknown command", "/cart/h1/Explode", "", 404, "unknown_command"),
		get("no such route", "/cart/h1/events/more", 404, "not_found"),

		// Bodies.
		post("wrong content type", "/cart/h2/Open", openOK, 415, "unsupported_media_type", "Content-Type", "text/plain"),
		{Name: "no content type", Method: "POST", Target: "/cart/h2/Open", Body: openOK, Status: 415, Kind: "unsupported_media_type"},
		post("malformed content type", "/cart/h2/Open", openOK, 415, "unsupported_media_type", "Content-Type", "application/json; charset"),
		post("+json content type", "/cart/h2/Open", openOK, 201, "", "Content-Type", "application/problem+json"),
		post("byte order mark", "/cart/h3/Open", "\uFEFF"+openOK, 400, "invalid_json"),
		post("malformed JSON", "/cart/h3/Open", `{"customer":`, 400, "invalid_json"),
		post("trailing garbage", "/cart/h3/Open", openOK+`x`, 400, "invalid_json"),
		post("two documents", "/cart/h3/Open", openOK+openOK, 400, "invalid_json"),
		post("deep nesting", "/cart/h3/Open", deep, 400, "too_deep"),
		post("a null payload", "/cart/h3/Open", `null`, 400, "schema"),
		post("an array payload", "/cart/h3/Open", `[]`, 400, "schema"),
		post("NaN", "/cart/h1/AddItem", `{"sku":"TEA-01","qty":NaN,"price":4.5}`, 400, "invalid_json"),
		post("Infinity", "/cart/h1/AddItem", `{"sku":"TEA-01","qty":Infinity,"price":4.5}`, 400, "invalid_json"),
		post("hex number", "/cart/h1/AddItem", `{"sku":"TEA-01","qty":0x10,"price":4.5}`, 400, "invalid_json"),
		post("leading zero", "/cart/h1/AddItem", `{"sku":"TEA-01","qty":02,"price":4.5}`, 400, "invalid_json"),
		post("overflowing float", "/cart/h1/AddItem", `{"sku":"TEA-01","qty":2,"price":1e400}`, 400, "schema"),
		post("int beyond 2^53", "/cart/h1/AddItem", `{"sku":"TEA-01","qty":9007199254740993,"price":4.5}`, 400, "schema"),
		post("int a float rounds to 1", "/cart/h1/AddItem", `{"sku":"TEA-01","qty":1.0000000000000000001,"price":4.5}`, 400, "schema"),
		post("int that underflows to 0", "/cart/h1/AddItem", `{"sku":"TEA-01","qty":1e-400,"price":4.5}`, 400, "schema"),
		post("int written 2.0 is 2", "/cart/h1/AddItem", `{"sku":"TEA-01","qty":2.0,"price":4.5}`, 200, ""),
		post("a string for an int", "/cart/h1/AddItem", `{"sku":"TEA-01","qty":"2","price":4.5}`, 400, "schema"),
		post("duplicate keys", "/cart/h4/Open", `{"customer":"ada","customer":""}`, 400, "invalid_json"),
		post("body over the limit", "/cart/h5/Open", `{"customer":"`+strings.Repeat("a", HostileMaxBody)+`"}`, 413, "too_large"),
		{Name: "Expect: 100-continue over the limit", Method: "POST", Target: "/cart/h5/Open",
			Header: []string{"Content-Type", jsonCT, "Content-Length", fmt.Sprint(HostileMaxBody * 4), "Expect", "100-continue"},
			Status: 413, Kind: "too_large"},

		// Headers.
		post("If-Match that is no ETag", "/cart/h1/AddItem", tea, 400, "invalid_header", "If-Match", "garbage"),
		post("If-Match with * in a list", "/cart/h1/AddItem", tea, 400, "invalid_header", "If-Match", `*, W/"1"`),
		post("If-Match of a negative version", "/cart/h1/AddItem", tea, 400, "invalid_header", "If-Match", `W/"-1"`),
		post("If-Match list missing the version", "/cart/h1/AddItem", tea, 412, "version_conflict", "If-Match", `W/"1", W/"2"`),
		post("If-Match list with the version", "/cart/h1/AddItem", tea, 200, "", "If-Match", `W/"1", "3", W/"2"`),
		post("Idempotency-Key over 255", "/cart/h1/AddItem", tea, 400, "invalid_header", "Idempotency-Key", strings.Repeat("k", 256)),
		post("a key for one command", "/cart/h1/Abandon", "", 200, "", "Idempotency-Key", "hk"),
		post("the key for another command", "/cart/h1/CheckOut", "", 409, "idempotency_key_reused", "Idempotency-Key", "hk"),
		post("the key for the same command", "/cart/h1/Abandon", "", 200, "", "Idempotency-Key", "hk"),
		get("a header of 100 KiB", "/cart/h1", 200, "", "X-Padding", strings.Repeat("p", 100<<10)),
		// Over 128 KiB of head: the HTTP layer answers (not the API).
		get("a header of 200 KiB", "/cart/h1", 431, "", "X-Padding", strings.Repeat("p", 200<<10)),
		get("a path of 200 KiB", "/cart/"+strings.Repeat("i", 200<<10), 431, ""),
		get("a path of 100 KiB", "/cart/"+strings.Repeat("i", 100<<10), 400, "invalid_id"),
		get("300 headers", "/cart/h1", 200, "", strings.Split(strings.Repeat("X-A,b,", 300), ",")[:600]...),
		// net/http refuses a control character in a header itself
		// (text/plain); the API refuses it on Workers.
		get("control character in a header", "/cart/h1", 400, "", "X-A", "a\x01b"),
		get("If-None-Match that is no ETag", "/cart/h1", 200, "", "If-None-Match", "garbage"),

		// Authentication.
		get("no credentials", "/cart/h1", 401, "unauthorized", "Authorization", ""),
		get("Basic scheme", "/cart/h1", 401, "unauthorized", "Authorization", "Basic VTo="),
		get("scheme without token", "/cart/h1", 401, "unauthorized", "Authorization", "Bearer"),
		get("token without scheme", "/cart/h1", 401, "unauthorized", "Authorization", HostileToken),
		get("wrong token", "/cart/h1", 401, "unauthorized", "Authorization", "Bearer V"),
		get("bearer in lower case", "/cart/h1", 200, "", "Authorization", "bearer "+HostileToken),
		get("BEARER and two spaces", "/cart/h1", 200, "", "Authorization", "BEARER  "+HostileToken),
		get("admin route with the user token", "/admin/dead-letters", 401, "unauthorized"),
		get("admin route in lower case", "/admin/dead-letters", 200, "", "Authorization", "bearer T"),

		// Methods.
		{Name: "PUT a command", Method: "PUT", Target: "/cart/h1/AddItem", Header: []string{"Content-Type", jsonCT}, Body: tea, Status: 405, Kind: "method_not_allowed"},
		{Name: "DELETE an instance", Method: "DELETE", Target: "/cart/h1", Status: 405, Kind: "method_not_allowed"},
		{Name: "PATCH the log", Method: "PATCH", Target: "/events", Status: 405, Kind: "method_not_allowed"},
		{Name: "GET a command", Method: "GET", Target: "/cart/h1/AddItem", Status: 405, Kind: "method_not_allowed"},
		{Name: "POST healthz", Method: "POST", Target: "/healthz", Status: 405, Kind: "method_not_allowed"},
		{Name: "OPTIONS", Method: "OPTIONS", Target: "/cart/h1", Status: 405, Kind: "method_not_allowed"},
		{Name: "TRACE", Method: "TRACE", Target: "/cart/h1", Status: 405, Kind: "method_not_allowed"},
		// workerd answers an unknown method itself (text/plain); the API
		// answers it natively.
		{Name: "an unknown method", Method: "FOO", Target: "/cart/h1", Status: 501},

		// Queries.
		get("after that is no number", "/events?after=abc", 400, "invalid_parameter"),
		get("limit over the page", "/events?limit=100000", 400, "invalid_parameter"),
		get("negative after", "/cart/h1/events?after=-1", 400, "invalid_parameter"),
	}
}

// RunHostile sends every case of the table to the server at base
// (http://host:port) and checks each answer, then that the server still
// serves.
func RunHostile(t *testing.T, base string) {
	t.Helper()
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range HostileTable() {
		got, err := SendRaw(u.Host, c)
		if err != nil {
			t.Errorf("%s: %s %.80s: no answer: %v", c.Name, c.Method, c.Target, err)
			continue
		}
		if msg := c.check(got); msg != "" {
			t.Errorf("%s: %s %.80s: %s", c.Name, c.Method, c.Target, msg)
		}
	}
	// Still serving.
	for _, c := range []Hostile{get("healthz afterwards", "/healthz", 200, ""), post("a command afterwards", "/cart/after/Open", openOK, 201, "")} {
		got, err := SendRaw(u.Host, c)
		if err != nil {
			t.Fatalf("%s: %v", c.Name, err)
		}
		if msg := c.check(got); msg != "" {
			t.Fatalf("%s: %s", c.Name, msg)
		}
	}
}

func (c Hostile) check(got Reply) string {
	if got.Status != c.Status {
		return fmt.Sprintf("status %d, want %d (%.300s)", got.Status, c.Status, got.Body)
	}
	if c.Kind == "" {
		return ""
	}
	if ct := got.Header.Get("Content-Type"); ct != "application/problem+json" {
		return fmt.Sprintf("Content-Type %q, want application/problem+json", ct)
	}
	var p struct {
		Type   string `json:"type"`
		Status int    `json:"status"`
	}
	if err := json.Unmarshal(got.Body, &p); err != nil {
		return fmt.Sprintf("the problem is not JSON: %v: %.300s", err, got.Body)
	}
	if want := "urn:cuesource:problem:" + c.Kind; p.Type != want || p.Status != c.Status {
		return fmt.Sprintf("problem %s %d, want %s (%.300s)", p.Type, p.Status, want, got.Body)
	}
	return ""
}

// SendRaw writes c on a new connection to addr, byte for byte, and reads
// the answer.
func SendRaw(addr string, c Hostile) (Reply, error) {
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return Reply{}, err
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(20 * time.Second)); err != nil {
		return Reply{}, err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n", c.Method, c.Target, addr)
	auth, length := "Bearer "+HostileToken, fmt.Sprint(len(c.Body))
	for i := 0; i+1 < len(c.Header); i += 2 {
		switch strings.ToLower(c.Header[i]) {
		case "authorization":
			auth = c.Header[i+1]
			continue
		case "content-length":
			length = c.Header[i+1]
			continue
		}
		fmt.Fprintf(&b, "%s: %s\r\n", c.Header[i], c.Header[i+1])
	}
	if auth != "" {
		fmt.Fprintf(&b, "Authorization: %s\r\n", auth)
	}
	if c.Body != "" || c.Method == "POST" || length != fmt.Sprint(len(c.Body)) {
		fmt.Fprintf(&b, "Content-Length: %s\r\n", length)
	}
	b.WriteString("\r\n")
	b.WriteString(c.Body)
	// Written while the answer is read, as HTTP clients do: a server that
	// refuses a body before reading it answers, then closes the connection
	// on the rest, and a client still writing would see only the reset.
	wrote := make(chan error, 1)
	go func() {
		_, err := io.WriteString(conn, b.String())
		wrote <- err
	}()
	resp, err := http.ReadResponse(bufio.NewReader(conn), &http.Request{Method: c.Method})
	if err != nil {
		if werr := <-wrote; werr != nil {
			return Reply{}, werr
		}
		return Reply{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return Reply{}, err
	}
	return Reply{Status: resp.StatusCode, Header: resp.Header, Body: body}, nil
}
