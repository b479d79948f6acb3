package dashboard_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/meshbus/meshbus/components/dashboard"
	"github.com/meshbus/meshbus/components/dashboard/automaton"
)

// Every route answers what it should; anything else is a 4xx.
func TestHandlerTable(t *testing.T) {
	d, _ := start(t, []dashboard.Source{{Name: "a", Bus: newBus(t), ID: self}})
	h := d.Handler()
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	for _, c := range []struct {
		method, target, host string
		header               bool
		want                 int
		contentType          string
	}{
		{"GET", "/", "", false, 200, "text/html; charset=utf-8"},
		{"HEAD", "/", "", false, 200, ""},
		{"GET", "/static/app.js", "", false, 200, "text/javascript; charset=utf-8"},
		{"GET", "/static/style.css", "", false, 200, "text/css; charset=utf-8"},
		{"GET", "/static/", "", false, 404, ""},
		{"GET", "/static/index.html", "", false, 404, ""},
		{"GET", "/static/nope.js", "", false, 404, ""},
		{"GET", "/static/..%2fdashboard.go", "", false, 404, ""},
		{"GET", "/static/a/b", "", false, 404, ""},
		{"GET", "/api/state", "", false, 200, "application/json"},
		{"GET", "/api/events", "", false, 200, "text/event-stream"},
		{"GET", "/api/nope", "", false, 404, ""},
		{"GET", "/nope", "", false, 404, ""},
		{"POST", "/", "", false, 405, ""},
		{"DELETE", "/api/state", "", false, 405, ""},
		{"PUT", "/api/events", "", false, 405, ""},
		{"GET", "/api/nodes/a/kill", "", false, 405, ""},
		{"POST", "/api/nodes/a/kill", "", false, 403, ""},
		{"POST", "/api/nodes/a/kill", "", true, 403, ""}, // read-only
		{"POST", "/api/nodes//kill", "", true, 307, ""},  // cleaned path
		{"GET", "/", "evil.example:80", false, 403, ""},
		{"GET", "/api/state", "192.168.1.1", false, 403, ""},
		{"GET", "/", "localhost:8080", false, 200, ""},
		{"GET", "/", "[::1]:8080", false, 200, ""},
		{"GET", "/", "127.0.0.1", false, 200, ""},
	} {
		req := httptest.NewRequest(c.method, c.target, nil).WithContext(canceled)
		if c.host != "" {
			req.Host = c.host
		} else {
			req.Host = "127.0.0.1:8080"
		}
		if c.header {
			req.Header.Set(dashboard.KillHeader, dashboard.KillHeaderValue)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != c.want {
			t.Errorf("%s %s (host %q): %d, want %d: %s", c.method, c.target, c.host, rec.Code, c.want, rec.Body.String())
		}
		if c.contentType != "" && rec.Header().Get("Content-Type") != c.contentType {
			t.Errorf("%s %s: content type %q, want %q", c.method, c.target, rec.Header().Get("Content-Type"), c.contentType)
		}
		if rec.Header().Get("Content-Security-Policy") == "" {
			t.Errorf("%s %s: no CSP header", c.method, c.target)
		}
	}
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "/api/state", nil)
	req.Host = "localhost"
	h.ServeHTTP(rec, req)
	var v automaton.View
	if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil || len(v.Nodes) != 1 {
		t.Errorf("state: %v %+v", err, v)
	}
	// The page references only embedded files: no CDN.
	rec = httptest.NewRecorder()
	req = httptest.NewRequest("GET", "/", nil)
	req.Host = "localhost"
	h.ServeHTTP(rec, req)
	if body := rec.Body.String(); strings.Contains(body, "http://") || strings.Contains(body, "https://") || strings.Contains(body, "//cdn") {
		t.Errorf("the page loads something from outside:\n%s", body)
	}
}

// A dashboard bound to every interface accepts any Host header: the user
// chose to expose it.
func TestHostCheckOnlyOnLoopback(t *testing.T) {
	d, err := dashboard.New(dashboard.WithAddr(":0"))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "/api/state", nil)
	req.Host = "dashboard.example"
	d.Handler().ServeHTTP(rec, req)
	if rec.Code != 200 {
		t.Errorf("non-loopback dashboard refused host: %d", rec.Code)
	}
}

// No request crashes the handler or gets a 5xx other than 503 (a kill that
// could not reach the driver because the request was already gone).
func FuzzHandler(f *testing.F) {
	for _, s := range []struct{ method, path, host, hdr string }{
		{"GET", "/", "127.0.0.1", ""},
		{"GET", "/static/app.js", "localhost", ""},
		{"GET", "/static/../../etc/passwd", "localhost", ""},
		{"GET", "/api/events", "[::1]:9", ""},
		{"POST", "/api/nodes/a/kill", "127.0.0.1:1", "kill"},
		{"POST", "/api/nodes/%00/kill", "127.0.0.1:1", "kill"},
		{"OPTIONS", "/api/state", "evil", ""},
		{"GET", "//static//app.js", "localhost.", ""},
	} {
		f.Add(s.method, s.path, s.host, s.hdr)
	}
	d, err := dashboard.New(dashboard.WithAddr("127.0.0.1:0"))
	if err != nil {
		f.Fatal(err)
	}
	if err := d.Attach(dashboard.Source{Name: "a", Bus: newBusF(f), ID: self, Kill: func() error { return nil }}); err != nil {
		f.Fatal(err)
	}
	if err := d.Start(context.Background()); err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { d.Close() })
	h := d.Handler()
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	f.Fuzz(func(t *testing.T, method, path, host, hdr string) {
		req, err := http.NewRequestWithContext(canceled, method, "http://127.0.0.1"+path, nil)
		if err != nil || req.URL.Path == "" {
			return
		}
		req.Host = host
		req.Header.Set(dashboard.KillHeader, hdr)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 && rec.Code != http.StatusServiceUnavailable {
			t.Fatalf("%s %q host %q: %d %s", method, path, host, rec.Code, rec.Body.String())
		}
	})
}
