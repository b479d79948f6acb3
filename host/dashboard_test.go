package host

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"testing"
	"time"

	"go.uber.org/fx"

	"github.com/meshbus/meshbus/components/dashboard"
	"github.com/meshbus/meshbus/components/dashboard/automaton"
	"github.com/meshbus/meshbus/components/router"
)

// WithDashboard serves the node's view: the node itself, its connection to
// a peer, and the mesh of a joined topic, read over HTTP; it starts and
// stops as a named component.
func TestWithDashboard(t *testing.T) {
	var d *dashboard.Dashboard
	var ra, rb *router.Router
	a := newNode(t, WithDashboard("127.0.0.1:0"), WithFx(fx.Populate(&d, &ra)))
	b := newNode(t, WithFx(fx.Populate(&rb)))
	for _, r := range []*router.Router{ra, rb} {
		if _, err := r.Join("t"); err != nil {
			t.Fatal(err)
		}
	}
	connect(t, a, b)

	deadline := time.Now().Add(waitFor)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		v := fetchView(t, d.URL()+"api/state")
		var self bool
		if len(v.Nodes) == 1 {
			for _, s := range v.Nodes[0].Subs {
				self = self || s.Self
			}
		}
		if self && len(v.Conns) == 1 && len(v.Mesh) == 1 {
			if v.Nodes[0].ID != a.ID().String() || v.Conns[0].To != b.ID().String() ||
				v.Mesh[0].To != b.ID().String() || v.Mesh[0].Topic != "t" {
				t.Fatalf("view %+v", v)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the dashboard never showed the node, its connection and mesh: %+v", v)
		}
		<-tick.C
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := http.Get(d.URL() + "api/state"); err == nil {
		t.Error("the dashboard still serves after the node closed")
	}
}

func fetchView(t *testing.T, url string) automaton.View {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var v automaton.View
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

func TestWithDashboardBadAddress(t *testing.T) {
	if _, err := New(context.Background(), WithDashboard("")); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("empty address: %v", err)
	}
	_, err := New(context.Background(), WithDashboard("no-port"))
	if !errors.Is(err, dashboard.ErrBadOption) {
		t.Errorf("bad address: %v", err)
	}
}
