package web

import (
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

func get(t *testing.T, h http.Handler, method, path string, header ...string) *http.Response {
	t.Helper()
	req := httptest.NewRequest(method, path, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

func body(t *testing.T, resp *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestPage(t *testing.T) {
	for _, tc := range []struct {
		name     string
		opt      Options
		want     []string
		wantNone []string
	}{
		{
			name:     "serve",
			opt:      Options{},
			want:     []string{`<script type="module" src="ui/app.js">`, `<link rel="stylesheet" href="ui/style.css">`, `id="panel-commands"`},
			wantNone: []string{"cuesource-admin-token", "cuesource-play", `id="reset"`, "cuesource-as"},
		},
		{
			name: "play",
			opt:  Options{AdminToken: `t"<x>`, Play: true},
			// The token is an attribute value, escaped as one.
			want:     []string{`<meta name="cuesource-admin-token" content="t&#34;&lt;x&gt;">`, `<meta name="cuesource-play" content="true">`, `id="reset"`},
			wantNone: []string{`t"<x>`},
		},
		{
			name: "inspect as",
			opt:  Options{AdminToken: "a", Inspect: "http://x", As: `{"sub":"<ada>"}`},
			// The claims are an attribute value too.
			want:     []string{`<meta name="cuesource-as" content="{&#34;sub&#34;:&#34;&lt;ada&gt;&#34;}">`, `id="identity-box"`},
			wantNone: []string{`"<ada>"`, "cuesource-play"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := get(t, Handler(tc.opt), "GET", "/")
			page := body(t, resp)
			if resp.StatusCode != 200 {
				t.Fatalf("GET /: %d", resp.StatusCode)
			}
			for k, v := range map[string]string{
				"Content-Type":  "text/html; charset=utf-8",
				"Cache-Control": "no-store",
			} {
				if got := resp.Header.Get(k); got != v {
					t.Errorf("%s: %q, want %q", k, got, v)
				}
			}
			if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") {
				t.Errorf("Content-Security-Policy: %q", csp)
			}
			for _, w := range tc.want {
				if !strings.Contains(page, w) {
					t.Errorf("the page lacks %s", w)
				}
			}
			for _, w := range tc.wantNone {
				if strings.Contains(page, w) {
					t.Errorf("the page has %s", w)
				}
			}
		})
	}
}

func TestRoutes(t *testing.T) {
	h := Handler(Options{})
	for _, tc := range []struct {
		method, path string
		status       int
		ctype        string
	}{
		{"GET", "/ui/app.js", 200, "text/javascript; charset=utf-8"},
		{"GET", "/ui/style.css", 200, "text/css; charset=utf-8"},
		{"HEAD", "/", 200, "text/html; charset=utf-8"},
		{"HEAD", "/ui/form.js", 200, "text/javascript; charset=utf-8"},
		{"GET", "/ui/index.html", 404, ""}, // the page's template is not an asset
		{"GET", "/ui/", 404, ""},
		{"GET", "/ui/static/app.js", 404, ""},
		{"GET", "/ui/../web.go", 404, ""},
		{"GET", "/ui/nope.js", 404, ""},
		{"GET", "/index.html", 404, ""},
		{"GET", "/cart/c1", 404, ""},
		{"POST", "/", 405, ""},
		{"DELETE", "/ui/app.js", 405, ""},
	} {
		resp := get(t, h, tc.method, tc.path)
		b := body(t, resp)
		if resp.StatusCode != tc.status {
			t.Errorf("%s %s: %d, want %d", tc.method, tc.path, resp.StatusCode, tc.status)
			continue
		}
		if tc.ctype != "" && resp.Header.Get("Content-Type") != tc.ctype {
			t.Errorf("%s %s: Content-Type %q, want %q", tc.method, tc.path, resp.Header.Get("Content-Type"), tc.ctype)
		}
		if tc.method == "HEAD" && b != "" {
			t.Errorf("HEAD %s: a body", tc.path)
		}
		if tc.status == 405 && resp.Header.Get("Allow") != "GET, HEAD" {
			t.Errorf("%s %s: Allow %q", tc.method, tc.path, resp.Header.Get("Allow"))
		}
	}
}

func TestAssetRevalidation(t *testing.T) {
	h := Handler(Options{})
	resp := get(t, h, "GET", "/ui/app.js")
	etag := resp.Header.Get("ETag")
	if etag == "" || resp.Header.Get("Cache-Control") != "no-cache" {
		t.Fatalf("ETag %q, Cache-Control %q", etag, resp.Header.Get("Cache-Control"))
	}
	if resp := get(t, h, "GET", "/ui/app.js", "If-None-Match", etag); resp.StatusCode != http.StatusNotModified {
		t.Errorf("If-None-Match with the ETag: %d, want 304", resp.StatusCode)
	}
}

// The page and its modules fit together: every asset the page names and
// every module a module imports is embedded, and every element id a
// module looks up is in the page. A typo here would otherwise show only
// in the browser.
func TestAssetsFitTogether(t *testing.T) {
	h := Handler(Options{Play: true})
	page := body(t, get(t, h, "GET", "/"))
	for _, m := range regexp.MustCompile(`(?:src|href)="(ui/[^"]+)"`).FindAllStringSubmatch(page, -1) {
		if resp := get(t, h, "GET", "/"+m[1]); resp.StatusCode != 200 {
			t.Errorf("the page names %s: %d", m[1], resp.StatusCode)
		}
	}
	ids := map[string]bool{}
	for _, m := range regexp.MustCompile(`\bid="([^"]+)"`).FindAllStringSubmatch(page, -1) {
		ids[m[1]] = true
	}
	importRe := regexp.MustCompile(`(?m)^import .* from '\./([^']+)';$`)
	idRe := regexp.MustCompile(`(?:\$|getElementById)\('([^'$]+)'\)`)
	scripts, err := fs.Glob(static, "static/*.js")
	if err != nil || len(scripts) == 0 {
		t.Fatalf("no scripts: %v", err)
	}
	imports, lookups := 0, 0
	for _, p := range scripts {
		src, err := fs.ReadFile(static, p)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range importRe.FindAllStringSubmatch(string(src), -1) {
			imports++
			if resp := get(t, h, "GET", "/ui/"+m[1]); resp.StatusCode != 200 {
				t.Errorf("%s imports ./%s: %d", p, m[1], resp.StatusCode)
			}
		}
		for _, m := range idRe.FindAllStringSubmatch(string(src), -1) {
			lookups++
			if !ids[m[1]] {
				t.Errorf("%s looks up #%s, which the page does not have", p, m[1])
			}
		}
	}
	if imports < 10 || lookups < 30 {
		t.Errorf("the checks found only %d imports and %d id lookups: are the patterns stale?", imports, lookups)
	}
}
