package retention

import (
	"fmt"
	"strconv"
	"time"
)

// Policy is the rules of one aggregate (or the context's defaults).
type Policy struct {
	// KeepFor keeps events younger than it; zero: no time rule.
	KeepFor time.Duration `json:"keepFor,omitempty"`
	// KeepLast keeps the last N events of each instance; zero: no count rule.
	KeepLast int64 `json:"keepLast,omitempty"`
	// SinceSnapshot keeps only the events after an instance's newest
	// snapshot; an instance without a snapshot keeps them all.
	SinceSnapshot bool `json:"sinceSnapshot,omitempty"`
}

// Keeps reports whether p declares a keep rule (else it keeps everything).
func (p Policy) Keeps() bool { return p.KeepFor > 0 || p.KeepLast > 0 || p.SinceSnapshot }

// Policies are a context's rules: its own, each aggregate's overrides
// (an aggregate's policy replaces the context's whole), and the hot
// log's byte budget.
type Policies struct {
	Context    Policy            `json:"context"`
	Aggregates map[string]Policy `json:"aggregates,omitempty"`
	// HotBytes is the hot log's budget; zero: none.
	HotBytes int64 `json:"hotBytes,omitempty"`
}

// For returns the policy of an aggregate.
func (ps Policies) For(aggregate string) Policy {
	if p, ok := ps.Aggregates[aggregate]; ok {
		return p
	}
	return ps.Context
}

// D1HotBytes is the hot log's byte budget on Workers when a context
// declares a retention but no hotBytes: a margin under D1's 10 GB
// database cap, which also holds the projections and the dead letters.
const D1HotBytes = 8_000_000_000

// OnD1 is ps as a Worker applies them: with a retention declared and no
// byte budget, D1HotBytes, so D1's log never fills.
func (ps Policies) OnD1() Policies {
	if ps.Active() && ps.HotBytes == 0 {
		ps.HotBytes = D1HotBytes
	}
	return ps
}

// Active reports whether any rule may ever make an event leave.
func (ps Policies) Active() bool {
	if ps.HotBytes > 0 || ps.Context.Keeps() {
		return true
	}
	for _, p := range ps.Aggregates {
		if p.Keeps() {
			return true
		}
	}
	return false
}

// ParseDuration reads a retention duration: one or more numbers each
// followed by d (24h), h, m or s, as "90d", "36h" or "1d12h".
func ParseDuration(s string) (time.Duration, error) {
	if s == "" {
		return 0, fmt.Errorf("empty duration: want a number and a unit (d, h, m, s), as \"90d\"")
	}
	var total time.Duration
	for rest := s; rest != ""; {
		i := 0
		for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
			i++
		}
		if i == 0 || i == len(rest) {
			return 0, fmt.Errorf("duration %q: want numbers each followed by a unit (d, h, m, s), as \"90d\"", s)
		}
		n, err := strconv.ParseInt(rest[:i], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("duration %q: %w", s, err)
		}
		var unit time.Duration
		switch rest[i] {
		case 'd':
			unit = 24 * time.Hour
		case 'h':
			unit = time.Hour
		case 'm':
			unit = time.Minute
		case 's':
			unit = time.Second
		default:
			return 0, fmt.Errorf("duration %q: unknown unit %q (want d, h, m or s)", s, rest[i])
		}
		if n > int64((1<<63-1)/unit) || total > (1<<63-1)-time.Duration(n)*unit {
			return 0, fmt.Errorf("duration %q is too long", s)
		}
		total += time.Duration(n) * unit
		rest = rest[i+1:]
	}
	if total <= 0 {
		return 0, fmt.Errorf("duration %q: must be longer than zero", s)
	}
	return total, nil
}

// Candidate is one hot event as the decision sees it.
type Candidate struct {
	Position  int64
	Aggregate string
	Instance  string
	Version   int64
	Time      time.Time
	// Bytes is what the event takes in the hot log (see the store).
	Bytes int64
	// Latest is the instance's current version.
	Latest int64
	// Snapshot is the version of the instance's newest snapshot; zero:
	// none.
	Snapshot int64
	// FirstHot is the instance's oldest version still hot.
	FirstHot int64
	// Owed: an effect still owes a delivery of it (an outbox row or a
	// dead letter).
	Owed bool
}

// Guards are the positions pruning must not pass.
type Guards struct {
	// Archived: every position up to it is in cold storage.
	Archived int64
	// Projected: every projection has applied the log up to it.
	Projected int64
	// Head is the log's last position; it stays hot so the next
	// position is known from the hot log.
	Head int64
}

// Limit is the last position the guards let leave.
func (g Guards) Limit() int64 { return min(g.Archived, g.Projected, g.Head-1) }

// Reason says why an event leaves.
type Reason string

const (
	ByTime     Reason = "keepFor"
	ByCount    Reason = "keepLast"
	BySnapshot Reason = "sinceSnapshot"
	ByBudget   Reason = "hotBytes"
)

// Due reports whether p's keep rules let c leave at now: p keeps
// something, and no rule it declares keeps c.
func (p Policy) Due(c Candidate, now time.Time) (Reason, bool) {
	if !p.Keeps() {
		return "", false
	}
	var why Reason
	if p.KeepFor > 0 {
		if now.Sub(c.Time) < p.KeepFor {
			return "", false
		}
		why = ByTime
	}
	if p.KeepLast > 0 {
		if c.Version > c.Latest-p.KeepLast {
			return "", false
		}
		why = ByCount
	}
	if p.SinceSnapshot {
		if c.Snapshot == 0 || c.Version > c.Snapshot {
			return "", false
		}
		why = BySnapshot
	}
	return why, true
}

// Leave is one event the decision lets go.
type Leave struct {
	Position int64
	Reason   Reason
}

// Decision is what one step may do.
type Decision struct {
	// Leave lists the events that may leave now, in position order.
	Leave []Leave
	// Wanted is the last position the rules alone (without the archive
	// guard) would let go in this window: what must be archived first.
	Wanted int64
	// HotBytes is the hot log's size once they have left.
	HotBytes int64
}

// Decide picks, from a window of hot events in position order, those
// that may leave: due by their aggregate's keep rules, or the oldest
// while the hot log (hotBytes) is over the budget; none past the guards,
// owed to an effect, or with an earlier event of its instance staying.
// With ignoreArchive it leaves out the archive guard (to learn what to
// archive; Leave is then what would go once archived).
func Decide(ps Policies, g Guards, hotBytes int64, now time.Time, window []Candidate, ignoreArchive bool) Decision {
	limit := g.Limit()
	if ignoreArchive {
		limit = min(g.Projected, g.Head-1)
	}
	d := Decision{HotBytes: hotBytes}
	// next is the version of each instance that may leave next: its
	// oldest hot one, then each one leaving here.
	next := map[[2]string]int64{}
	for _, c := range window {
		if c.Position > limit {
			break
		}
		key := [2]string{c.Aggregate, c.Instance}
		want, ok := next[key]
		if !ok {
			want = c.FirstHot
		}
		if c.Owed || c.Version != want {
			next[key] = -1 // an earlier one stays: so do the later ones
			continue
		}
		why, due := ps.For(c.Aggregate).Due(c, now)
		if !due && ps.HotBytes > 0 && d.HotBytes > ps.HotBytes {
			why, due = ByBudget, true
		}
		if !due {
			next[key] = -1
			continue
		}
		next[key] = want + 1
		d.Leave = append(d.Leave, Leave{Position: c.Position, Reason: why})
		d.HotBytes -= c.Bytes
		d.Wanted = c.Position
	}
	return d
}
