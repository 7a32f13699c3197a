package jsonsubset

import (
	"cmp"
	"encoding/json"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/cuesource/cuesource/value"
)

const (
	softDepth = 4      // nesting beyond which every choice is minimal, so recursion ends
	hardDepth = 32     // nesting at which generation gives up: the recursion never ends
	budget    = 200000 // values built per document, a guard against exponential backtracking
	tries     = 8      // candidates built for one place before giving up on it
)

// Samples returns up to n distinct documents valid against doc (a decoded
// JSON Schema: map[string]any as encoding/json gives it), deterministic for
// a given doc. The first is minimal (only required properties, smallest
// lengths, lower bounds), the second maximal (every declared property,
// upper bounds), then variants that walk enum values, alternatives
// (anyOf/oneOf), array lengths and numeric edges. Error when the schema
// cannot be satisfied or uses something unsupported (say what and where,
// as a JSON pointer into the schema).
func Samples(doc map[string]any, n int) ([]any, error) {
	s, err := generable(doc)
	if err != nil {
		return nil, err
	}
	return s.samples(n)
}

// generable compiles doc for generation, which does not take contains or
// if/then/else (validation does).
func generable(doc map[string]any) (*Schema, error) {
	s, err := Compile(doc)
	if err == nil && s.ungenerable != "" {
		kw := s.ungenerable[strings.LastIndexByte(s.ungenerable, '/')+1:]
		err = errAt(s.ungenerable, "keyword %q is not supported", kw)
	}
	return s, err
}

// samples is [Samples] for a compiled schema. Generation is reached only
// through package functions, not exported methods: a program that
// validates (a Worker) keeps Schema's exported methods for reflection,
// and must not link the generator with them.
func (s *Schema) samples(n int) ([]any, error) {
	if n <= 0 {
		return nil, nil
	}
	root := s.root
	var out []any
	seen := map[string]bool{}
	var first error
	for i := 0; len(out) < n && i < 4*n+8; i++ {
		g := &gen{mode: walk, k: i - 2}
		switch {
		case i == 0:
			g.mode = minimal
		case i == 1:
			g.mode = maximal
		case i >= 2*n+4:
			// The walk repeats itself for small schemas; a seeded draw
			// still finds new documents and stays deterministic.
			g.mode, g.r = random, rand.New(rand.NewPCG(uint64(i), 0x5a3e))
		}
		v, err := g.value([]*node{root}, "")
		if err != nil {
			first = cmp.Or(first, err)
			continue
		}
		if key := encode(v); !seen[key] {
			seen[key] = true
			out = append(out, v)
		}
	}
	if len(out) == 0 {
		return nil, first
	}
	return out, nil
}

// Random returns one valid document drawn with r (for property tests).
func Random(doc map[string]any, r *rand.Rand) (any, error) {
	s, err := generable(doc)
	if err != nil {
		return nil, err
	}
	return s.random(r)
}

func (s *Schema) random(r *rand.Rand) (any, error) {
	return (&gen{mode: random, r: r}).value([]*node{s.root}, "")
}

// propSchemas are the schemas n applies to the value of property k:
// properties[k] and every matching patternProperties, or else
// additionalProperties.
func (n *node) propSchemas(k string) []*node {
	var out []*node
	if s, ok := n.props[k]; ok {
		out = append(out, s)
	}
	for _, p := range n.patterns {
		if p.re.MatchString(k) {
			out = append(out, p.schema)
		}
	}
	if len(out) == 0 && n.additional != nil {
		out = append(out, n.additional)
	}
	return out
}

type mode int

const (
	minimal mode = iota // first option everywhere: the smallest
	maximal             // last option everywhere: the largest
	walk                // option (k + hash of the place) mod n
	random
)

// gen builds one document. Every decision is a choice among options
// ordered from smallest to largest, so one mode field steers them all.
type gen struct {
	mode  mode
	k     int        // the walk's step
	r     *rand.Rand // random mode
	shift int        // added to choices when a place is retried, so it differs
	depth int        // nesting of the value being built
	steps int
}

