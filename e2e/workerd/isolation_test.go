//go:build unix

package workerd

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cuesource/cuesource/e2e/e2etest"
)

const (
	isoWorkers  = 8
	isoCommands = 12 // per worker and phase
)

// added is an acknowledged AddItem.
type added struct {
	sku     string
	qty     int
	price   float64
	version int64
}

// TestInstancesAreIsolated sends commands to several carts from several
// goroutines at once: a cart never sees another's commands (state,
// version, events), and each cart's versions are gap-free, one per
// acknowledged command, however the commands interleave.
func TestInstancesAreIsolated(t *testing.T) {
	needWorkerd(t)
	w := startWorker(t, buildWorker(t, "contexts/example.cue"), "")
	c := newClient(w.url)
	defer c.Close()
	e := e2etest.NewErrs(t)

	carts := []string{"a", "b", "c", "d"}
	for _, id := range carts {
		c.command(t, 201, "cart", id, "Open", fmt.Sprintf(`{"customer":"cust-%s"}`, id))
	}
	var mu sync.Mutex
	acked := map[string][]added{}

	// send adds one item to a cart: the sku names the cart and the
	// goroutine, and its price is fixed (the cart refuses price changes).
	send := func(id string, g, i int) {
		a := added{sku: fmt.Sprintf("%s-G%d", strings.ToUpper(id), g), qty: 1 + (g+i)%3, price: float64(g+1) * 1.25}
		body := fmt.Sprintf(`{"sku":%q,"qty":%d,"price":%g}`, a.sku, a.qty, a.price)
		r, err := c.Post(instancePath("cart", id)+"/AddItem", "", []byte(body))
		if err != nil || r.Status != http.StatusOK {
			e.Errorf("cart %s AddItem %s: %v %v", id, body, r, err)
			return
		}
		var d decision
		if err := json.Unmarshal(r.Body, &d); err != nil || len(d.Events) != 1 {
			e.Errorf("cart %s AddItem %s: %v: %s", id, body, err, r.Body)
			return
		}
		a.version = d.Version
		mu.Lock()
		acked[id] = append(acked[id], a)
		mu.Unlock()
	}
	run := func(phase string, pick func(g, i int) string) {
		start := time.Now()
		var wg sync.WaitGroup
		for g := range isoWorkers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range isoCommands {
					send(pick(g, i), g, i)
				}
			}()
		}
		if !waitGroup(&wg, 60*time.Second) {
			t.Fatalf("%s: the commands did not finish within 60s", phase)
		}
		t.Logf("%s: %d commands from %d goroutines in %v", phase, isoWorkers*isoCommands, isoWorkers, time.Since(start).Round(time.Millisecond))
	}

	// Phase 1: every goroutine writes to cart a; b, c and d do not move.
	still := map[string]snapshot{}
	for _, id := range carts[1:] {
		still[id] = snapshotOf(t, c, "cart", id)
	}
	run("cart a only", func(int, int) string { return "a" })
	for _, id := range carts[1:] {
		if diff := sameSnapshot(still[id], snapshotOf(t, c, "cart", id)); diff != "" {
			e.Errorf("cart %s changed while only cart a had commands: %s", id, diff)
		}
	}

	// Phase 2: every goroutine writes to every cart, interleaved.
	run("all carts", func(g, i int) string { return carts[(g+i)%len(carts)] })

	total := len(carts)
	for _, id := range carts {
		acks := acked[id]
		total += len(acks)
		evs := c.instanceEvents(t, "cart", id)
		inst := c.instance(t, "cart", id)
		n := int64(1 + len(acks))
		if inst.Version != n || int64(len(evs)) != n {
			e.Errorf("cart %s: version %d with %d events, want %d (Open and %d acknowledged AddItem)", id, inst.Version, len(evs), n, len(acks))
		}
		for i, ev := range evs {
			if ev.Version != int64(i+1) {
				e.Errorf("cart %s: event %d has version %d: versions are not 1..n", id, i, ev.Version)
			}
		}
		// Each acknowledged command has its own version, 2..n.
		var versions []int64
		for _, a := range acks {
			versions = append(versions, a.version)
		}
		slices.Sort(versions)
		for i, v := range versions {
			if v != int64(i+2) {
				e.Errorf("cart %s: acknowledged versions %v are not 2..%d", id, versions, n)
				break
			}
		}
		// The events are the cart's own, and the state is their sum.
		var want float64
		qty := map[string]int{}
		for _, a := range acks {
			want += float64(a.qty) * a.price
			qty[a.sku] += a.qty
		}
		byVersion := map[int64]added{}
		for _, a := range acks {
			byVersion[a.version] = a
		}
		for _, ev := range evs[min(1, len(evs)):] {
			var p struct {
				Sku string  `json:"sku"`
				Qty int     `json:"qty"`
				Pr  float64 `json:"price"`
			}
			_ = json.Unmarshal(ev.Payload, &p)
			a := byVersion[ev.Version]
			if ev.Type != "ItemAdded" || p.Sku != a.sku || p.Qty != a.qty || p.Pr != a.price {
				e.Errorf("cart %s: event v%d is %s %s, the command acknowledged at that version added %s x%d", id, ev.Version, ev.Type, ev.Payload, a.sku, a.qty)
			}
			if !strings.HasPrefix(p.Sku, strings.ToUpper(id)+"-") {
				e.Errorf("cart %s has another cart's item: %s", id, ev.Payload)
			}
		}
		var state struct {
			Customer string                    `json:"customer"`
			Total    float64                   `json:"total"`
			Items    map[string]map[string]any `json:"items"`
		}
		if err := json.Unmarshal(inst.State, &state); err != nil {
			e.Errorf("cart %s: state %s: %v", id, inst.State, err)
			continue
		}
		if state.Customer != "cust-"+id || math.Abs(state.Total-want) > 1e-6 || len(state.Items) != len(qty) {
			e.Errorf("cart %s: state %s, want customer cust-%s, total %g, %d items", id, inst.State, id, want, len(qty))
		}
		for sku, q := range qty {
			if got, _ := state.Items[sku]["qty"].(float64); int(got) != q {
				e.Errorf("cart %s: item %s has qty %v, want %d", id, sku, state.Items[sku]["qty"], q)
			}
		}
	}

	// The global log has every event once, each cart's in version order.
	log := c.waitLog(t, total, 30*time.Second)
	per := checkLog(t, log)
	if len(log) != total {
		e.Errorf("the global log has %d events, want %d", len(log), total)
	}
	for _, id := range carts {
		if got := len(per[[2]string{"cart", id}]); got != 1+len(acked[id]) {
			e.Errorf("cart %s has %d events in the global log, want %d", id, got, 1+len(acked[id]))
		}
	}
}

func waitGroup(wg *sync.WaitGroup, timeout time.Duration) bool {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
		return true
	case <-time.After(timeout):
		return false
	}
}
