package p2phost

import (
	"errors"
	"testing"

	"github.com/libp2p/go-libp2p"
	ma "github.com/multiformats/go-multiaddr"
	"go.uber.org/goleak"

	"github.com/meshbus/meshbus/internal/testhost"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, testhost.ProcessGoroutines()...)
}

// A taken address: ErrListen, and the host built meanwhile is closed with
// everything it started.
func TestListenFailureClosesHost(t *testing.T) {
	taken := ma.StringCast(testhost.TakenPort(t))
	before := goleak.IgnoreCurrent()
	if h, err := New([]ma.Multiaddr{taken}); !errors.Is(err, ErrListen) {
		if h != nil {
			_ = h.Close()
		}
		t.Fatalf("New on a taken port: %v; want ErrListen", err)
	}
	goleak.VerifyNone(t, before)
}

// One address that works is enough; none means a host that only dials.
func TestListens(t *testing.T) {
	h, err := New([]ma.Multiaddr{ma.StringCast(testhost.TakenPort(t)), ma.StringCast("/ip4/127.0.0.1/tcp/0")})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if n := len(h.Network().ListenAddresses()); n != 1 {
		t.Fatalf("listening on %d addresses; want the free one", n)
	}
	d, err := New(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if n := len(d.Network().ListenAddresses()); n != 0 {
		t.Fatalf("a host given no address listens on %d", n)
	}
}

// An error of libp2p.New itself wraps ErrBuild.
func TestBuildError(t *testing.T) {
	bad := func(*libp2p.Config) error { return errors.New("refused") }
	if _, err := New(nil, bad); !errors.Is(err, ErrBuild) {
		t.Fatalf("New with a failing option: %v; want ErrBuild", err)
	}
}
