package automaton

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestDefaultBackoffSchedule(t *testing.T) {
	cfg := DefaultConfig()
	s := cfg.schedule()
	want := []time.Duration{120 * time.Second, 480 * time.Second, 1920 * time.Second, 7680 * time.Second}
	for n, w := range want {
		got, ok := s.Backoff(n + 1)
		if !ok || got != w {
			t.Fatalf("Backoff(%d) = %v, %v; want %v", n+1, got, ok, w)
		}
	}
	if _, ok := s.Backoff(5); ok {
		t.Fatal("Backoff(5) allows another dial; 5 failures must stop dialing")
	}
	if d, ok := s.Backoff(0); d != 0 || !ok {
		t.Fatalf("Backoff(0) = %v, %v", d, ok)
	}
	now := time.Unix(1000, 0)
	if until, ok := s.Next(2, now); !ok || !until.Equal(now.Add(480*time.Second)) {
		t.Fatalf("Next(2) = %v, %v", until, ok)
	}
}

func TestDefaultTargets(t *testing.T) {
	cfg := DefaultConfig()
	got := cfg.Targets()
	want := Targets{Mesh: 30, Outbound: 10, Inbound: 20, Service: 20}
	if got != want {
		t.Fatalf("Targets() = %+v, want %+v", got, want)
	}
	cfg.MaxConnections = 2
	cfg.MeshRatio = 0.5
	if got := cfg.Targets(); got.Outbound != 1 || got.Mesh != 1 || got.Inbound != 0 {
		t.Fatalf("tiny targets = %+v, want one outbound mesh peer", got)
	}
}

func TestValidateNamesTheBadField(t *testing.T) {
	cases := []struct {
		field string
		opt   Option
	}{
		{"MaxConnections", WithMaxConnections(0)},
		{"MeshRatio", WithMeshRatio(0)},
		{"MeshRatio", WithMeshRatio(1.5)},
		{"MeshRatio", func(c *Config) { c.MaxConnections, c.MeshRatio = 1, 0.5 }},
		{"InitialBackoff", WithBackoff(0, 4)},
		{"BackoffFactor", WithBackoff(time.Second, 0.5)},
		// 120 s x 100^3 = 1389 days: over the one-week limit.
		{"BackoffFactor", WithBackoff(120*time.Second, 100)},
		// 120 s x 4^(10-2) = 91 days.
		{"BackoffFactor", WithMaxFailures(10)},
		{"MaxFailures", WithMaxFailures(0)},
		{"ReconnectBackoff", func(c *Config) { c.ReconnectBackoff = 0 }},
		{"MaxReconnectBackoff", func(c *Config) { c.MaxReconnectBackoff = time.Second }},
		{"StableConnection", func(c *Config) { c.StableConnection = 0 }},
		{"DialRate", WithDialRate(0)},
		{"ColocationExempt", WithColocationExempt(netip.Prefix{})},
		{"MaxParallelDials", WithMaxParallelDials(0)},
		{"ColocationLimit", WithColocationLimit(-1)},
		{"StoreCapacity", WithStoreCapacity(0)},
		{"ConnectivityInterval", WithConnectivityInterval(0, 0)},
		{"FastConnectivityInterval", WithConnectivityInterval(time.Second, 2*time.Second)},
	}
	for _, c := range cases {
		cfg := DefaultConfig()
		c.opt(&cfg)
		err := cfg.Validate()
		if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), c.field) {
			t.Errorf("%s: err = %v, want ErrInvalidConfig naming the field", c.field, err)
		}
	}
	cfg := DefaultConfig()
	if err := cfg.Validate(); err != nil {
		t.Fatalf("defaults invalid: %v", err)
	}
	// Exactly a week is allowed; the limit is on exceeding it.
	cfg.InitialBackoff, cfg.BackoffFactor, cfg.MaxFailures = 7*24*time.Hour, 1, 3
	if err := cfg.Validate(); err != nil {
		t.Fatalf("a one-week largest backoff was rejected: %v", err)
	}
	cfg.ColocationLimit = 0
	if err := cfg.Validate(); err != nil {
		t.Fatalf("ColocationLimit 0 (disabled) was rejected: %v", err)
	}
}
