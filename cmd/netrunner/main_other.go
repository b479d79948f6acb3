//go:build !linux

// Command netrunner needs Linux (network and UTS namespaces); elsewhere it
// says so and exits.
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "netrunner: Linux network namespaces are required; this platform has none")
	os.Exit(3)
}
