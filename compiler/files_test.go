package compiler_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cuesource/cuesource/compiler"
)

func TestDirs(t *testing.T) {
	// A file of the project's module: its directory and that file; the
	// schema it imports is not the project's to watch.
	dirs, err := compiler.Dirs("../contexts/example.cue")
	require.NoError(t, err)
	abs, _ := filepath.Abs("../contexts")
	assert.Equal(t, []compiler.Dir{{Path: abs, Files: []string{"example.cue"}}}, dirs)

	// A package that imports another package of its module: both.
	root := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(root, "cue.mod"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(root, "cue.mod", "module.cue"), []byte("module: \"example.com/m@v0\"\nlanguage: version: \"v0.17.0\"\n"), 0o644))
	require.NoError(t, os.MkdirAll(filepath.Join(root, "ctx"), 0o755))
	require.NoError(t, os.MkdirAll(filepath.Join(root, "types"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(root, "types", "t.cue"), []byte("package types\n#Line: {sku: string}\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(root, "ctx", "c.cue"), []byte("package ctx\nimport \"example.com/m/types\"\nx: types.#Line\n"), 0o644))
	dirs, err = compiler.Dirs(filepath.Join(root, "ctx"))
	require.NoError(t, err)
	assert.Equal(t, []compiler.Dir{{Path: filepath.Join(root, "ctx")}, {Path: filepath.Join(root, "types")}}, dirs)

	// A context that does not parse still names its own directory.
	require.NoError(t, os.WriteFile(filepath.Join(root, "ctx", "c.cue"), []byte("package ctx\nx: {\n"), 0o644))
	dirs, err = compiler.Dirs(filepath.Join(root, "ctx"))
	require.NoError(t, err)
	assert.Equal(t, []compiler.Dir{{Path: filepath.Join(root, "ctx")}}, dirs)
}