func (g *gen) current() mode {
	if g.depth > softDepth {
		return minimal
	}
	return g.mode
}

// choose picks one of n options at site (schema pointer and instance
// path, so walk variants differ from place to place and item to item).
func (g *gen) choose(n int, site string) int {
	if n <= 1 {
		return 0
	}
	switch g.current() {
	case minimal:
		return g.shift % n
	case maximal:
		return n - 1 - g.shift%n
	case walk:
		h := fnv.New64a()
		h.Write([]byte(site))
		return int((h.Sum64()%uint64(n) + uint64(g.k+g.shift)) % uint64(n))
	}
	return g.r.IntN(n)
}

// value builds a value for the schemas c that apply together at instance
// path at.
func (g *gen) value(c []*node, at string) (any, error) {
	if g.steps++; g.steps > budget {
		return nil, errAt(c[0].ptr, "the schema is too complex to sample")
	}
	if g.depth > hardDepth {
		return nil, errAt(c[0].ptr, "recursion never ends: every document nests deeper than %d", hardDepth)
	}
	flat, alts, err := flatten(c)
	if err != nil {
		return nil, err
	}
	return g.branch(c, flat, alts, at)
}

// flatten gathers c with their allOf members and $ref targets; the
// anyOf/oneOf lists come back apart, as one branch of each is to be chosen.
func flatten(c []*node) (flat []*node, alts [][]*node, err error) {
	queue := slices.Clone(c)
	seen := map[*node]bool{}
	for i := 0; i < len(queue); i++ {
		n := queue[i]
		if seen[n] {
			continue
		}
		seen[n] = true
		if n.never {
			return nil, nil, errAt(n.ptr, "the schema is false: nothing satisfies it")
		}
		flat = append(flat, n)
		queue = append(queue, n.allOf...)
		if n.ref != nil {
			queue = append(queue, n.ref)
		}
		for _, alt := range [][]*node{n.anyOf, n.oneOf} {
			if len(alt) > 0 {
				alts = append(alts, alt)
			}
		}
	}
	return flat, alts, nil
}

// branch chooses a branch of the first alternative list and goes on with
// the rest, backtracking to the next branch when one yields nothing.
func (g *gen) branch(c, flat []*node, alts [][]*node, at string) (any, error) {
	if len(alts) == 0 {
		return g.retry(c, flat, at)
	}
	bs := alts[0]
	start := g.choose(len(bs), bs[0].ptr+at)
	order := make([]int, len(bs))
	for i := range order {
		order[i] = (start + i) % len(bs)
	}
	if g.current() == minimal {
		// Minimal documents, and all deep down, prefer what cannot
		// recurse: it is smaller, and it is how recursion ends.
		slices.SortStableFunc(order, func(a, b int) int { return cmpBool(bs[a].hasRef, bs[b].hasRef) })
	}
	var first error
	for _, i := range order {
		f, a, err := flatten([]*node{bs[i]})
		if err == nil {
			var v any
			if v, err = g.branch(c, append(slices.Clone(flat), f...), append(a, alts[1:]...), at); err == nil {
				return v, nil
			}
		}
		first = cmp.Or(first, err)
	}
	return nil, first
}

// retry builds candidates until one satisfies every schema in c.
func (g *gen) retry(c, flat []*node, at string) (any, error) {
	attempt, restore := g.retrying()
	defer restore()
	for try := range tries {
		attempt(try)
		v, err := g.build(flat, at)
		if err != nil {
			return nil, err
		}
		if valid(c, v) {
			return v, nil
		}
	}
	return nil, errAt(c[0].ptr, "no generated value satisfies the schema (tried %d)", tries)
}

// retrying prepares attempts at a place whose earlier attempts failed:
// attempt shifts every choice, and halfway turns random draws into a walk,
// which tries the options in turn; restore undoes both.
func (g *gen) retrying() (attempt func(try int), restore func()) {
	shift, mode, k := g.shift, g.mode, g.k
	attempt = func(try int) {
		g.shift = shift + try
		if mode == random && try == tries/2 {
			g.mode, g.k = walk, g.r.IntN(1<<16)
		}
	}
	return attempt, func() { g.shift, g.mode, g.k = shift, mode, k }
}

