package metrictest

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package when a test leaves a goroutine behind (the
// tests of fails run checks on goroutines of their own).
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
