package e2etest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// HostileContext is the context whose every command runs an expression
// that would need gigabytes or minutes without the expression budget,
// with a projection and an effect that fail on one stored event.
const HostileContext = "testdata/hostile/hostile.cue"

// HostileCommands are its commands that must each be refused with 422
// budget_exceeded on a payload of some tens of kilobytes.
var HostileCommands = []string{"Double", "Repeat", "Replace", "SplitMap", "Join", "CopyMaps", "Upper", "Search", "Compare", "Match", "Nested", "Sort", "Index", "Less", "Grow"}

// hostileBound is far above what the budget allows a command and far
// below what any hostile command needs without it (from 14 s to minutes,
// or the end of the process).
const hostileBound = 10 * time.Second

// PlayHostile sends every hostile command to instance id and checks each
// answer is a 422 budget_exceeded naming the expression's position, in
// bounded time; then that the instance still takes a command and was not
// changed by the refused ones.
func (c *Client) PlayHostile(t testing.TB, id string) {
	t.Helper()
	// Warm up: a runtime's first command also starts it.
	if r, err := c.Post(InstancePath("box", id+"-warm")+"/Bump", "", nil); err != nil || r.Status != http.StatusCreated {
		t.Fatalf("Bump: %v %v", r, err)
	}
	size := 50_000
	if Soak() {
		size = 900_000 // near the default body limit of 1 MiB
	}
	body, _ := json.Marshal(map[string]string{"s": strings.Repeat("x", size)})
	var slowest time.Duration
	var slowestName string
	defer func() { t.Logf("the slowest refusal: %s in %v", slowestName, slowest) }()
	for _, name := range HostileCommands {
		start := time.Now()
		r, err := c.Post(InstancePath("box", id)+"/"+name, "", body)
		took := time.Since(start)
		t.Logf("%s: %v", name, took)
		if took > slowest {
			slowest, slowestName = took, name
		}
		var p struct {
			Type   string `json:"type"`
			Detail string `json:"detail"`
		}
		if err == nil {
			err = json.Unmarshal(r.Body, &p)
		}
		switch {
		case err != nil:
			t.Errorf("%s: %v (%v)", name, err, r)
		case r.Status != http.StatusUnprocessableEntity || !strings.HasSuffix(p.Type, "budget_exceeded"):
			t.Errorf("%s: %v, want 422 budget_exceeded", name, r)
		case !strings.Contains(p.Detail, "hostile.cue:"):
			t.Errorf("%s: %q does not name the expression's position", name, p.Detail)
		case took > hostileBound:
			t.Errorf("%s: answered in %v, want well under %v", name, took, hostileBound)
		}
	}
	r, err := c.Post(InstancePath("box", id)+"/Bump", "", nil)
	if err != nil || r.Status != http.StatusCreated {
		t.Fatalf("Bump after the hostile commands: %v %v, want 201: the instance is new", r, err)
	}
	var st struct {
		Version int64 `json:"version"`
	}
	if err := json.Unmarshal(r.Body, &st); err != nil || st.Version != 1 {
		t.Errorf("Bump after the hostile commands: version %d (%v), want 1: none of them wrote", st.Version, err)
	}
}

// PlayPoison stores three events on instance id, the second of which the
// projection "poisoned" and the effect "poisoned" cannot handle within
// their budget. It checks that they fail alone: "counted" keeps up, the
// status of "poisoned" names the event and the budget, the effect's
// delivery is a dead letter, and skipping the event lets the projection
// run to the head. n is how many events the log holds before, and it
// returns how many it holds after.
func (c *Client) PlayPoison(t testing.TB, id string, n int64) int64 {
	t.Helper()
	for _, s := range []string{"ab", strings.Repeat("y", 1000), "cd"} {
		body, _ := json.Marshal(map[string]string{"s": s})
		if r, err := c.Post(InstancePath("box", id)+"/Store", "", body); err != nil || r.Status >= 300 {
			t.Fatalf("Store: %v %v", r, err)
		}
	}
	n += 3
	p := c.WaitPoisoned(t, n)
	if !strings.Contains(p.Error, "budget") || p.ErrorPosition == 0 {
		t.Errorf("poisoned: %+v, want failed on the long event with a budget error", p)
	}
	c.waitDeadLetter(t, "poisoned")
	// The effect's deliveries that fit the budget went through: two Bumps
	// on the echo instance.
	c.waitEchoes(t, id+"-echo", 2)
	n += 2

	r, err := c.Request(http.MethodPost, "/projections/poisoned/skip", nil, "Authorization", "Bearer T")
	if err != nil || r.Status >= 300 {
		t.Fatalf("skip poisoned: %v %v", r, err)
	}
	c.waitRunning(t, "poisoned", n)
	return n
}

