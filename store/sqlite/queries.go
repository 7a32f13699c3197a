package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
)

// OpenQueries opens a pool of at most conns read-only connections to the
// store's database, for the named queries of a context: apart from the
// read pool Load, Events and ReadAll use, so slow queries never make a
// command wait for a connection. The caller closes it, before the store.
func (s *Store) OpenQueries(ctx context.Context, conns int) (*sql.DB, error) {
	if conns <= 0 {
		conns = 4
	}
	var seq int
	var name, path string
	if err := s.read.QueryRowContext(ctx, `PRAGMA database_list`).Scan(&seq, &name, &path); err != nil {
		return nil, fmt.Errorf("sqlite: query pool: %w", err)
	}
	db, err := sql.Open(driverName, fileURI(path, url.Values{
		"_pragma": {"busy_timeout(5000)", "query_only(ON)"},
	}))
	if err != nil {
		return nil, fmt.Errorf("sqlite: query pool: %w", err)
	}
	db.SetMaxOpenConns(conns)
	db.SetMaxIdleConns(conns)
	return db, nil
}
