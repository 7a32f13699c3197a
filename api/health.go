package api

import (
	"context"

	"github.com/cuesource/cuesource"
)

// health answers GET /healthz: 200 while the storage takes writes (with
// the faults seen since start under "storage", once there are any), 503
// with Retry-After while it does not.
func (s *Service) health(ctx context.Context) Response {
	body := map[string]any{"status": "ok", "context": s.prog.Manifest.Name}
	hr, ok := s.backend.(cuesource.HealthReporter)
	if !ok {
		return jsonResponse(statusOK, body)
	}
	h := hr.StorageHealth(ctx)
	if h.Faults == 0 && !h.Failing && len(h.KeyConflicts) == 0 {
		// A healthy store answers as a runtime without the ability does.
		return jsonResponse(statusOK, body)
	}
	body["storage"] = h
	if !h.Failing {
		return jsonResponse(statusOK, body)
	}
	body["status"] = "storage_failing"
	r := jsonResponse(statusServiceUnavailable, body)
	r.Header.Set("Retry-After", storageRetryAfter)
	return r
}
