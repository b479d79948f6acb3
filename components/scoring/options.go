package scoring

import (
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"
)

// DefaultInputBuffer is the default buffer of the driver's input
// subscription (see WithInputBuffer).
const DefaultInputBuffer = 4096

// Option configures a Component.
type Option func(*options)

type options struct {
	log      *slog.Logger
	reg      prometheus.Registerer
	inputBuf int
}

func defaultOptions() options {
	return options{log: slog.Default(), inputBuf: DefaultInputBuffer}
}

// WithLogger sets the component's logger (default slog.Default()); nil keeps
// the default.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) {
		if l != nil {
			o.log = l
		}
	}
}

// WithRegisterer registers the component's Prometheus metrics on reg. By
// default the metrics are kept but registered nowhere; nothing is ever
// registered on the global default registry.
func WithRegisterer(reg prometheus.Registerer) Option {
	return func(o *options) { o.reg = reg }
}

// WithInputBuffer sets the buffer of the input subscription (default 4096;
// values below 1 keep the default). The subscription blocks its emitters
// when full, so no fact is ever lost; a larger buffer absorbs longer bursts
// before the router feels back-pressure.
func WithInputBuffer(n int) Option {
	return func(o *options) {
		if n >= 1 {
			o.inputBuf = n
		}
	}
}