// facts merges the own keywords of schemas that apply together.
type facts struct {
	nodes          []*node
	kinds, hints   kind
	lo, hi         float64
	loExcl, hiExcl bool
	multiples      []float64
	minLen, maxLen int
	patterns       []*node
	format         string
	minItems       int
	maxItems       int
	unique         bool
	minProps       int
	maxProps       int
}

func merge(flat []*node) *facts {
	f := &facts{nodes: flat, kinds: kAll, lo: math.Inf(-1), hi: math.Inf(1), maxLen: -1, maxItems: -1, maxProps: -1}
	for _, n := range flat {
		if n.types != 0 {
			f.kinds &= n.types
		}
		f.hints |= n.hints
		if n.lo > f.lo || n.lo == f.lo && n.loExcl {
			f.lo, f.loExcl = n.lo, n.loExcl
		}
		if n.hi < f.hi || n.hi == f.hi && n.hiExcl {
			f.hi, f.hiExcl = n.hi, n.hiExcl
		}
		if n.multipleOf > 0 {
			f.multiples = append(f.multiples, n.multipleOf)
		}
		f.minLen, f.maxLen = max(f.minLen, n.minLen), upper(f.maxLen, n.maxLen)
		if n.pattern != nil {
			f.patterns = append(f.patterns, n)
		}
		if _, known := formats[n.format]; known && f.format == "" {
			f.format = n.format
		}
		f.minItems, f.maxItems = max(f.minItems, n.minItems), upper(f.maxItems, n.maxItems)
		if n.items != nil && n.items.never {
			f.maxItems = upper(f.maxItems, len(n.prefix))
		}
		f.unique = f.unique || n.unique
		f.minProps, f.maxProps = max(f.minProps, n.minProps), upper(f.maxProps, n.maxProps)
	}
	return f
}

// upper is the tighter of two upper limits, negative meaning none.
func upper(a, b int) int {
	if a < 0 || b >= 0 && b < a {
		return b
	}
	return a
}

func (f *facts) ptr() string { return f.nodes[0].ptr }

// build makes one candidate from the merged keywords; retry checks it.
func (g *gen) build(flat []*node, at string) (any, error) {
	f := merge(flat)
	for _, n := range flat {
		if !n.hasEnum {
			continue
		}
		var ok []any
		for _, e := range normalize(n.enum).([]any) { // compiling keeps the schema's values
			if valid(flat, e) {
				ok = append(ok, e)
			}
		}
		if len(ok) == 0 {
			return nil, errAt(n.enumPtr, "no enum or const value satisfies the other constraints")
		}
		return normalize(ok[g.choose(len(ok), n.enumPtr+at)]), nil // a copy: documents never share the schema's maps
	}
	if f.kinds == 0 {
		return nil, errAt(f.ptr(), "the types allowed by the schemas exclude each other")
	}
	// Kinds the keywords are about come first; a bare {"properties": ...}
	// is better sampled as an object than as null.
	var hinted, rest []kind
	for _, k := range []kind{kNull, kBool, kNum, kString, kArray, kObject} {
		switch {
		case f.kinds&k == 0:
		case f.hints&k != 0:
			hinted = append(hinted, k)
		default:
			rest = append(rest, k)
		}
	}
	if len(hinted) == 0 {
		hinted, rest = rest, nil
	}
	start := g.choose(len(hinted), f.ptr()+"/type"+at)
	order := append(append(slices.Clone(hinted[start:]), hinted[:start]...), rest...)
	var first error
	for _, k := range order {
		var v any
		var err error
		switch k {
		case kNull:
			return nil, nil
		case kBool:
			return g.choose(2, f.ptr()+"/bool"+at) == 1, nil
		case kNum:
			v, err = g.number(f, at)
		case kString:
			v, err = g.str(f, at)
		case kArray:
			v, err = g.array(f, at)
		case kObject:
			v, err = g.object(f, at)
		}
		if err == nil {
			return v, nil
		}
		first = cmp.Or(first, err)
	}
	return nil, first
}

