package auth_test

import (
	"context"
	"testing"

	"github.com/cuesource/cuesource/auth"
)

func BenchmarkVerify(b *testing.B) {
	v := must(auth.New(auth.Config{Secret: secret, Issuer: "https://id.example", Audience: "shop"}))
	tok := must(auth.Mint(claims(map[string]any{"exp": 4102444800}), secret, ""))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(context.Background(), tok); err != nil {
			b.Fatal(err)
		}
	}
}
