//go:build !js

package archive

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
)

// Dir is native only (not built for GOOS=js): the Worker's target is an
// R2 bucket.

// Dir is a Target in a local directory.
type Dir string

var (
	_ Target = Dir("")
	_ Sizer  = Dir("")
)

func (d Dir) String() string { return string(d) }

// Put writes a temporary file, syncs it, renames it into place and syncs
// the directory, so the segment is whole and survives a crash.
func (d Dir) Put(ctx context.Context, name string, data []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := os.MkdirAll(string(d), 0o755); err != nil {
		return fmt.Errorf("archive: %w", err)
	}
	f, err := os.CreateTemp(string(d), ".put-*")
	if err != nil {
		return fmt.Errorf("archive: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // gone after the rename; cleans up a failure
	if _, err = f.Write(data); err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("archive: write %s: %w", name, err)
	}
	if err := os.Rename(tmp, filepath.Join(string(d), name)); err != nil {
		return fmt.Errorf("archive: %w", err)
	}
	dir, err := os.Open(string(d))
	if err != nil {
		return fmt.Errorf("archive: %w", err)
	}
	defer dir.Close()
	if err := dir.Sync(); err != nil {
		return fmt.Errorf("archive: sync %s: %w", d, err)
	}
	return nil
}

// Get reads a segment.
func (d Dir) Get(ctx context.Context, name string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	data, err := os.ReadFile(filepath.Join(string(d), name))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s in %s", ErrNotFound, name, d)
	}
	return data, err
}

// Size implements [Sizer]: a segment's size, from the file system.
func (d Dir) Size(ctx context.Context, name string) (int64, error) {
	fi, err := os.Stat(filepath.Join(string(d), name))
	if errors.Is(err, fs.ErrNotExist) {
		return 0, fmt.Errorf("%w: %s in %s", ErrNotFound, name, d)
	}
	if err != nil {
		return 0, fmt.Errorf("archive: %w", err)
	}
	return fi.Size(), nil
}

// List names the segments in the directory.
func (d Dir) List(ctx context.Context) ([]string, error) {
	ents, err := os.ReadDir(string(d))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("archive: %w", err)
	}
	var out []string
	for _, e := range ents {
		if !e.IsDir() && IsName(e.Name()) {
			out = append(out, e.Name())
		}
	}
	sort.Strings(out)
	return out, nil
}
