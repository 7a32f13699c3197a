package rows

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/cuesource/cuesource/value"
)

// SQLScan is what a light lexical scan of a query finds.
type SQLScan struct {
	First      string   // the first keyword, upper-cased
	Params     []string // named parameters without prefix, in order of first use
	Positional bool     // it has ? or ?NNN parameters
	More       bool     // something follows the first statement
}

// Scan scans SQLite's lexical structure: strings, quoted identifiers,
// comments, parameters (?, ?NNN, :name, @name, $name) and ';'. The
// prefixes of a name are one parameter: that is how database/sql binds
// sql.Named.
func Scan(s string) SQLScan {
	var out SQLScan
	seen := map[string]bool{}
	ended := false // a ';' was seen
	lex(s, func(k token, i, j int) bool {
		if ended {
			out.More = true
			return false
		}
		switch k {
		case tokEnd:
			ended = true
		case tokPositional:
			out.Positional = true
		case tokNamed:
			if name := s[i+1 : j]; name != "" && !seen[name] {
				seen[name] = true
				out.Params = append(out.Params, name)
			}
		case tokWord:
			if out.First == "" {
				out.First = strings.ToUpper(s[i:j])
			}
		case tokOther:
			if out.First == "" {
				out.First = s[i:j]
			}
		}
		return true
	})
	return out
}

// Params returns the named parameters of a query, without prefix, in
// order of first use.
func Params(s string) []string { return Scan(s).Params }

// Positional rewrites the named parameters of a query into numbered ones,
// for a database that binds no names (D1): the parameter params[i] becomes
// ?<i+1> wherever it is used, params being [Params]. Strings, quoted
// identifiers and comments are left alone. The query must have no
// positional parameters of its own (CheckQueries refuses them).
func Positional(s string) (sql string, params []string) {
	var b strings.Builder
	index := map[string]int{}
	last := 0
	lex(s, func(k token, i, j int) bool {
		if k != tokNamed || j == i+1 {
			return true
		}
		name := s[i+1 : j]
		n, ok := index[name]
		if !ok {
			params = append(params, name)
			n = len(params)
			index[name] = n
		}
		b.WriteString(s[last:i])
		b.WriteString("?" + strconv.Itoa(n))
		last = j
		return true
	})
	b.WriteString(s[last:])
	return b.String(), params
}

// token is a kind of lexical token of SQLite.
type token int

const (
	tokWord       token = iota // a keyword or identifier
	tokOther                   // any other single character
	tokQuoted                  // a string, a quoted identifier or [identifier]
	tokPositional              // ? or ?NNN
	tokNamed                   // :name, @name, $name (a lone prefix has no name)
	tokEnd                     // ;
)

// lex calls yield with each token of s in turn, as s[i:j], skipping white
// space and comments, until yield returns false.
func lex(s string, yield func(k token, i, j int) bool) {
	i := 0
	for i < len(s) {
		c := s[i]
		var k token
		j := i + 1
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f':
			i++
			continue
		case c == '-' && i+1 < len(s) && s[i+1] == '-':
			for i < len(s) && s[i] != '\n' {
				i++
			}
			continue
		case c == '/' && i+1 < len(s) && s[i+1] == '*':
			end := strings.Index(s[i+2:], "*/")
			if end < 0 {
				i = len(s)
			} else {
				i += end + 4
			}
			continue
		case c == ';':
			k = tokEnd
		case c == '\'' || c == '"' || c == '`':
			k, j = tokQuoted, skipQuoted(s, i, c)
		case c == '[':
			k, j = tokQuoted, len(s)
			if end := strings.IndexByte(s[i:], ']'); end >= 0 {
				j = i + end + 1
			}
		case c == '?':
			k = tokPositional
			for j < len(s) && s[j] >= '0' && s[j] <= '9' {
				j++
			}
		case c == ':' || c == '@' || c == '$':
			k = tokNamed
			for j < len(s) {
				r, size := utf8.DecodeRuneInString(s[j:])
				if r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) || r > 0x7f {
					j += size
					continue
				}
				break
			}
		default:
			k, j = tokWord, i
			for j < len(s) && (s[j] == '_' || s[j] >= 'a' && s[j] <= 'z' || s[j] >= 'A' && s[j] <= 'Z' || s[j] >= '0' && s[j] <= '9' || s[j] > 0x7f) {
				j++
			}
			if j == i {
				k, j = tokOther, i+1
			}
		}
		if !yield(k, i, j) {
			return
		}
		i = j
	}
}

