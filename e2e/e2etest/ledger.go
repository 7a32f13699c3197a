package e2etest

import (
	"encoding/json"
	"fmt"
	"net/http"
)

// Deposit sends the ledger (Ledger) one Deposit with an idempotency key
// made of seq; it returns the reply's status (0: no answer) and the event
// ids it acknowledged.
func (c *Client) Deposit(account string, seq int) (int, []string) {
	body := fmt.Sprintf(`{"amount": %d, "note": "n°%d <&> \"q\""}`, seq%97+1, seq)
	r, err := c.Post("/account/"+account+"/Deposit", fmt.Sprintf("d-%06d", seq), []byte(body))
	if err != nil {
		return 0, nil
	}
	var ans struct {
		Events []struct {
			ID string `json:"id"`
		} `json:"events"`
	}
	_ = json.Unmarshal(r.Body, &ans)
	var ids []string
	for _, e := range ans.Events {
		ids = append(ids, e.ID)
	}
	return r.Status, ids
}

// RawLog reads GET /events from position 1 to the end, raw, page by
// page; it returns each event's line as served and fails on any gap.
func (c *Client) RawLog(t interface {
	Helper()
	Fatalf(string, ...any)
}) ([]LogEvent, [][]byte) {
	t.Helper()
	var evs []LogEvent
	var raws [][]byte
	for after := int64(0); ; {
		var page struct {
			Events []json.RawMessage `json:"events"`
			Next   int64             `json:"next"`
		}
		r, err := c.GetJSON(fmt.Sprintf("/events?after=%d&limit=1000&raw=true", after), &page)
		if err != nil || r.Status != http.StatusOK {
			t.Fatalf("GET /events?after=%d: %v %v", after, r, err)
		}
		if len(page.Events) == 0 {
			return evs, raws
		}
		for _, raw := range page.Events {
			var e LogEvent
			if err := json.Unmarshal(raw, &e); err != nil {
				t.Fatalf("GET /events: %v", err)
			}
			if e.Position != int64(len(evs))+1 {
				t.Fatalf("GET /events: position %d after %d", e.Position, len(evs))
			}
			evs = append(evs, e)
			raws = append(raws, raw)
		}
		after = page.Next
	}
}
