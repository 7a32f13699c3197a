package engine_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cuesource/cuesource/compiler"
	"github.com/cuesource/cuesource/engine"
	"github.com/cuesource/cuesource/interpreter"
)

// HostileCommands are the commands of testdata/hostile that must each end
// in budget_exceeded on a payload of HostileSize bytes.
var hostileCommands = []string{"Double", "Repeat", "Replace", "SplitMap", "Join", "CopyMaps", "Upper", "Search", "Compare", "Match", "Nested", "Sort", "Index", "Less", "Grow"}

// Each hostile expression fails alone with a typed budget error, and a
// command after it runs as usual. Without the budget, every one of these
// needs gigabytes or minutes.
func TestHostileExpressionsEndInBudgetExceeded(t *testing.T) {
	m, err := compiler.Compile("../testdata/hostile/hostile.cue")
	require.NoError(t, err)
	p, err := interpreter.Compile(m)
	require.NoError(t, err)
	payload, _ := json.Marshal(map[string]string{"s": strings.Repeat("x", 50_000)})
	for _, name := range hostileCommands {
		t.Run(name, func(t *testing.T) {
			start := time.Now()
			_, err := engine.Decide(p, engine.Current{}, env("box", "b", name, string(payload)), engine.Options{})
			var ee *engine.Error
			require.ErrorAs(t, err, &ee, "%s must fail", name)
			assert.Equal(t, engine.KindBudget, ee.Kind, "%v", err)
			require.NotNil(t, ee.Pos, "a budget error is positioned")
			assert.Contains(t, ee.Pos.File, "hostile.cue")
			// Not a speed test: a bound far above what the budget allows
			// and far below what the expression needs without it.
			assert.Less(t, time.Since(start), 10*time.Second)
			t.Logf("%s: %v in %v", name, ee.Message, time.Since(start))
		})
	}
	d, err := engine.Decide(p, engine.Current{}, env("box", "b", "Bump", `{}`), engine.Options{})
	require.NoError(t, err)
	assert.Len(t, d.Events, 1)
}
