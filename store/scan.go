package store

import "context"

// ReadPage reads a page of the log after a position (ReadAll's shape).
type ReadPage func(ctx context.Context, after int64, limit int) ([]Event, error)

// ScanInstance reads an instance's versions after..upto from the whole
// log (archive included), for the versions that left its hot history:
// by pages of read, from position start (the instance's first position
// less one, when the store knows it; else 0) up to end (its first hot
// position; 0: none), and no further once it has version upto. Its cost
// is the part of the log the instance's lifetime spans, not the log.
func ScanInstance(ctx context.Context, read ReadPage, aggregate, id string, start, end, after, upto int64) ([]Event, error) {
	var out []Event
	for pos := start; end == 0 || pos < end; {
		page, err := read(ctx, pos, 1000)
		if err != nil || len(page) == 0 {
			return out, err
		}
		for _, e := range page {
			if end > 0 && e.Position >= end {
				return out, nil
			}
			if e.Aggregate == aggregate && e.Instance == id && e.Version > after {
				if out = append(out, e); e.Version >= upto {
					return out, nil
				}
			}
		}
		pos = page[len(page)-1].Position
	}
	return out, nil
}
