package router

import (
	"context"
	"log/slog"
	"time"

	"github.com/benbjohnson/clock"
)

// rateLog logs at most once per interval per key, counting what it held back.
// It is used by the driver goroutine only.
type rateLog struct {
	log      *slog.Logger
	clk      clock.Clock
	interval time.Duration
	last     map[string]rateEntry
}

type rateEntry struct {
	at         time.Time
	suppressed int
}

func (r *rateLog) warn(key, msg string, args ...any) { r.logAt(slog.LevelWarn, key, msg, args...) }

func (r *rateLog) debug(key, msg string, args ...any) { r.logAt(slog.LevelDebug, key, msg, args...) }

func (r *rateLog) logAt(level slog.Level, key, msg string, args ...any) {
	if !r.log.Enabled(context.Background(), level) {
		return
	}
	now := r.clk.Now()
	e, ok := r.last[key]
	if ok && now.Sub(e.at) < r.interval {
		e.suppressed++
		r.last[key] = e
		return
	}
	if e.suppressed > 0 {
		args = append(args, "suppressed", e.suppressed)
	}
	if len(r.last) > 1024 { // keys are bounded in practice; never let them grow
		clear(r.last)
	}
	r.last[key] = rateEntry{at: now}
	r.log.Log(context.Background(), level, msg, args...)
}
