package bench

// The added latency of a command that claims a unique key: the carts
// context's cart Open (which claims openCartPerClient) against the same
// command with the constraint taken out, natively over SQLite, one
// command at a time (BENCHMARKS.md, section 12).

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/cuesource/cuesource"
	"github.com/cuesource/cuesource/compiler"
	"github.com/cuesource/cuesource/engine"
	"github.com/cuesource/cuesource/interpreter"
	"github.com/cuesource/cuesource/native"
	"github.com/cuesource/cuesource/store/sqlite"
)

func BenchmarkUniqueClaim(b *testing.B) {
	for _, variant := range []struct {
		name   string
		unique bool
	}{{"unique", true}, {"plain", false}} {
		for _, mode := range syncModes {
			b.Run(fmt.Sprintf("%s/sync=%s", variant.name, mode.name), func(b *testing.B) {
				m, err := compiler.Compile("../contexts/carts")
				if err != nil {
					b.Fatal(err)
				}
				if !variant.unique {
					m.Aggregates["cart"].Unique = nil
				}
				p, err := interpreter.Compile(m)
				if err != nil {
					b.Fatal(err)
				}
				st, err := sqlite.Open(b.Context(), filepath.Join(b.TempDir(), "carts.db"), sqlite.Options{Sync: mode.sync})
				if err != nil {
					b.Fatal(err)
				}
				defer st.Close()
				if _, err := native.PrepareKeys(b.Context(), p, st); err != nil {
					b.Fatal(err)
				}
				be := native.New(p, st, engine.Options{})
				defer be.Close()
				now := time.Now().UTC()
				b.ResetTimer()
				for i := 0; b.Loop(); i++ {
					a, err := be.Execute(b.Context(), &cuesource.CommandRequest{
						Aggregate: "cart", ID: fmt.Sprintf("k-%d", i), Command: "Open",
						Payload:   json.RawMessage(fmt.Sprintf(`{"client":"c-%d"}`, i)),
						CommandID: fmt.Sprintf("cmd-%d", i), Time: now, ExpectedVersion: engine.AnyVersion,
					})
					if err != nil || a.Rejection != nil {
						b.Fatalf("Open: %v %v", err, a.Rejection)
					}
				}
			})
		}
	}
}