// number picks among edges and a few values in between, ordered so the
// first is the lower bound (or 0) and the last the upper bound (or 1000
// above the lower).
func (g *gen) number(f *facts, at string) (any, error) {
	lo, hi := f.lo, f.hi
	if lo > hi || lo == hi && (f.loExcl || f.hiExcl) {
		return nil, errAt(f.ptr(), "no number satisfies %s and %s", bound(f.lo, f.loExcl, "minimum"), bound(f.hi, f.hiExcl, "maximum"))
	}
	step, grid := 0.0, f.kinds&kFrac == 0
	for _, m := range f.multiples {
		switch {
		case step == 0:
			step = m
		case m == math.Trunc(m) && step == math.Trunc(step):
			step = step / float64(gcd(int64(step), int64(m))) * m
		}
	}
	if step == 0 && grid {
		step = 1
	}
	if step == 0 {
		return g.continuous(f, at)
	}
	// Values are k*step for an integer k in [kLo, kHi].
	kLo, kHi := math.Ceil(lo/step), math.Floor(hi/step)
	if f.loExcl && kLo*step == lo {
		kLo++
	}
	if f.hiExcl && kHi*step == hi {
		kHi--
	}
	limit := math.Floor(maxSafe / step)
	hasLo, hasHi := !math.IsInf(lo, 0), !math.IsInf(hi, 0)
	kLo, kHi = max(kLo, -limit), min(kHi, limit)
	if kLo > kHi {
		return nil, errAt(f.ptr(), "no multiple of %v satisfies %s and %s", step, bound(f.lo, f.loExcl, "minimum"), bound(f.hi, f.hiExcl, "maximum"))
	}
	wide := math.Max(1, math.Round(1000/step))
	top := max(kLo, 0) + wide
	if hasHi {
		top = kHi
	}
	ks := []float64{0, 1, -1}
	if hasLo {
		ks = append([]float64{kLo}, append(ks, kLo+1)...)
	}
	if hasLo && hasHi {
		ks = append(ks, math.Floor((kLo+kHi)/2))
	}
	if hasHi {
		ks = append(ks, kHi-1)
	}
	ks = append(ks, top)
	var k float64
	if g.current() == random && g.r.IntN(2) == 0 {
		a, b := kLo, kHi
		if !hasLo {
			a = min(kHi, 0) - wide
		}
		if !hasHi {
			b = max(a, 0) + wide
		}
		a, b = max(a, kLo), min(b, kHi)
		k = a + float64(g.r.Int64N(int64(b-a)+1))
	} else {
		ks = compactStable(slices.DeleteFunc(ks, func(k float64) bool { return k < kLo || k > kHi }))
		k = ks[g.choose(len(ks), f.ptr()+"/num"+at)]
	}
	return num(roundTo(k*step, step)), nil
}

