package dashboard

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"strings"
)

//go:embed web
var webFiles embed.FS

// KillHeader must be present (with value KillHeaderValue) on a kill request.
// A page of another origin cannot add it without a CORS preflight, which
// the dashboard never answers, so it guards against cross-site requests.
const (
	KillHeader      = "X-Meshbus-Dashboard"
	KillHeaderValue = "kill"
)

// newHandler builds the dashboard's routes:
//
//	GET  /                          the page
//	GET  /static/{file}             the page's script and style (embedded)
//	GET  /api/state                 the latest view, JSON
//	GET  /api/events                the view as Server-Sent Events, one per change
//	POST /api/nodes/{name}/kill     stop a node (WithControl only)
//
// Anything else is 404, a wrong method 405; requests to a loopback-bound
// dashboard whose Host is not a loopback name get 403.
func (d *Dashboard) newHandler() http.Handler {
	static, err := fs.Sub(webFiles, "web")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	files := http.StripPrefix("/static/", http.FileServerFS(static))
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		page, err := fs.ReadFile(static, "index.html")
		if err != nil {
			http.Error(w, "page missing", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-cache")
		w.Write(page)
	})
	mux.HandleFunc("GET /static/{file}", func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("file")
		if name == "index.html" || !fs.ValidPath(name) || strings.Contains(name, "/") {
			http.NotFound(w, r)
			return
		}
		if _, err := fs.Stat(static, name); err != nil {
			http.NotFound(w, r)
			return
		}
		files.ServeHTTP(w, r)
	})
	mux.HandleFunc("GET /api/state", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		w.Write(d.view.Load().data)
	})
	mux.HandleFunc("GET /api/events", d.serveEvents)
	mux.HandleFunc("POST /api/nodes/{name}/kill", d.serveKill)
	return d.guard(mux)
}

// guard applies the checks every request passes: the Host header while bound
// to loopback, and the security headers.
func (d *Dashboard) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Content-Security-Policy", "default-src 'self'; style-src 'self'; script-src 'self'; connect-src 'self'; img-src 'self' data:")
		h.Set("Referrer-Policy", "no-referrer")
		if d.loopback.Load() && !isLoopbackHost(hostOf(r.Host)) {
			http.Error(w, "the dashboard is bound to loopback: open it as localhost or 127.0.0.1", http.StatusForbidden)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// serveEvents streams views as Server-Sent Events until the page goes away
// or the dashboard closes. A page that reads slowly skips views: each event
// is the newest view when the previous write finished.
func (d *Dashboard) serveEvents(w http.ResponseWriter, r *http.Request) {
	fl, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming unsupported", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	d.metrics.v.AddGauge(mClients, 1)
	defer d.metrics.v.AddGauge(mClients, -1)
	f := d.view.Load()
	for {
		// json.Marshal output has no newline, so it is one data line.
		if _, err := fmt.Fprintf(w, "id: %d\nevent: view\ndata: %s\n\n", f.seq, f.data); err != nil {
			return
		}
		fl.Flush()
		select {
		case <-f.next:
			f = d.view.Load()
		case <-r.Context().Done():
			return
		case <-d.quit:
			return
		}
	}
}

// serveKill asks the driver to stop a node.
func (d *Dashboard) serveKill(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get(KillHeader) != KillHeaderValue {
		http.Error(w, "missing "+KillHeader+" header", http.StatusForbidden)
		return
	}
	if !d.cfg.control {
		http.Error(w, errReadOnly.Error(), http.StatusForbidden)
		return
	}
	name := r.PathValue("name")
	err := d.ask(r.Context(), request{kind: reqKill, name: name})
	switch {
	case err == nil:
		w.WriteHeader(http.StatusAccepted)
		fmt.Fprintf(w, "killing %s\n", name)
	case errors.Is(err, errReadOnly):
		http.Error(w, err.Error(), http.StatusForbidden)
	case errors.Is(err, errNoNode):
		http.Error(w, err.Error(), http.StatusNotFound)
	case errors.Is(err, errNotKilable), errors.Is(err, errNodeDown):
		http.Error(w, err.Error(), http.StatusConflict)
	case errors.Is(err, ErrClosed), errors.Is(err, errNotStarted):
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
	default:
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
	}
}

// hostOf returns the host part of host[:port] (IPv6 brackets removed).
func hostOf(hostport string) string {
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		return h
	}
	return strings.Trim(hostport, "[]")
}

// isLoopbackHost reports whether h names the loopback interface: localhost
// (or a name under .localhost) or a loopback IP. An empty host (":8080")
// is not loopback: it listens everywhere.
func isLoopbackHost(h string) bool {
	h = strings.ToLower(strings.TrimSuffix(h, "."))
	if h == "localhost" || strings.HasSuffix(h, ".localhost") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}
