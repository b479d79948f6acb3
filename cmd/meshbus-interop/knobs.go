package main

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"
)

// errBadKnob: a MESHBUS_* environment variable holds a value its knob does
// not take. Init fails with it, naming every such variable, rather than run
// an A/B experiment on a default the caller did not ask for.
var errBadKnob = errors.New("bad MESHBUS_* environment variable")

// knobs reads the node's MESHBUS_* experiment knobs from the environment.
// An unset or empty variable is the knob's default; a value the knob does
// not take is recorded (err) and the default is used meanwhile.
type knobs struct{ bad []error }

func (k *knobs) reject(name, val, want string) {
	k.bad = append(k.bad, fmt.Errorf("%w: %s=%q: want %s", errBadKnob, name, val, want))
}

// err joins every rejected value, or is nil.
func (k *knobs) err() error { return errors.Join(k.bad...) }

// flag is a switch: "1" on, "0" off.
func (k *knobs) flag(name string, def bool) bool {
	switch v := os.Getenv(name); v {
	case "":
		return def
	case "1":
		return true
	case "0":
		return false
	default:
		k.reject(name, v, "0 or 1")
		return def
	}
}

// count is a decimal integer of 0 or more.
func (k *knobs) count(name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		k.reject(name, v, "a decimal integer of 0 or more")
		return def
	}
	return n
}

// fraction is a number in [0, 1].
func (k *knobs) fraction(name string, def float64) float64 {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || !(f >= 0 && f <= 1) {
		k.reject(name, v, "a number from 0 to 1")
		return def
	}
	return f
}

// duration is a Go duration of 0 or more, with its unit ("20ms").
func (k *knobs) duration(name string, def time.Duration) time.Duration {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		k.reject(name, v, `a duration of 0 or more with its unit, such as "20ms"`)
		return def
	}
	return d
}

// set reports whether any of the variables is set to a non-empty value.
func set(names ...string) bool {
	for _, n := range names {
		if os.Getenv(n) != "" {
			return true
		}
	}
	return false
}
