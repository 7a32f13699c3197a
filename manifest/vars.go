package manifest

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// EnvPrefix is prepended to a declared env variable's name to find its
// value in the process environment: env FOO is read from CUESOURCE_ENV_FOO.
const EnvPrefix = "CUESOURCE_ENV_"

// Vars gives every env variable the context declares its value: from
// getenv(EnvPrefix+name) when that is not empty, else its default, else "".
// It fails, naming each, when a variable an http effect takes its URL from
// has neither a value nor a default.
func Vars(m *Manifest, getenv func(string) string) (map[string]string, error) {
	out := make(map[string]string, len(m.Env))
	missing := map[string]bool{}
	for name, v := range m.Env {
		val := getenv(EnvPrefix + name)
		switch {
		case val != "":
		case v != nil && v.Default != nil:
			val = *v.Default
		default:
			missing[name] = true
		}
		out[name] = val
	}
	var errs []string
	for _, name := range slices.Sorted(maps.Keys(m.Effects)) {
		e := m.Effects[name]
		if e.HTTP == nil || !missing[e.HTTP.URLEnv] {
			continue
		}
		errs = append(errs, fmt.Sprintf("effect %s needs env %s (its URL): set %s%s or give it a default", name, e.HTTP.URLEnv, EnvPrefix, e.HTTP.URLEnv))
	}
	if len(errs) > 0 {
		return out, fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return out, nil
}
