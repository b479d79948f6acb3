package harness

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
)

// InstallCommand is what installs the JS peer's pinned dependencies, run
// from the repository root.
const InstallCommand = "npm ci --prefix bench/interop/jspeer"

// SkipEnv is the environment variable that, set to 1, lets the interop test
// skip when its prerequisites are missing instead of failing.
const SkipEnv = "MESHBUS_SKIP_INTEROP"

// PeerDirEnv overrides where the JS peer (peer.mjs and node_modules) lives.
const PeerDirEnv = "MESHBUS_JSPEER_DIR"

// DefaultPeerDir returns the JS peer's directory: $MESHBUS_JSPEER_DIR if
// set, else the first of bench/interop/jspeer next to this package's source
// (where it is under go test and go run), ../jspeer and
// bench/interop/jspeer (relative to the working directory, for binaries
// built with -trimpath) that holds peer.mjs.
func DefaultPeerDir() string {
	if d := os.Getenv(PeerDirEnv); d != "" {
		return d
	}
	var candidates []string
	if _, file, _, ok := runtime.Caller(0); ok {
		candidates = append(candidates, filepath.Join(filepath.Dir(file), "..", "jspeer"))
	}
	candidates = append(candidates, filepath.Join("..", "jspeer"), filepath.Join("bench", "interop", "jspeer"))
	for _, d := range candidates {
		if _, err := os.Stat(filepath.Join(d, "peer.mjs")); err == nil {
			return d
		}
	}
	return candidates[0]
}

// CheckPrerequisites returns the node executable's path, or an error
// wrapping ErrNodeMissing or ErrPeerNotInstalled that says what to install
// or run.
func CheckPrerequisites(peerDir string) (string, error) {
	node, err := exec.LookPath("node")
	if err != nil {
		return "", fmt.Errorf("%w: install Node.js 20 or later, then run `%s` (or set %s=1 to skip the interop test)",
			ErrNodeMissing, InstallCommand, SkipEnv)
	}
	if _, err := os.Stat(filepath.Join(peerDir, "peer.mjs")); err != nil {
		return "", fmt.Errorf("%w: %v (set %s to the directory of bench/interop/jspeer)", ErrPeerNotInstalled, err, PeerDirEnv)
	}
	// Every direct dependency peer.mjs imports a router from: a checkout
	// whose node_modules predates one (floodsub was added later) is
	// reinstalled by the test rather than failing at import.
	for _, pkg := range []string{"@chainsafe/libp2p-gossipsub", "@libp2p/floodsub"} {
		pj := filepath.Join(peerDir, "node_modules", filepath.FromSlash(pkg), "package.json")
		if _, err := os.Stat(pj); err != nil {
			return "", fmt.Errorf("%w: %s is missing: run `%s` from the repository root (or set %s=1 to skip the interop test)",
				ErrPeerNotInstalled, pj, InstallCommand, SkipEnv)
		}
	}
	return node, nil
}

// Install installs the JS peer's pinned dependencies in peerDir with
// `npm ci` (the lockfile is committed, so the versions are exact). It needs
// npm and the npm registry; its output is returned with the error.
func Install(ctx context.Context, peerDir string) error {
	npm, err := exec.LookPath("npm")
	if err != nil {
		return fmt.Errorf("%w: npm not found: install Node.js 20 or later", ErrNodeMissing)
	}
	cmd := exec.CommandContext(ctx, npm, "ci", "--no-audit", "--no-fund", "--prefix", peerDir)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%w: npm ci in %s: %v\n%s", ErrPeerNotInstalled, peerDir, err, out)
	}
	return nil
}