// skipQuoted returns the index after the quoted token starting at i; a
// doubled quote is an escaped one.
func skipQuoted(s string, i int, q byte) int {
	i++
	for i < len(s) {
		if s[i] == q {
			if i+1 < len(s) && s[i+1] == q {
				i += 2
				continue
			}
			return i + 1
		}
		i++
	}
	return i
}

// ResultValue is how a query gives a result column's value: integers as
// int, text as string, and the value of a JSON column (isJSON) decoded.
func ResultValue(v any, isJSON bool) any {
	switch x := v.(type) {
	case []byte:
		return string(x)
	case int64:
		return int(x)
	case string:
		if isJSON {
			if d, err := value.DecodeStored([]byte(x)); err == nil {
				return d
			}
		}
	}
	return v
}

// Bindable is what a query parameter binds as: ints as int64, null,
// floats, strings and booleans as they are, anything else as its text.
func Bindable(v any) any {
	switch x := v.(type) {
	case int:
		return int64(x)
	case nil, int64, float64, string, bool:
		return v
	}
	return fmt.Sprint(v)
}

// Amplifiers names the calls in a query that build a value whose size a
// parameter (or the data) chooses, far beyond the size of their inputs:
// printf/format whose format is not a string literal or has a '*' width or
// precision, and replace whose replacement is a parameter. One message
// per call found, in order. (zeroblob and randomblob are refused by name
// when the query is prepared.)
func Amplifiers(s string) []string {
	type tok struct {
		k    token
		text string
	}
	var toks []tok
	lex(s, func(k token, i, j int) bool {
		toks = append(toks, tok{k, s[i:j]})
		return true
	})
	// args splits the arguments of the call whose '(' is toks[open].
	args := func(open int) [][]tok {
		var out [][]tok
		var cur []tok
		depth := 0
		for _, t := range toks[open+1:] {
			switch {
			case t.k == tokOther && t.text == "(":
				depth++
			case t.k == tokOther && t.text == ")":
				if depth == 0 {
					return append(out, cur)
				}
				depth--
			case t.k == tokOther && t.text == "," && depth == 0:
				out = append(out, cur)
				cur = nil
				continue
			}
			cur = append(cur, t)
		}
		return append(out, cur)
	}
	var msgs []string
	for i, t := range toks {
		if t.k != tokWord || i+1 >= len(toks) || toks[i+1].text != "(" {
			continue
		}
		switch name := strings.ToLower(t.text); name {
		case "printf", "format":
			a := args(i + 1)
			if len(a) == 0 || len(a[0]) != 1 || a[0][0].k != tokQuoted || a[0][0].text[0] != '\'' {
				msgs = append(msgs, fmt.Sprintf("%s needs a string literal as its format: a format from elsewhere can ask for a value of any size", name))
			} else if strings.Contains(a[0][0].text, "*") {
				msgs = append(msgs, fmt.Sprintf("%s's format has a '*' width or precision, which lets an argument choose the size of the value", name))
			}
		case "replace":
			a := args(i + 1)
			if len(a) != 3 {
				continue
			}
			for _, t := range a[2] {
				if t.k == tokNamed {
					msgs = append(msgs, "replace's replacement is a parameter, which lets a request multiply the size of the value")
					break
				}
			}
		}
	}
	return msgs
}

// Bounded wraps a query so that it gives at most n rows: SELECT * FROM
// (query) LIMIT n. What follows the first statement (a ';' and comments)
// is dropped, and the query ends on its own line so a trailing comment
// cannot swallow the ')'. SQLite keeps the order of a subquery's ORDER BY
// when the outer query has none. For a database whose rows arrive all at
// once (D1): asked for one more row than the limit, it shows a result over
// the limit without reading all of it.
func Bounded(s string, n int) string {
	end := len(s)
	lex(s, func(k token, i, _ int) bool {
		if k == tokEnd {
			end = i
			return false
		}
		return true
	})
	return "SELECT * FROM (" + s[:end] + "\n) LIMIT " + strconv.Itoa(n)
}

// Size is what a result value counts toward a query's byte limit: the
// length of a string or blob, 8 for a number or boolean, 4 for null (and
// anything else). Both runtimes count alike.
func Size(v any) int {
	switch x := v.(type) {
	case string:
		return len(x)
	case []byte:
		return len(x)
	case int64, float64, int, bool:
		return 8
	}
	return 4
}