// continuous samples a number range that allows fractions.
func (g *gen) continuous(f *facts, at string) (any, error) {
	lo, hi := f.lo, f.hi
	hasLo, hasHi := !math.IsInf(lo, 0), !math.IsInf(hi, 0)
	delta := 1.0
	if hasLo && hasHi {
		delta = min(1, (hi-lo)/2)
	}
	in := func(v float64) bool {
		return (v > lo || v == lo && !f.loExcl) && (v < hi || v == hi && !f.hiExcl) && math.Abs(v) <= maxSafe
	}
	top := max(lo, 0) + 1000
	if hasHi {
		top = hi
		if f.hiExcl {
			top = tidy(hi-delta, in)
		}
	}
	vs := []float64{0, 1.5, 0.25, -1.5, 1, -1, lo + 0.5, tidy((lo+hi)/2, in), hi - 0.5, top}
	if hasLo {
		first := lo
		if f.loExcl {
			first = tidy(lo+delta, in)
		}
		vs = append([]float64{first}, vs...)
	}
	if g.current() == random && g.r.IntN(2) == 0 {
		a, b := lo, hi
		if !hasLo {
			a = min(hi, 0) - 1000
		}
		if !hasHi {
			b = max(a, 0) + 1000
		}
		v := a + g.r.Float64()*(b-a)
		if g.r.IntN(3) > 0 {
			v = math.Round(v*100) / 100
		} else {
			v = math.Round(v)
		}
		if in(v) {
			return num(v), nil
		}
	}
	vs = compactStable(slices.DeleteFunc(vs, func(v float64) bool { return !in(v) }))
	if len(vs) == 0 {
		return nil, errAt(f.ptr(), "no number found between %s and %s", bound(f.lo, f.loExcl, "minimum"), bound(f.hi, f.hiExcl, "maximum"))
	}
	return num(vs[g.choose(len(vs), f.ptr()+"/num"+at)]), nil
}

// tidy shortens v to the fewest significant digits that stay in range:
// the middle of (0.1, 0.2) reads 0.15, not 0.15000000000000002.
func tidy(v float64, in func(float64) bool) float64 {
	for p := 1; p < 17; p++ {
		if t, err := strconv.ParseFloat(strconv.FormatFloat(v, 'g', p, 64), 64); err == nil && in(t) {
			return t
		}
	}
	return v
}

func bound(v float64, excl bool, kw string) string {
	if excl {
		kw = "exclusive" + strings.ToUpper(kw[:1]) + kw[1:]
	}
	return kw + " " + strconv.FormatFloat(v, 'g', -1, 64)
}

func gcd(a, b int64) int64 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// roundTo removes the binary noise of k*step (3*0.1 is 0.30000000000000004)
// by rounding to the decimals step has.
func roundTo(v, step float64) float64 {
	s := strconv.FormatFloat(step, 'f', -1, 64)
	dot := strings.IndexByte(s, '.')
	if dot < 0 {
		return v
	}
	r, _ := strconv.ParseFloat(strconv.FormatFloat(v, 'f', len(s)-dot-1, 64), 64)
	return r
}

// num gives a number the Go type value.Decode would: int when integral.
func num(f float64) any {
	if f == math.Trunc(f) && math.Abs(f) <= maxSafe {
		return int(f)
	}
	return f
}

func compactStable[T comparable](xs []T) []T {
	var out []T
	for _, x := range xs {
		if !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	return out
}

var formats = map[string][]string{
	"date-time": {"2024-01-02T03:04:05Z", "2024-12-31T23:59:59.5+01:00"},
	"date":      {"2024-01-02", "2024-12-31"},
	"time":      {"03:04:05Z", "23:59:59.5+01:00"},
	"email":     {"user@example.com", "first.last@example.org"},
	"uuid":      {"123e4567-e89b-42d3-a456-426614174000", "00000000-0000-4000-8000-000000000001"},
	"uri":       {"https://example.com/", "urn:example:sample"},
	"hostname":  {"example.com", "api.example.org"},
	"ipv4":      {"192.0.2.1", "198.51.100.7"},
	"ipv6":      {"2001:db8::1", "::1"},
}

// fits reports whether s satisfies the merged length and pattern keywords.
func (f *facts) fits(s string) bool {
	l := utf8.RuneCountInString(s)
	if l < f.minLen || f.maxLen >= 0 && l > f.maxLen {
		return false
	}
	return all(f.patterns, func(n *node) bool { return n.pattern.MatchString(s) })
}

func (g *gen) str(f *facts, at string) (any, error) {
	if f.maxLen >= 0 && f.minLen > f.maxLen {
		return nil, errAt(f.ptr(), "minLength %d exceeds maxLength %d", f.minLen, f.maxLen)
	}
	// A format value that breaks other keywords is dropped: format is
	// only an annotation.
	if vals := slices.DeleteFunc(slices.Clone(formats[f.format]), func(s string) bool { return !f.fits(s) }); len(vals) > 0 {
		return vals[g.choose(len(vals), f.ptr()+"/format"+at)], nil
	}
	if len(f.patterns) > 0 {
		return g.patterned(f, at)
	}
	if g.current() == random {
		span := 12
		if f.maxLen >= 0 {
			span = min(span, f.maxLen-f.minLen)
		}
		rs := make([]rune, f.minLen+g.r.IntN(span+1))
		for i := range rs {
			rs[i] = randomRunes[g.r.IntN(len(randomRunes))]
		}
		return string(rs), nil
	}
	long := f.minLen + 16
	if f.maxLen >= 0 {
		long = min(f.maxLen, f.minLen+64)
	}
	var vals []string
	for _, s := range []string{"", "x", "sample", "Hello, wörld", "a-1_B.c", fill(long)} {
		rs := []rune(s)
		if len(rs) < f.minLen {
			rs = append(rs, []rune(fill(f.minLen-len(rs)))...)
		}
		if f.maxLen >= 0 && len(rs) > f.maxLen {
			rs = rs[:f.maxLen]
		}
		vals = append(vals, string(rs))
	}
	vals = compactStable(vals)
	return vals[g.choose(len(vals), f.ptr()+"/str"+at)], nil
}

var randomRunes = []rune("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 -_.éü✓")

// fill returns n letters, a to z over and over.
func fill(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = 'a' + byte(i%26)
	}
	return string(b)
}

