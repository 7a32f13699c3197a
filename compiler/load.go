package compiler

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/cuecontext"
	cueerrors "cuelang.org/go/cue/errors"
	"cuelang.org/go/cue/load"
	"cuelang.org/go/cue/token"

	"github.com/cuesource/cuesource/diag"
	"github.com/cuesource/cuesource/manifest"
	"github.com/cuesource/cuesource/schema"
)

// source is a loaded context: its CUE value unified with #Context and what
// is needed to turn CUE positions into manifest positions.
type source struct {
	ctx   *cue.Context
	value cue.Value
	files map[string][]byte // by absolute name, read lazily
	cwd   string
}

// loadContext loads path (a .cue file or a directory holding one package)
// and unifies it with the embedded schema. When the context is not inside a
// CUE module, the schema module is overlaid so the import resolves anyway.
func loadContext(path string) (*source, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return nil, fmt.Errorf("context %s: %w", path, err)
	}
	dir, arg := abs, "."
	if !fi.IsDir() {
		dir, arg = filepath.Dir(abs), "./"+filepath.Base(abs)
	}
	cfg := &load.Config{Dir: dir}
	if root := moduleRoot(dir); root != "" {
		cfg.ModuleRoot = root
	} else {
		cfg.ModuleRoot = dir
		cfg.Overlay = map[string]load.Source{
			filepath.Join(dir, "cue.mod", "module.cue"): load.FromString(
				"module: \"cuesource.local/context@v0\"\nlanguage: version: \"v0.17.0\"\n"),
			filepath.Join(dir, "cue.mod", "pkg", schema.ImportPath, "schema.cue"): load.FromBytes(schema.Source),
		}
	}
	cwd, _ := os.Getwd()
	s := &source{ctx: cuecontext.New(), files: map[string][]byte{}, cwd: cwd}
	insts := load.Instances([]string{arg}, cfg)
	if len(insts) != 1 {
		return nil, fmt.Errorf("context %s: expected one CUE package, found %d", path, len(insts))
	}
	if err := insts[0].Err; err != nil {
		return nil, s.errors(err)
	}
	v := s.ctx.BuildInstance(insts[0])
	// v.Err() holds only the first error; Validate lists them all.
	def := s.ctx.CompileBytes(schema.Source, cue.Filename("schema.cue")).LookupPath(cue.ParsePath("#Context"))
	v = v.Unify(def)
	if err := v.Validate(cue.Concrete(true)); err != nil {
		return nil, s.errors(err)
	}
	if err := v.Err(); err != nil {
		return nil, s.errors(err)
	}
	s.value = v
	return s, nil
}

