package eventbus

import (
	"os/exec"
	"strings"
	"testing"
)

// TestLightCoreImports checks that a program using only the typed bus (the
// eventbus core, and the bustest kit) links neither go-libp2p nor
// Prometheus: `go list -deps` of the packages, without their tests, must
// name nothing outside the standard library and this module.
func TestLightCoreImports(t *testing.T) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("the go command is not on PATH; cannot list the import graph")
	}
	for _, pkg := range []string{"github.com/meshbus/meshbus/eventbus", "github.com/meshbus/meshbus/eventbus/bustest"} {
		out, err := exec.Command(gobin, "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", pkg).CombinedOutput()
		if err != nil {
			t.Fatalf("go list -deps %s: %v\n%s", pkg, err, out)
		}
		for _, dep := range strings.Fields(string(out)) {
			if !strings.HasPrefix(dep, "github.com/meshbus/meshbus/eventbus") {
				t.Errorf("%s imports %s: the light core must need only the standard library", pkg, dep)
			}
		}
	}
}