func (g *gen) array(f *facts, at string) (any, error) {
	lo, hi := f.minItems, f.maxItems
	if hi >= 0 && lo > hi {
		return nil, errAt(f.ptr(), "minItems %d exceeds the %d items allowed", lo, hi)
	}
	top := lo + 2
	for _, n := range f.nodes {
		top = max(top, len(n.prefix)) // maximal documents fill tuples
	}
	if hi >= 0 {
		top = min(hi, max(top, lo+8)) // a small maxItems is the maximal length
	}
	length := lo + g.choose(top-lo+1, f.ptr()+"/items"+at)
	out := make([]any, 0, length)
	g.depth++
	defer func() { g.depth-- }()
	for i := range length {
		var c []*node
		for _, n := range f.nodes {
			if i < len(n.prefix) {
				c = append(c, n.prefix[i])
			} else if n.items != nil {
				c = append(c, n.items)
			}
		}
		if len(c) == 0 {
			c = []*node{newNode(f.ptr())}
		}
		v, ok, err := g.item(c, at+"/"+strconv.Itoa(i), f.unique, out)
		switch {
		case err != nil:
			return nil, err
		case ok:
			out = append(out, v)
		case i >= lo:
			return out, nil // out of distinct items: a shorter array will do
		default:
			return nil, errAt(f.ptr(), "uniqueItems: no %d distinct items found", lo)
		}
	}
	return out, nil
}

// item builds an array item; not ok when unique asks for one not in out
// and none was found.
func (g *gen) item(c []*node, at string, unique bool, out []any) (v any, ok bool, err error) {
	attempt, restore := g.retrying()
	defer restore()
	for try := range tries {
		attempt(try)
		if v, err = g.value(c, at); err != nil {
			return nil, false, err
		}
		if !unique || !slices.ContainsFunc(out, func(o any) bool { return value.Equal(o, v) }) {
			return v, true, nil
		}
	}
	return nil, false, nil
}

// allows reports whether every schema lets an object have key k.
func (f *facts) allows(k string) bool {
	return all(f.nodes, func(n *node) bool {
		if n.names != nil && !n.names.check(k, 0) {
			return false
		}
		ps := n.propSchemas(k)
		if len(ps) == 0 {
			return n.additional == nil
		}
		return !slices.ContainsFunc(ps, func(s *node) bool { return s.never })
	})
}