// moduleRoot returns the nearest directory at or above dir holding cue.mod.
func moduleRoot(dir string) string {
	for {
		if fi, err := os.Stat(filepath.Join(dir, "cue.mod")); err == nil && fi.IsDir() {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

// errors converts CUE errors into a sorted diag.List.
func (s *source) errors(err error) diag.List {
	var list diag.List
	for _, e := range cueerrors.Errors(err) {
		// An error holds the positions of every conjunct involved: the
		// schema's constraint, the user's type and the user's value. Point
		// at the user's, and of those at the latest in the file, which is
		// the value more often than the type it breaks (types come first).
		pos := e.Position()
		best := token.NoPos
		for _, p := range append([]token.Pos{pos}, e.InputPositions()...) {
			if !p.IsValid() || isSchemaFile(p.Filename()) {
				continue
			}
			if !best.IsValid() || (p.Filename() == best.Filename() && p.Offset() > best.Offset()) {
				best = p
			}
		}
		if best.IsValid() {
			pos = best
		}
		format, args := e.Msg()
		msg := fmt.Sprintf(format, args...)
		if in := e.InputPositions(); msg == "import failed" && len(in) > 0 {
			// A package file beside the context does not parse: say what
			// and where, not just that the import of the schema failed.
			msg, pos = strings.TrimPrefix(e.Error(), "import failed: "), in[0]
			list = append(list, &diag.Error{Pos: s.pos(pos), Msg: msg})
			continue
		}
		// `when` is a command or a list of commands: a bad payload fails
		// both sides of that disjunction, and only the payload side says
		// something the user can act on.
		if strings.Contains(msg, "errors in empty disjunction") ||
			strings.Contains(msg, "(mismatched types struct and list)") ||
			strings.Contains(msg, "(mismatched types list and struct)") {
			continue
		}
		mp := s.pos(pos)
		mp.Path = strings.Join(e.Path(), ".")
		list = append(list, &diag.Error{Pos: mp, Msg: msg})
	}
	if len(list) == 0 {
		list.Add(manifest.Pos{}, "%v", err)
	}
	list.Sort()
	return mergeConflicts(list)
}

// pos converts a CUE position to a manifest position with a path relative
// to the working directory when that is shorter.
func (s *source) pos(p token.Pos) manifest.Pos {
	if !p.IsValid() {
		return manifest.Pos{}
	}
	return manifest.Pos{File: s.rel(p.Filename()), Line: p.Line(), Col: p.Column()}
}

func (s *source) rel(name string) string {
	if s.cwd != "" {
		if r, err := filepath.Rel(s.cwd, name); err == nil && !strings.HasPrefix(r, "..") {
			return r
		}
	}
	return name
}

// exprPos returns the position of the first character inside the string
// literal at p, so a column in the expression maps to a column in the file.
func (s *source) exprPos(p token.Pos) manifest.Pos {
	mp := s.pos(p)
	if !p.IsValid() {
		return mp
	}
	data, ok := s.files[p.Filename()]
	if !ok {
		data, _ = os.ReadFile(p.Filename())
		s.files[p.Filename()] = data
	}
	off := p.Offset()
	if off < 0 || off >= len(data) {
		return mp
	}
	rest := data[off:]
	hashes := 0
	for hashes < len(rest) && rest[hashes] == '#' {
		hashes++
	}
	rest = rest[hashes:]
	switch {
	case strings.HasPrefix(string(rest), `"""`):
		// Multi-line: content starts on the next line, after the indentation
		// that the closing quotes set; expression line k is file line+k.
		nl := strings.IndexByte(string(rest), '\n')
		if nl < 0 {
			return mp
		}
		body := string(rest[nl+1:])
		end := strings.Index(body, `"""`)
		if end < 0 {
			return mp
		}
		lineStart := strings.LastIndexByte(body[:end], '\n') + 1
		indent := len(body[lineStart:end])
		mp.Line++
		mp.Col = indent + 1
	case strings.HasPrefix(string(rest), `"`):
		mp.Col += hashes + 1
	}
	return mp
}

var conflictRE = regexp.MustCompile(`^conflicting values (.+) and (.+?)(?: \(mismatched types .*\))?$`)

// mergeConflicts folds the errors CUE gives for a value that matches no
// alternative of a disjunction ("new" | "open"), one per alternative at the
// same place, into one: conflicting values "empty" and "new" | "open".
func mergeConflicts(list diag.List) diag.List {
	out := list[:0:0]
	for i := 0; i < len(list); {
		j, common := i+1, ""
		var others []string
		if m := conflictRE.FindStringSubmatch(list[i].Msg); m != nil {
			others = []string{m[1]}
			common = m[2]
			for j < len(list) && list[j].Pos == list[i].Pos {
				mj := conflictRE.FindStringSubmatch(list[j].Msg)
				if mj == nil || mj[2] != common {
					break
				}
				others = append(others, mj[1])
				j++
			}
		}
		if j-i > 1 {
			out = append(out, &diag.Error{Pos: list[i].Pos, Msg: fmt.Sprintf("conflicting values %s and %s", common, strings.Join(others, " | "))})
		} else {
			out = append(out, list[i])
			j = i + 1
		}
		i = j
	}
	return out
}
