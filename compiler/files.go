package compiler

import (
	"os"
	"path/filepath"
	"strings"

	"cuelang.org/go/cue/build"
	"cuelang.org/go/cue/load"

	"github.com/cuesource/cuesource/schema"
)

// Dir is where a context's source lives on disk: a directory and the CUE
// files of it the context reads (Files empty: every .cue file of the
// directory, as a package reads them).
type Dir struct {
	Path  string
	Files []string
}

// Dirs lists the directories a context is read from: its file's or
// package's, and those of the packages it imports from its own CUE module
// (not the schema's). A context that does not load lists its own
// directory still, so a watcher sees the save that fixes it.
func Dirs(path string) ([]Dir, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return nil, err
	}
	dir, arg := abs, "."
	own := Dir{Path: abs}
	if !fi.IsDir() {
		dir, arg = filepath.Dir(abs), "./"+filepath.Base(abs)
		own = Dir{Path: dir, Files: []string{filepath.Base(abs)}}
	}
	out := []Dir{own}
	root := moduleRoot(dir)
	if root == "" {
		return out, nil // no module: nothing to import but the schema
	}
	insts := load.Instances([]string{arg}, &load.Config{Dir: dir, ModuleRoot: root})
	if len(insts) != 1 {
		return out, nil
	}
	seen := map[string]bool{own.Path: true}
	var walk func(in *build.Instance)
	walk = func(in *build.Instance) {
		for _, imp := range in.Imports {
			d := filepath.Clean(imp.Dir)
			inModule := strings.HasPrefix(d, root+string(filepath.Separator))
			vendored := strings.HasPrefix(d, filepath.Join(root, "cue.mod")+string(filepath.Separator))
			// The schema is the binary's own (embedded), whatever the
			// module holds under its import path.
			if d == "" || seen[d] || !inModule || vendored || imp.ImportPath == schema.ImportPath {
				continue
			}
			seen[d] = true
			out = append(out, Dir{Path: d})
			walk(imp)
		}
	}
	walk(insts[0])
	return out, nil
}
