package host

import (
	"go.uber.org/fx"

	"github.com/meshbus/meshbus/host/conntrack"
)

// Names of the built-in components, as used by WithoutComponent,
// ReplaceComponent and the lifecycle events.
const (
	// ComponentConnTrack is connection tracking (package conntrack). Leaving
	// it out leaves the connection events without an emitter.
	ComponentConnTrack = "conntrack"
)

// builtin is one default component: its name and its fx module.
type builtin struct {
	name string
	opt  fx.Option
}

// builtins lists the default components in start order. Connection tracking
// comes first so that it is running before anything that reacts to
// connections starts, and stops last.
func builtins() []builtin {
	return []builtin{
		{ComponentConnTrack, conntrack.Module},
	}
}

// BuiltinNames returns the names of the built-in components, in start order.
func BuiltinNames() []string {
	var names []string
	for _, b := range builtins() {
		names = append(names, b.name)
	}
	return names
}

// componentOptions returns the built-ins the config keeps, each (or its
// replacement) wrapped in Component under its name.
func (c *config) componentOptions() []fx.Option {
	var opts []fx.Option
	for _, b := range builtins() {
		if c.without[b.name] {
			continue
		}
		opt := b.opt
		if r, ok := c.replace[b.name]; ok {
			opt = r
		}
		opts = append(opts, Component(b.name, opt))
	}
	return opts
}
