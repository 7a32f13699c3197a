package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"
)

//go:embed static/*
var static embed.FS

// Options tune the page Handler serves.
type Options struct {
	// AdminToken, when set, is written into the page (meta
	// cuesource-admin-token) so it can call the admin routes: a play
	// session's random token. Leave it empty when serving real data.
	AdminToken string
	// Play marks a simulation (`cuesource play`): the page shows Reset.
	Play bool
	// Inspect is the server `cuesource inspect` forwards to, shown in the
	// page's header.
	Inspect string
	// As, when set, is the identity the page starts acting as (the claims
	// as a JSON object: `cuesource inspect --as`), written into the page
	// (meta cuesource-as).
	As string
}

// asset is one embedded file, ready to serve.
type asset struct {
	body  []byte
	ctype string
	etag  string
}

// Handler serves the playground: GET / is the page, GET /ui/NAME its
// assets. Other paths are 404; the caller routes only / and /ui/ here.
func Handler(opt Options) http.Handler {
	page := template.Must(template.ParseFS(static, "static/index.html"))
	var buf bytes.Buffer
	if err := page.Execute(&buf, opt); err != nil {
		panic("web: index.html: " + err.Error()) // the template is embedded: a test catches this
	}
	h := &handler{index: buf.Bytes(), assets: map[string]asset{}}
	err := fs.WalkDir(static, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Name() == "index.html" {
			return err
		}
		body, err := fs.ReadFile(static, p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(body)
		ctype, ok := types[path.Ext(p)]
		if !ok {
			ctype = "application/octet-stream"
		}
		h.assets[strings.TrimPrefix(p, "static/")] = asset{body: body, ctype: ctype, etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
		return nil
	})
	if err != nil {
		panic("web: " + err.Error())
	}
	return h
}

// types are the content types of the assets, fixed here rather than
// read from the machine's mime tables: module scripts must be JavaScript.
var types = map[string]string{
	".js":   "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".svg":  "image/svg+xml",
	".png":  "image/png",
	".ico":  "image/x-icon",
	".json": "application/json",
}

type handler struct {
	index  []byte
	assets map[string]asset
}

// The page loads only its own scripts and styles; it may call any API
// (Connect points it at another server).
const csp = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
	"connect-src *; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	hd := w.Header()
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "no-referrer")
	if r.URL.Path == "/" {
		hd.Set("Content-Type", "text/html; charset=utf-8")
		hd.Set("Content-Security-Policy", csp)
		// The page may carry a play session's admin token: never cached.
		hd.Set("Cache-Control", "no-store")
		http.ServeContent(w, r, "index.html", time.Time{}, bytes.NewReader(h.index))
		return
	}
	name, ok := strings.CutPrefix(r.URL.Path, "/ui/")
	a, found := h.assets[name]
	if !ok || !found {
		http.NotFound(w, r)
		return
	}
	hd.Set("Content-Type", a.ctype)
	hd.Set("ETag", a.etag)
	hd.Set("Cache-Control", "no-cache")
	http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(a.body))
}
