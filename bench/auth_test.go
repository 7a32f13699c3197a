package bench

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"testing"
	"time"

	"github.com/cuesource/cuesource/auth"
	"github.com/cuesource/cuesource/compiler"
	"github.com/cuesource/cuesource/engine"
	"github.com/cuesource/cuesource/interpreter"
	"github.com/cuesource/cuesource/value"
)

// BenchmarkAuth is BenchmarkHandle's AddItem on the owned context (an
// open cart of five lines), decided without a caller (no rules, as a
// context without auth), and with a caller whose bearer token is verified
// (HS256 or ES256), checked against #claims and run through the allow
// rules: the added cost of identity and rules per command.
func BenchmarkAuth(b *testing.B) {
	m, err := compiler.Compile("../contexts/owned/owned.cue")
	if err != nil {
		b.Fatal(err)
	}
	p, err := interpreter.Compile(m)
	if err != nil {
		b.Fatal(err)
	}
	items := map[string]any{}
	for _, sku := range []string{"TEA-01", "MUG-02", "SPOON-3", "PLATE-44", "KETTLE-5"} {
		items[sku] = 2
	}
	state, _ := value.DecodeStored(mustJSON(b, map[string]any{"status": "open", "owner": "ada", "items": items}))
	cur := engine.Current{State: state, Version: 6}
	env := engine.Envelope{ID: "cmd-7", Aggregate: "cart", Instance: "c-1", Command: "AddItem",
		Payload: []byte(`{"sku":"TEA-01","qty":1}`), ExpectedVersion: engine.AnyVersion, Time: at}

	secret := []byte("a benchmark secret of thirty-two bytes or more")
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	jwk, _ := auth.JWK(ec, "k1")
	keys, err := auth.StaticKeys(mustJSON(b, map[string]any{"keys": []any{jwk}}))
	if err != nil {
		b.Fatal(err)
	}
	claims := map[string]any{"sub": "ada", "roles": []string{"customer"}, "iss": "https://id.example", "aud": "owned", "exp": time.Now().Add(time.Hour).Unix()}
	decide := func(b *testing.B, e engine.Envelope) {
		d, err := engine.Decide(p, cur, e, engine.Options{})
		if err != nil {
			b.Fatal(err)
		}
		out, err := value.Encode(d)
		if err != nil {
			b.Fatal(err)
		}
		sink = out
	}
	b.Run("none", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			decide(b, env)
		}
	})
	for _, alg := range []struct {
		name string
		cfg  auth.Config
		key  any
	}{
		{"HS256", auth.Config{Secret: secret}, secret},
		{"ES256", auth.Config{Keys: keys}, ec},
	} {
		alg.cfg.Issuer, alg.cfg.Audience = "https://id.example", "owned"
		v, err := auth.New(alg.cfg)
		if err != nil {
			b.Fatal(err)
		}
		tok, err := auth.Mint(claims, alg.key, "k1")
		if err != nil {
			b.Fatal(err)
		}
		cold := alg.cfg
		// A client sends the same token with every request: the verifier
		// remembers it (auth.CacheTTL). cold verifies every time, as for a
		// token seen for the first time.
		b.Run(alg.name, func(b *testing.B) { runAuth(b, v, p, tok, env, decide) })
		b.Run(alg.name+"-cold", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				fresh, err := auth.New(cold)
				if err != nil {
					b.Fatal(err)
				}
				c, err := fresh.Verify(context.Background(), tok)
				if err != nil {
					b.Fatal(err)
				}
				e := env
				e.Caller = &engine.Caller{Actor: "ada", Claims: c}
				decide(b, e)
			}
		})
	}
}

func runAuth(b *testing.B, v *auth.Verifier, p *interpreter.Program, tok string, env engine.Envelope, decide func(*testing.B, engine.Envelope)) {
	b.ReportAllocs()
	for b.Loop() {
		c, err := v.Verify(context.Background(), tok)
		if err != nil {
			b.Fatal(err)
		}
		if vs := p.Auth.CheckClaims(map[string]any(c)); len(vs) > 0 {
			b.Fatal(vs)
		}
		e := env
		e.Caller = &engine.Caller{Actor: "ada", Claims: c}
		decide(b, e)
	}
}

func mustJSON(tb testing.TB, v any) []byte {
	tb.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}
