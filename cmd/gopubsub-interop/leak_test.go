package main

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/meshbus/meshbus/internal/testhost"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, testhost.ProcessGoroutines()...)
}
