package netrun

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain lets the test binary serve as the node launcher (MaybeHelper
// executes the node in place when the runner started this binary as one).
func TestMain(m *testing.M) {
	MaybeHelper()
	goleak.VerifyTestMain(m)
}
