//go:build !unix

package cputime

import "time"

// Process is not measured on this system.
func Process() time.Duration { return 0 }
