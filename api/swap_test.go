package api_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cuesource/cuesource/api"
	"github.com/cuesource/cuesource/diagram"
)

// TestSetProgram: after a swap every request, through the service and
// through the copies With made before it, is served by the new program,
// and its documents (GET /context, the OpenAPI document, the diagram) are
// made anew.
func TestSetProgram(t *testing.T) {
	old := example(t)
	src, err := os.ReadFile("../contexts/example.cue")
	require.NoError(t, err)
	edited := bytes.Replace(src, []byte("\t\t\tCheckOut: {"), []byte("\t\t\tRename: {\n\t\t\t\t#payload: customer: string\n\t\t\t\temit: [{event: \"CartOpened\", payload: customer: \"cmd.customer\"}]\n\t\t\t}\n\t\t\tCheckOut: {"), 1)
	path := filepath.Join(t.TempDir(), "example.cue")
	require.NoError(t, os.WriteFile(path, edited, 0o644))
	next, err := compile(path)
	require.NoError(t, err)

	svc := api.New(old, nil, api.Options{Diagram: diagram.SVG})
	copied := svc.With(nil, nil, nil)
	get := func(s *api.Service, path string) []byte {
		r := s.Serve(context.Background(), &api.Request{Method: "GET", Path: path})
		require.Equal(t, 200, r.Status, "%s: %s", path, r.Body)
		return r.Body
	}
	for _, p := range []string{"/context", "/openapi.json", "/diagram.svg"} {
		require.NotContains(t, string(get(svc, p)), "Rename", p) // made and cached before the swap
	}
	svc.SetProgram(next)
	for _, s := range []*api.Service{svc, copied} {
		require.Contains(t, string(get(s, "/context")), `"Rename"`)
		require.Contains(t, string(get(s, "/openapi.json")), "/cart/{id}/Rename")
		require.Contains(t, string(get(s, "/diagram.svg")), "cart.Rename")
	}
}