func (g *gen) object(f *facts, at string) (any, error) {
	var keys []string
	has := func(k string) bool { return slices.Contains(keys, k) }
	var declared []string
	governed := false // some schema says what other keys hold: a map
	for _, n := range f.nodes {
		for _, r := range n.required {
			if !has(r) {
				keys = append(keys, r)
			}
		}
		for k := range n.props {
			declared = append(declared, k)
		}
		governed = governed || n.additional != nil && !n.additional.never || len(n.patterns) > 0 || n.names != nil
	}
	required := len(keys)
	slices.Sort(declared)
	var optional []string
	for _, k := range slices.Compact(declared) {
		if !has(k) && f.allows(k) {
			optional = append(optional, k)
		}
	}
	for _, k := range optional {
		if g.choose(2, f.ptr()+"/properties/"+escape(k)+at) == 1 {
			keys = append(keys, k)
		}
	}
	// Maps: none in minimal documents, one or two otherwise; random
	// draws may be empty too.
	extra := 0
	switch m := g.current(); {
	case !governed || m == minimal:
	case m == random:
		extra = g.r.IntN(3)
	default:
		extra = 1 + g.choose(2, f.ptr()+"/additionalProperties"+at)
	}
	for _, k := range optional { // minProperties takes declared keys first
		if len(keys) >= f.minProps {
			break
		}
		if !has(k) {
			keys = append(keys, k)
		}
	}
	extra = max(extra, f.minProps-len(keys))
	for i := 0; i < extra; i++ {
		k, err := g.key(f, keys, at)
		if err != nil {
			return nil, err
		}
		keys = append(keys, k)
	}
	if f.maxProps >= 0 {
		if required > f.maxProps {
			return nil, errAt(f.ptr(), "%d properties are required but maxProperties is %d", required, f.maxProps)
		}
		keys = keys[:min(len(keys), f.maxProps)]
	}
	obj := make(map[string]any, len(keys))
	g.depth++
	defer func() { g.depth-- }()
	for i, k := range keys {
		var c []*node
		for _, n := range f.nodes {
			c = append(c, n.propSchemas(k)...)
		}
		if len(c) == 0 {
			c = []*node{newNode(f.ptr() + "/properties/" + escape(k))}
		}
		v, err := g.value(c, at+"/"+escape(k))
		if err != nil {
			if i < required {
				return nil, err
			}
			continue // an optional property that cannot be had is left out
		}
		obj[k] = v
	}
	return obj, nil
}

// key invents a property name not in taken that every schema allows:
// from a patternProperties pattern, else from propertyNames, else keyN.
func (g *gen) key(f *facts, taken []string, at string) (string, error) {
	var pats []patternProp
	var names []*node
	for _, n := range f.nodes {
		pats = append(pats, n.patterns...)
		if n.names != nil {
			names = append(names, n.names)
		}
	}
	attempt, restore := g.retrying()
	defer restore()
	for try := range 2 * tries {
		attempt(try)
		site := at + "/~key" + strconv.Itoa(len(taken))
		k := "key" + strconv.Itoa(len(taken)+try+1)
		switch {
		case len(pats) > 0:
			p := pats[g.choose(len(pats), f.ptr()+"/patternProperties"+site)]
			s, ok := g.fromRegexp(syntaxOf(p.re), p.ptr+site)
			if !ok {
				continue
			}
			k = s
		case len(names) > 0:
			v, err := g.value(names, site)
			s, ok := v.(string)
			if err != nil || !ok {
				continue
			}
			k = s
		}
		if !slices.Contains(taken, k) && f.allows(k) {
			return k, nil
		}
	}
	return "", errAt(f.ptr(), "no further property name found that the schema allows")
}

// normalize deep-copies a JSON value from a decoded schema into the
// document representation: json.Number, int64 and integral float64 become
// int, other numbers float64.
func normalize(v any) any {
	switch x := v.(type) {
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = normalize(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = normalize(e)
		}
		return out
	}
	if f, ok := toFloat(v); ok {
		return num(f)
	}
	return v
}

func encode(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func all[T any](xs []T, f func(T) bool) bool {
	return !slices.ContainsFunc(xs, func(x T) bool { return !f(x) })
}

func cmpBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}
