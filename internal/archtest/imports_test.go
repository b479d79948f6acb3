package archtest

import (
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/meshbus/meshbus"

// pkg is what go list says of one package of the module.
type pkg struct {
	ImportPath string
	Imports    []string // non-test imports
}

// listModule returns every package of the module by import path.
func listModule(t *testing.T) map[string]pkg {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("the go command is not on PATH: cannot list the module's packages")
	}
	cmd := exec.Command(goBin, "list", "-json", module+"/...")
	cmd.Dir = "../.."
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("go list: %v\n%s", err, ee.Stderr)
		}
		t.Fatalf("go list: %v", err)
	}
	pkgs := map[string]pkg{}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for {
		var p pkg
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pkgs[p.ImportPath] = p
	}
	return pkgs
}

// rel strips the module path: "components/router/wire".
func rel(path string) string { return strings.TrimPrefix(strings.TrimPrefix(path, module), "/") }

func inModule(path string) bool { return path == module || strings.HasPrefix(path, module+"/") }

// std reports whether path is a standard library package.
func std(path string) bool {
	first, _, _ := strings.Cut(path, "/")
	return !strings.Contains(first, ".")
}

// under reports whether the module-relative path r is dir or inside it.
func under(r, dir string) bool { return r == dir || strings.HasPrefix(r, dir+"/") }

// testKits are the packages only tests import; a kit may build on another.
var testKits = []string{"internal/testhost", "internal/metrictest", "eventbus/bustest", "interop/testplans/script/scripttest"}

// isKit reports whether the module-relative path r is in a test kit.
func isKit(r string) bool {
	return slices.ContainsFunc(testKits, func(k string) bool { return under(r, k) })
}

// component returns the component a module-relative path belongs to
// ("components/router" for "components/router/wire"), or "".
func component(r string) string {
	parts := strings.Split(r, "/")
	if len(parts) < 2 || parts[0] != "components" {
		return ""
	}
	return parts[0] + "/" + parts[1]
}

// closure returns every module package p reaches through non-test imports.
func closure(pkgs map[string]pkg, p string) []string {
	seen := map[string]bool{}
	var walk func(string)
	walk = func(q string) {
		for _, imp := range pkgs[q].Imports {
			if inModule(imp) && !seen[imp] {
				seen[imp] = true
				walk(imp)
			}
		}
	}
	walk(p)
	var out []string
	for q := range seen {
		out = append(out, q)
	}
	slices.Sort(out)
	return out
}

// TestImportRules checks the table in docs/architecture.md on the non-test
// code of every package.
func TestImportRules(t *testing.T) {
	pkgs := listModule(t)
	if len(pkgs) < 10 {
		t.Fatalf("go list found %d packages; run from inside the module", len(pkgs))
	}
	// Only these may import anything; nothing outside them may import
	// them (cmd's binaries may use interop's shared contracts, so the
	// rule is between the tops and the rest, not among the tops).
	tops := []string{"cmd", "interop", "examples", "bench"}
	inTops := func(r string) bool { return slices.ContainsFunc(tops, func(top string) bool { return under(r, top) }) }
	for path, p := range pkgs {
		r := rel(path)
		deps := closure(pkgs, path)
		for _, d := range deps {
			dr := rel(d)
			if inTops(dr) && !inTops(r) {
				t.Errorf("%s imports %s: nothing outside cmd/, interop/, examples/ and bench/ may", r, dr)
			}
			if isKit(dr) && !isKit(r) {
				t.Errorf("%s imports the test kit %s outside its tests", r, dr)
			}
			if under(dr, "host") && !under(r, "host") && !inTops(r) {
				t.Errorf("%s imports %s: only cmd, interop, examples and bench use the host", r, dr)
			}
			if c := component(r); c != "" {
				if dc := component(dr); dc != "" && dc != c {
					t.Errorf("%s imports %s: a component never imports another (it learns from events)", r, dr)
				}
			}
		}
		switch {
		case r == "eventbus":
			// The bus core: the standard library only (the go-libp2p
			// adapter and the Prometheus collector are subpackages).
			for _, imp := range p.Imports {
				if !std(imp) {
					t.Errorf("eventbus imports %s: the bus core needs only the standard library", imp)
				}
			}
		case r == "events":
			for _, imp := range p.Imports {
				if !std(imp) && !strings.HasPrefix(imp, "github.com/libp2p/go-libp2p/core/") &&
					!strings.HasPrefix(imp, "github.com/multiformats/go-multiaddr") {
					t.Errorf("events imports %s: event types use only go-libp2p core types", imp)
				}
			}
		}
		if under(r, "components") || under(r, "eventbus") || under(r, "events") || under(r, "host") {
			for _, imp := range p.Imports {
				if strings.HasPrefix(imp, "github.com/libp2p/go-libp2p-pubsub") {
					t.Errorf("%s imports %s: go-libp2p-pubsub is for tests, benchmarks and interop only", r, imp)
				}
			}
		}
	}
}
