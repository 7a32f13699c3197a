package edge

import (
	"encoding/json"
	"testing"
	"time"
)

// Only the alarm's own run replaces a due alarm: a commit's work (the
// committed script failing a delivery) keeps an earlier alarm, due or
// not, so the platform's retry of a due alarm is never put off.
func TestObjectAlarmKeepsADueOneOutsideTheAlarm(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	due := now.Add(-time.Second).UnixMilli()
	for _, c := range []struct {
		inAlarm bool
		set     bool
	}{{false, false}, {true, true}} {
		var ops []string
		h := &host{perform: func(op Op) Result {
			ops = append(ops, op.Kind)
			if op.Kind == "getAlarm" {
				b, _ := json.Marshal(due)
				return Result{OK: b}
			}
			return Result{OK: json.RawMessage("null")}
		}}
		o := &object{h: h, now: now, inAlarm: c.inAlarm}
		if err := o.alarm(now.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		if set := len(ops) == 2 && ops[1] == "alarm"; set != c.set {
			t.Errorf("inAlarm %v, a due alarm set: ops %v, want the alarm set: %v", c.inAlarm, ops, c.set)
		}
	}
}
