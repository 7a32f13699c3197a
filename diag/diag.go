package diag

import (
	"bytes"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/cuesource/cuesource/manifest"
)

// Error is one mistake at one place.
type Error struct {
	Pos manifest.Pos
	Msg string
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.Pos.File != "" {
		b.WriteString(e.Pos.String())
		b.WriteString(": ")
	}
	if e.Pos.Path != "" {
		b.WriteString(e.Pos.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Errorf makes an Error at pos.
func Errorf(pos manifest.Pos, format string, args ...any) *Error {
	return &Error{Pos: pos, Msg: fmt.Sprintf(format, args...)}
}

// List is every mistake found, in source order once sorted.
type List []*Error

func (l List) Error() string {
	switch len(l) {
	case 0:
		return "no errors"
	case 1:
		return l[0].Error()
	}
	return fmt.Sprintf("%s (and %d more errors)", l[0].Error(), len(l)-1)
}

// Err returns nil for an empty list, so callers can `return l.Err()`.
func (l List) Err() error {
	if len(l) == 0 {
		return nil
	}
	return l
}

// Add appends an Error at pos.
func (l *List) Add(pos manifest.Pos, format string, args ...any) {
	*l = append(*l, Errorf(pos, format, args...))
}

// Sort orders the list by file, line and column, then message, and drops
// exact duplicates (CUE may report one conflict from two sides).
func (l *List) Sort() {
	s := *l
	sort.SliceStable(s, func(i, j int) bool {
		a, b := s[i].Pos, s[j].Pos
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		if a.Col != b.Col {
			return a.Col < b.Col
		}
		return s[i].Msg < s[j].Msg
	})
	out := s[:0]
	for i, e := range s {
		if i > 0 && e.Pos == s[i-1].Pos && e.Msg == s[i-1].Msg {
			continue
		}
		out = append(out, e)
	}
	*l = out
}

// Render writes each error followed by its source line and a caret under
// the column, the way compilers do:
//
//	contexts/shop.cue:12:29: aggregates.cart.require["open"]: unknown name stat
//	    require: {"open": "stat.status == 'open'"}
//	                       ^
//
// Files are read through read (os.ReadFile when nil); an unreadable file
// just loses its snippet.
func Render(err error, read func(string) ([]byte, error)) string {
	if read == nil {
		read = os.ReadFile
	}
	var list List
	switch e := err.(type) {
	case List:
		list = e
	case *Error:
		list = List{e}
	default:
		return err.Error() + "\n"
	}
	cache := map[string][][]byte{}
	var b strings.Builder
	for _, e := range list {
		b.WriteString(e.Error())
		b.WriteByte('\n')
		if e.Pos.File == "" || e.Pos.Line <= 0 {
			continue
		}
		lines, ok := cache[e.Pos.File]
		if !ok {
			if data, rerr := read(e.Pos.File); rerr == nil {
				lines = bytes.Split(data, []byte("\n"))
			}
			cache[e.Pos.File] = lines
		}
		if e.Pos.Line > len(lines) {
			continue
		}
		line := strings.ReplaceAll(string(lines[e.Pos.Line-1]), "\t", "    ")
		raw := string(lines[e.Pos.Line-1])
		col := e.Pos.Col
		if col < 1 {
			col = 1
		}
		// Tabs were widened to four spaces; move the caret with them.
		prefix := raw
		if col-1 < len(raw) {
			prefix = raw[:col-1]
		}
		width := len([]rune(strings.ReplaceAll(prefix, "\t", "    ")))
		b.WriteString("    ")
		b.WriteString(line)
		b.WriteString("\n    ")
		b.WriteString(strings.Repeat(" ", width))
		b.WriteString("^\n")
	}
	return b.String()
}
