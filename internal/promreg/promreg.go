// Package promreg keeps a component's Prometheus metrics: it registers the
// collectors on the registry the caller passes, all or none, and takes
// them off again; and it keeps a component's numbers against a Schema
// built once per process (Values), so that a node's metrics are one array
// of numbers and a node without a registry keeps none.
package promreg

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Register registers every collector on reg, in order, or none: when one
// fails, those registered before it are unregistered again. A nil reg
// registers nothing. The error names the component (e.g. "mdns") and says
// when the registry already holds its metrics (one registry per node).
func Register(component string, reg prometheus.Registerer, cs ...prometheus.Collector) error {
	if reg == nil {
		return nil
	}
	for i, c := range cs {
		if err := reg.Register(c); err != nil {
			Unregister(reg, cs[:i]...)
			var are prometheus.AlreadyRegisteredError
			if errors.As(err, &are) {
				return fmt.Errorf("%s: metrics already registered (one registry per node): %w", component, err)
			}
			return fmt.Errorf("%s: registering metrics: %w", component, err)
		}
	}
	return nil
}

// Unregister removes the collectors from reg; a nil reg does nothing.
func Unregister(reg prometheus.Registerer, cs ...prometheus.Collector) {
	if reg == nil {
		return
	}
	for _, c := range cs {
		reg.Unregister(c)
	}
}
