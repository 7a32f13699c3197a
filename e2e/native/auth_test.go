//go:build unix

package native_e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"
)

// TestAuthWhoDidIt serves the owned context with its HS256 secret in the
// environment and tokens minted by `cuesource token`: every event records
// its actor and the command's correlation and causation ids, a send
// carries them on to the receipt it writes, a projection sees the actor,
// and the server's log carries neither a token nor a claim value.
func TestAuthWhoDidIt(t *testing.T) {
	skipShort(t)
	const secret = "an e2e secret of at least thirty-two bytes"
	t.Setenv("OWNED_JWT_SECRET", secret)
	ctx := contextPath("contexts/owned/owned.cue")
	mint := func(sub, roles string) string {
		out, stderr, code := runCLI(t, time.Minute, "token", ctx, "--sub", sub, "--roles", roles)
		if code != 0 {
			t.Fatalf("cuesource token: exit %d: %s", code, stderr)
		}
		return strings.TrimSpace(string(out))
	}
	ada, sam := mint("ada", "customer"), mint("sam", "support")
	srv := startServer(t, ctx, t.TempDir())
	do := func(method, path, body, tok string) (int, map[string]any) {
		t.Helper()
		req, _ := http.NewRequestWithContext(t.Context(), method, srv.url+path, strings.NewReader(body))
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		var m map[string]any
		_ = json.Unmarshal(data, &m)
		return resp.StatusCode, m
	}
	for _, step := range []struct{ path, body string }{
		{"/cart/a1/Open", ""}, {"/cart/a1/AddItem", `{"sku":"TEA-01","qty":2}`}, {"/cart/a1/CheckOut", ""},
	} {
		if code, m := do(http.MethodPost, step.path, step.body, ada); code/100 != 2 {
			t.Fatalf("POST %s: %d %v", step.path, code, m)
		}
	}
	type meta struct{ Actor, CorrelationID, CausationID string }
	events := func(path, tok string) []map[string]any {
		t.Helper()
		code, m := do(http.MethodGet, path, "", tok)
		if code != http.StatusOK {
			t.Fatalf("GET %s: %d %v", path, code, m)
		}
		var out []map[string]any
		for _, e := range m["events"].([]any) {
			out = append(out, e.(map[string]any))
		}
		return out
	}
	metaOf := func(e map[string]any) meta {
		m, _ := e["meta"].(map[string]any)
		s := func(k string) string { v, _ := m[k].(string); return v }
		return meta{s("actor"), s("correlationId"), s("causationId")}
	}
	cart := events("/cart/a1/events", ada)
	if len(cart) != 3 {
		t.Fatalf("cart a1 has %d events, want 3", len(cart))
	}
	for _, e := range cart {
		m := metaOf(e)
		if m.Actor != "ada" || m.CorrelationID != e["commandId"] || m.CausationID != e["commandId"] {
			t.Errorf("%s records %+v, want actor ada and its command id %v as correlation and causation", e["type"], m, e["commandId"])
		}
	}
	checkedOut := cart[2]
	receipt := events("/note/receipt-a1/events", ada)
	if len(receipt) != 1 {
		t.Fatalf("the receipt has %d events, want 1", len(receipt))
	}
	want := meta{"ada", metaOf(checkedOut).CorrelationID, checkedOut["id"].(string)}
	if got := metaOf(receipt[0]); got != want {
		t.Errorf("the receipt records %+v, want %+v: the send carries the actor and correlation on, caused by CheckedOut", got, want)
	}
	if got := receipt[0]["payload"].(map[string]any)["text"]; got != "checked out by ada" {
		t.Errorf("the effect saw meta.actor as %v", got)
	}
	if code, m := do(http.MethodGet, "/queries/carts_of?owner=ada", "", sam); code != http.StatusOK || len(m["rows"].([]any)) != 1 || m["rows"].([]any)[0].(map[string]any)["by"] != "ada" {
		t.Errorf("carts_of as support: %d %v, want one row by ada", code, m)
	}
	if code, m := do(http.MethodGet, "/events", "", sam); code != http.StatusOK || len(m["events"].([]any)) != 4 {
		t.Errorf("GET /events as support: %d %v", code, m)
	}
	// Refusals answer with reasons and log none of what the token says.
	if code, m := do(http.MethodGet, "/events", "", ada); code != http.StatusForbidden || m["name"] != "support reads the log" {
		t.Errorf("GET /events as a customer: %d %v, want 403 naming the rule", code, m)
	}
	if code, m := do(http.MethodGet, "/cart/a1", "", ada[:len(ada)-4]+"AAAA"); code != http.StatusUnauthorized || m["reason"] != "bad_signature" {
		t.Errorf("a forged token: %d %v, want 401 bad_signature", code, m)
	}
	stop(t, srv)
	logText, err := os.ReadFile(srv.logPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, secretish := range []string{ada, sam, secret, `"ada"`, "=ada"} {
		if strings.Contains(string(logText), secretish) {
			t.Errorf("the server's log carries %.20q...", secretish)
		}
	}
}
