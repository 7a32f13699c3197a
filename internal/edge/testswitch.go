package edge

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"sync"
)

// The test switches, on only with CUESOURCE_TEST_FAULTS=1 in the Worker's
// environment (otherwise /__test/ paths are the API's, like any other):
// the e2e tests under workerd use them to make D1 fail, to stop a claim
// of unique keys where a crash would, to provoke a recovered panic or the
// end of the Go runtime in an object, to delete or write an archive object, and
// to read how often the shell made a new runtime. The serve script
// answers them:
//
//	POST   /__test/faults         {"d1": bool, "claim": {"at", "how"} | null}: set, answer the state
//	ANY    /__test/panic/AGG/ID   a recovered panic in the object's script: {"error"}
//	ANY    /__test/crash/AGG/ID   the end of the Go runtime in the object's script
//	DELETE /__test/r2/NAME        delete the archive segment NAME
//	PUT    /__test/r2/NAME        write the body as the archive object NAME
//	GET    /__test/runtime        {"restarts", "startMillis"}: Config's
//
// Their state is the Go runtime's: a new one (after a crash, or in
// another isolate) starts with every switch off.

// testFaults is the switches' state.
type testFaults struct {
	mu    sync.Mutex
	state faultState
}

type faultState struct {
	// D1 fails every D1 statement and batch before the shell is asked.
	D1 bool `json:"d1"`
	// Claim stops the claim script where a crash would.
	Claim *claimStop `json:"claim"`
}

// claimStop stops a claim of unique keys At "reserved" (a key's object
// answered its reservation, so the write there is durable) or
// "committed" (the instance committed, and its storage is synced). How
// "crash" ends the Go runtime; "stall" blocks the script for good (the
// test then restarts workerd).
type claimStop struct {
	At  string `json:"at"`
	How string `json:"how"`
}

func (f *testFaults) d1() bool {
	if f == nil {
		return false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.state.D1
}

func (f *testFaults) claim() *claimStop {
	if f == nil {
		return nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.state.Claim
}

// stopClaim stops a claim script at `at` when the switch says so; it
// returns only when it does not.
func (c *Core) stopClaim(h *host, at string) error {
	s := c.faults.claim()
	if s == nil || s.At != at {
		return nil
	}
	if at == "committed" {
		if err := h.do(Op{Kind: "sync"}, nil); err != nil {
			return err
		}
	}
	_ = h.do(Op{Kind: "log", Method: "warn", Arg: fmt.Sprintf("cuesource: test switch: claim stopped (%s) once %s", s.How, at)}, nil)
	if s.How == "crash" {
		crash()
	}
	select {}
}

// crash ends the Go runtime with a panic nothing recovers, as a fatal bug
// would: the tests check that the shell starts a new one.
func crash() {
	go func() { panic("crash provoked by the test switch") }()
}

// provoke is the object's script of /__test/panic and /__test/crash.
func (c *Core) provoke(in []byte, _ *host) (any, error) {
	var pi struct {
		What string `json:"what"`
	}
	if err := decodeInput(in, &pi); err != nil {
		return nil, err
	}
	if pi.What == "crash" {
		crash()
		select {}
	}
	panic("provoked by the test switch")
}

// testSwitch answers a request to /__test/. (Status codes as numbers:
// net/http would grow the wasm build by half a megabyte.)
func (c *Core) testSwitch(req WireRequest, h *host) WireResponse {
	parts := strings.Split(strings.TrimPrefix(req.Path, "/__test/"), "/")
	for i, p := range parts {
		if u, err := url.PathUnescape(p); err == nil {
			parts[i] = u
		}
	}
	reply := func(status int, v any) WireResponse {
		b, _ := json.Marshal(v)
		return WireResponse{Status: status, Headers: [][2]string{{"Content-Type", "application/json"}}, Body: string(b)}
	}
	failed := func(err error) WireResponse {
		return reply(500, map[string]string{"error": err.Error()})
	}
	switch {
	case parts[0] == "faults" && req.Method == "POST":
		f := c.faults
		f.mu.Lock()
		defer f.mu.Unlock()
		next := f.state
		if err := json.Unmarshal([]byte(req.Body), &next); err != nil {
			return reply(400, map[string]string{"error": "faults: " + err.Error()})
		}
		f.state = next
		return reply(200, f.state)
	case (parts[0] == "panic" || parts[0] == "crash") && len(parts) == 3:
		arg := map[string]any{"script": "provoke", "input": map[string]string{"what": parts[0]}}
		if err := h.do(Op{Kind: "object", Aggregate: parts[1], ID: parts[2], Method: "runScript", Arg: arg}, nil); err != nil {
			return reply(200, map[string]string{"error": err.Error()})
		}
		return reply(200, map[string]string{})
	case parts[0] == "r2" && req.Method == "DELETE" && len(parts) == 2:
		if err := h.do(Op{Kind: "r2delete", Method: parts[1]}, nil); err != nil {
			return failed(err)
		}
		return reply(200, map[string]string{"deleted": parts[1]})
	case parts[0] == "r2" && req.Method == "PUT" && len(parts) == 2:
		if err := h.do(Op{Kind: "r2put", Method: parts[1], Arg: base64.StdEncoding.EncodeToString([]byte(req.Body))}, nil); err != nil {
			return failed(err)
		}
		return reply(200, map[string]string{"written": parts[1]})
	case parts[0] == "runtime":
		return reply(200, map[string]int64{"restarts": int64(c.cfg.Restarts), "startMillis": c.cfg.StartMillis})
	}
	return WireResponse{Status: 404, Headers: [][2]string{{"Content-Type", "text/plain; charset=utf-8"}}, Body: "no such test switch"}
}
