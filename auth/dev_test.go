package auth_test

import (
	"context"
	"testing"
	"time"

	"github.com/cuesource/cuesource/auth"
)

// A development key verifies what it minted and nothing another key
// minted; beside a context's own source (Any), each source's tokens
// verify, and a token neither signed gets the context's answer.
func TestDevKey(t *testing.T) {
	ctx := context.Background()
	a := must(auth.NewDev("https://id.example", "shop"))
	b := must(auth.NewDev("https://id.example", "shop"))
	tok, exp, err := a.Mint(map[string]any{"sub": "ada", "roles": []any{"customer"}, "exp": 1})
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Until(exp); d < auth.DevTTL-time.Minute || d > auth.DevTTL {
		t.Errorf("exp in %v, want about %v (a claim given cannot set it)", d, auth.DevTTL)
	}
	got, err := a.Verify(ctx, tok)
	if err != nil {
		t.Fatalf("a's token on a: %v", err)
	}
	if got["sub"] != "ada" || got["iss"] != "https://id.example" || got["aud"] != "shop" {
		t.Errorf("claims %v", got)
	}
	if _, err := b.Verify(ctx, tok); reason(err) != auth.ReasonSignature {
		t.Errorf("a's token on b: %v, want %s", err, auth.ReasonSignature)
	}

	ctxSource := must(auth.New(auth.Config{Secret: secret, Issuer: "https://id.example", Audience: "shop"}))
	both := auth.Any{a, ctxSource}
	if _, err := both.Verify(ctx, tok); err != nil {
		t.Errorf("a dev token beside the context's source: %v", err)
	}
	own := must(auth.Mint(claims(map[string]any{"exp": time.Now().Add(time.Hour).Unix()}), secret, ""))
	if _, err := both.Verify(ctx, own); err != nil {
		t.Errorf("the context's own token beside a dev key: %v", err)
	}
	other, _, _ := b.Mint(map[string]any{"sub": "eve"})
	if _, err := both.Verify(ctx, other); reason(err) != auth.ReasonSignature {
		t.Errorf("another dev key's token: %v, want %s", err, auth.ReasonSignature)
	}
	// A token the dev key signed answers for itself: expired, not a bad
	// signature from the next source.
	old := must(auth.Mint(map[string]any{"sub": "ada", "iss": "https://id.example", "aud": "shop", "exp": time.Now().Add(-time.Hour).Unix()}, devSecret(t, a), ""))
	if _, err := both.Verify(ctx, old); reason(err) != auth.ReasonExpired {
		t.Errorf("an expired dev token: %v, want %s", err, auth.ReasonExpired)
	}
	if _, err := (auth.Any{}).Verify(ctx, tok); err == nil {
		t.Error("no source verified a token")
	}
}

func devSecret(t *testing.T, d *auth.Dev) []byte {
	t.Helper()
	return auth.DevSecret(d)
}
