package jsonsubset

import (
	"regexp"
	"regexp/syntax"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// preferred are the characters a class is sampled from first, so that
// documents read well ([^z] gives "a", not "\x00").
const preferred = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

// How a walk repeats: the walk itself ignores minLength and maxLength, so
// patterned tries the usual counts, then the fewest, then counts long
// enough for minLength.
type repeats int

const (
	usual  repeats = iota // up to 3 beyond the minimum, as chosen
	fewest                // the minimum
	enough                // as many as minLength asks, within the maximum
)

// patterned generates a string matching every pattern within the length
// limits: each pattern in turn is walked, and the result checked against
// all of them.
func (g *gen) patterned(f *facts, at string) (string, error) {
	attempt, restore := g.retrying()
	defer restore()
	for _, p := range f.patterns {
		for try := range 3 * tries {
			attempt(try / 3)
			w := walker{g: g, site: p.ptr + at, rep: repeats(try % 3), want: f.minLen}
			if !w.walk(syntaxOf(p.pattern)) {
				break
			}
			s := w.b.String()
			if f.fits(s) {
				return s, nil
			}
			// An unanchored pattern also matches with text after it.
			if n := utf8.RuneCountInString(s); n < f.minLen && f.fits(s+fill(f.minLen-n)) {
				return s + fill(f.minLen-n), nil
			}
		}
	}
	p := f.patterns[0]
	return "", errAt(p.ptr, "no string found for pattern %q that fits the length limits and other patterns", p.pattern.String())
}

// syntaxOf parses a compiled pattern again for the walk; regexp.Compile
// parsed it the same way, so this cannot fail. Nodes do not keep the tree:
// a program that only validates (a Worker) would link its printer.
func syntaxOf(re *regexp.Regexp) *syntax.Regexp {
	s, _ := syntax.Parse(re.String(), syntax.Perl)
	return s
}

// fromRegexp generates a string re matches, with the usual repeats.
func (g *gen) fromRegexp(re *syntax.Regexp, site string) (string, bool) {
	w := walker{g: g, site: site}
	ok := w.walk(re)
	return w.b.String(), ok
}

// walker writes a string the regexp matches, making each choice
// (alternative, repeat count, character) through gen.choose.
type walker struct {
	g     *gen
	site  string
	rep   repeats
	want  int // the length enough aims at
	calls int
	b     strings.Builder
}

func (w *walker) choose(n int) int {
	w.calls++
	return w.g.choose(n, w.site+"#"+strconv.Itoa(w.calls))
}

// walk reports false for a regexp that matches nothing.
func (w *walker) walk(re *syntax.Regexp) bool {
	switch re.Op {
	case syntax.OpNoMatch:
		return false
	case syntax.OpLiteral:
		w.b.WriteString(string(re.Rune))
	case syntax.OpCharClass:
		rs := classRunes(re.Rune, w.g.current() == random)
		if len(rs) == 0 {
			return false
		}
		w.b.WriteRune(rs[w.choose(len(rs))])
	case syntax.OpAnyChar, syntax.OpAnyCharNotNL:
		w.b.WriteByte(preferred[w.choose(len(preferred))])
	case syntax.OpCapture:
		return w.walk(re.Sub[0])
	case syntax.OpConcat:
		for _, s := range re.Sub {
			if !w.walk(s) {
				return false
			}
		}
	case syntax.OpAlternate:
		return w.walk(re.Sub[w.choose(len(re.Sub))])
	case syntax.OpStar, syntax.OpPlus, syntax.OpQuest, syntax.OpRepeat:
		lo, hi := re.Min, re.Max
		switch re.Op {
		case syntax.OpStar:
			lo, hi = 0, -1
		case syntax.OpPlus:
			lo, hi = 1, -1
		case syntax.OpQuest:
			lo, hi = 0, 1
		}
		n := lo
		switch w.rep {
		case usual:
			top := lo + 3
			if hi >= 0 {
				top = min(top, hi)
			}
			n += w.choose(top - lo + 1)
		case enough:
			n = max(lo, w.want)
			if hi >= 0 {
				n = min(n, hi)
			}
		}
		for range n {
			if !w.walk(re.Sub[0]) {
				return false
			}
		}
	}
	// Anchors, word boundaries and empty matches write nothing; the
	// result is checked against the compiled pattern anyway.
	return true
}

// classRunes lists characters of a class (pairs of inclusive ranges):
// the preferred ones in it, or failing those the printable ends of its
// ranges. Random draws get both, to reach punctuation too.
func classRunes(ranges []rune, all bool) []rune {
	in := func(r rune) bool {
		for i := 0; i < len(ranges); i += 2 {
			if ranges[i] <= r && r <= ranges[i+1] {
				return true
			}
		}
		return false
	}
	var out []rune
	for _, r := range preferred {
		if in(r) {
			out = append(out, r)
		}
	}
	if len(out) > 0 && !all {
		return out
	}
	for i := 0; i < len(ranges); i += 2 {
		for _, r := range []rune{ranges[i], ranges[i+1]} {
			if utf8.ValidRune(r) && unicode.IsPrint(r) && !strings.ContainsRune(string(out), r) {
				out = append(out, r)
			}
		}
	}
	if len(out) == 0 && len(ranges) > 0 && utf8.ValidRune(ranges[0]) {
		out = append(out, ranges[0]) // only unprintable characters: take one anyway
	}
	return out
}