// ProjectionFailure is a projection's status with its failure.
type ProjectionFailure struct {
	Projection
	ErrorPosition int64 `json:"errorPosition"`
}

// WaitPoisoned waits until "counted" is running at position n and
// "poisoned" has failed, and returns the status of "poisoned".
func (c *Client) WaitPoisoned(t testing.TB, n int64) ProjectionFailure {
	t.Helper()
	var last []ProjectionFailure
	var poisoned *ProjectionFailure
	if Until(30*time.Second, 50*time.Millisecond, func() bool {
		last = c.projectionStates(t)
		var counted *ProjectionFailure
		poisoned = nil
		for i := range last {
			switch last[i].Name {
			case "counted":
				counted = &last[i]
			case "poisoned":
				poisoned = &last[i]
			}
		}
		return counted != nil && poisoned != nil && counted.State == "running" && counted.Position >= n && poisoned.State == "failed"
	}) {
		return *poisoned
	}
	t.Fatalf("within 30s, want counted running at %d and poisoned failed: %+v", n, last)
	return ProjectionFailure{}
}

func (c *Client) projectionStates(t testing.TB) []ProjectionFailure {
	var body struct {
		Projections []ProjectionFailure `json:"projections"`
	}
	if r, err := c.GetJSON("/projections", &body); err != nil || r.Status != http.StatusOK {
		t.Fatalf("GET /projections: %v %v", r, err)
	}
	return body.Projections
}

func (c *Client) waitRunning(t testing.TB, name string, n int64) {
	t.Helper()
	var last []ProjectionFailure
	if Until(30*time.Second, 50*time.Millisecond, func() bool {
		last = c.projectionStates(t)
		for _, p := range last {
			if p.Name == name && p.State == "running" && p.Position >= n {
				return true
			}
		}
		return false
	}) {
		return
	}
	t.Fatalf("within 30s, want %s running at %d: %+v", name, n, last)
}

func (c *Client) waitDeadLetter(t testing.TB, effect string) {
	t.Helper()
	var last Reply
	if Until(30*time.Second, 50*time.Millisecond, func() bool {
		var body struct {
			DeadLetters []struct {
				Effect string `json:"effect"`
				Error  string `json:"error"`
			} `json:"deadLetters"`
		}
		r, err := c.Request(http.MethodGet, "/admin/dead-letters", nil, "Authorization", "Bearer T")
		last = r
		if err != nil || r.Status != http.StatusOK || json.Unmarshal(r.Body, &body) != nil {
			return false
		}
		for _, d := range body.DeadLetters {
			if d.Effect == effect && strings.Contains(d.Error, "budget") {
				return true
			}
		}
		return false
	}) {
		return
	}
	t.Fatalf("within 30s, want a dead letter of %s with a budget error: %v", effect, last)
}

func (c *Client) waitEchoes(t testing.TB, id string, version int64) {
	t.Helper()
	var last Reply
	if Until(30*time.Second, 50*time.Millisecond, func() bool {
		var st struct {
			Version int64 `json:"version"`
		}
		r, err := c.GetJSON(InstancePath("box", id), &st)
		last = r
		return err == nil && r.Status == http.StatusOK && st.Version >= version
	}) {
		return
	}
	t.Fatalf("within 30s, want %s at version %d: %v", id, version, last)
}

// String shows a failure.
func (p ProjectionFailure) String() string {
	return fmt.Sprintf("%s %s at %d (error at %d: %s)", p.Name, p.State, p.Position, p.ErrorPosition, p.Error)
}
