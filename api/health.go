package api

import (
	"context"
	"time"
)

// StorageHealth is what a backend's storage has seen since the server
// started, for GET /healthz.
type StorageHealth struct {
	// Failing: the last storage fault has not been followed by a write
	// that went through; /healthz answers 503 while it holds.
	Failing bool `json:"failing"`
	// Faults counts the storage faults since start; LastFault and
	// LastFaultAt are the last of them.
	Faults      int64      `json:"faults"`
	LastFault   string     `json:"lastFault,omitempty"`
	LastFaultAt *time.Time `json:"lastFaultAt,omitempty"`
}

// HealthReporter is a Backend's optional ability to report on its
// storage; /healthz is a plain liveness answer without it.
type HealthReporter interface {
	StorageHealth(ctx context.Context) StorageHealth
}

// health answers GET /healthz: 200 while the storage takes writes (with
// the faults seen since start under "storage", once there are any), 503
// with Retry-After while it does not.
func (s *Service) health(ctx context.Context) Response {
	body := map[string]any{"status": "ok", "context": s.prog.Manifest.Name}
	hr, ok := s.backend.(HealthReporter)
	if !ok {
		return jsonResponse(statusOK, body)
	}
	h := hr.StorageHealth(ctx)
	if h.Faults == 0 && !h.Failing {
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
