package harness

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
)

// InstallCommand is how a user installs the JS peer by hand: `go test` of
// this package does it on first run (Prepare), into the cache directory
// outside the source tree.
const InstallCommand = "go test -run TestInteropWithJSGossipsub ./interop/js/harness (installs the JS peer into the user cache directory)"

// SkipEnv is the environment variable that, set to 1, skips the js-libp2p
// interop tests.
const SkipEnv = "MESHBUS_SKIP_INTEROP"

// PeerDirEnv names a directory that already holds peer.mjs with its
// node_modules; the harness then uses it as is and installs nothing.
const PeerDirEnv = "MESHBUS_JSPEER_DIR"

// CacheEnv overrides the cache directory the JS peer is installed under
// (default: the user cache directory, e.g. ~/.cache/meshbus/jspeer).
const CacheEnv = "MESHBUS_JSPEER_CACHE"

// peerFiles are the files of jspeer/ a peer directory holds beside
// node_modules; the first two pin the dependencies.
var peerFiles = []string{"package.json", "package-lock.json", "peer.mjs", "polyfill.mjs"}

// SourceDir returns the JS peer's source directory (peer.mjs,
// package.json and its lockfile, no node_modules): interop/js/jspeer next to
// this package's source (where it is under go test and go run), else
// jspeer or interop/js/jspeer relative to the working directory (for
// binaries built with -trimpath).
func SourceDir() string {
	var candidates []string
	if _, file, _, ok := runtime.Caller(0); ok {
		candidates = append(candidates, filepath.Join(filepath.Dir(file), "..", "jspeer"))
	}
	candidates = append(candidates, "jspeer", filepath.Join("interop", "js", "jspeer"))
	for _, d := range candidates {
		if _, err := os.Stat(filepath.Join(d, "peer.mjs")); err == nil {
			return d
		}
	}
	return candidates[0]
}

// DefaultPeerDir returns the directory the JS peer runs from: $MESHBUS_JSPEER_DIR
// if set, else a directory under the cache ($MESHBUS_JSPEER_CACHE, or the
// user cache directory's meshbus/jspeer, or the system temporary directory's
// when there is no user cache directory) named after a hash of the pinned
// dependencies, so that a changed lockfile gets a fresh install and the
// source tree never holds node_modules. Prepare fills it.
func DefaultPeerDir() string {
	if d := os.Getenv(PeerDirEnv); d != "" {
		return d
	}
	root := os.Getenv(CacheEnv)
	if root == "" {
		if c, err := os.UserCacheDir(); err == nil {
			root = filepath.Join(c, "meshbus", "jspeer")
		} else {
			root = filepath.Join(os.TempDir(), "meshbus-jspeer")
		}
	}
	src := SourceDir()
	h := sha256.New()
	for _, f := range peerFiles[:2] {
		b, err := os.ReadFile(filepath.Join(src, f))
		if err != nil {
			return filepath.Join(root, "unknown") // Prepare reports the missing file
		}
		fmt.Fprintf(h, "%s %d\n", f, len(b))
		h.Write(b)
	}
	return filepath.Join(root, hex.EncodeToString(h.Sum(nil))[:16])
}

// CheckPrerequisites returns the node executable's path, or an error
// wrapping ErrNodeMissing or ErrPeerNotInstalled that says what to install
// or run.
func CheckPrerequisites(peerDir string) (string, error) {
	node, err := exec.LookPath("node")
	if err != nil {
		return "", fmt.Errorf("%w: install Node.js 20 or later (or set %s=1 to skip the interop test)",
			ErrNodeMissing, SkipEnv)
	}
	if _, err := os.Stat(filepath.Join(peerDir, "peer.mjs")); err != nil {
		return "", fmt.Errorf("%w: %v (run `%s`, or set %s to a directory holding peer.mjs and its node_modules)",
			ErrPeerNotInstalled, err, InstallCommand, PeerDirEnv)
	}
	// Every direct dependency peer.mjs imports a router from: a directory
	// whose node_modules predates one (floodsub was added later) is
	// reported rather than failing at import.
	for _, pkg := range []string{"@chainsafe/libp2p-gossipsub", "@libp2p/floodsub"} {
		pj := filepath.Join(peerDir, "node_modules", filepath.FromSlash(pkg), "package.json")
		if _, err := os.Stat(pj); err != nil {
			return "", fmt.Errorf("%w: %s is missing: run `%s` (or set %s=1 to skip the interop test)",
				ErrPeerNotInstalled, pj, InstallCommand, SkipEnv)
		}
	}
	return node, nil
}

// Prepare makes peerDir ready to run: unless it is $MESHBUS_JSPEER_DIR
// (used as is), it installs the pinned dependencies there when they are
// missing (Install) and copies the current peer.mjs and polyfill.mjs from
// SourceDir over the old ones. Concurrent calls, from one process or
// several, are safe: every file and the installed tree appear by rename.
func Prepare(ctx context.Context, peerDir string) error {
	if os.Getenv(PeerDirEnv) != "" && peerDir == os.Getenv(PeerDirEnv) {
		return nil
	}
	if _, err := os.Stat(filepath.Join(peerDir, "node_modules")); errors.Is(err, fs.ErrNotExist) {
		if err := Install(ctx, peerDir); err != nil {
			return err
		}
	}
	src := SourceDir()
	for _, f := range peerFiles[2:] {
		if err := copyAtomic(filepath.Join(src, f), filepath.Join(peerDir, f)); err != nil {
			return fmt.Errorf("%w: %v", ErrPeerNotInstalled, err)
		}
	}
	return nil
}

// Install installs the JS peer's pinned dependencies into peerDir (outside
// the source tree) with `npm ci`: the lockfile is committed, so the
// versions are exact. It installs into a fresh sibling directory and
// renames it into place, so an interrupted install never looks complete;
// if another process finished first, its install is kept. It needs npm and
// the npm registry; npm's output is returned with the error.
func Install(ctx context.Context, peerDir string) error {
	npm, err := exec.LookPath("npm")
	if err != nil {
		return fmt.Errorf("%w: npm not found: install Node.js 20 or later", ErrNodeMissing)
	}
	if err := os.MkdirAll(filepath.Dir(peerDir), 0o755); err != nil {
		return fmt.Errorf("%w: %v", ErrPeerNotInstalled, err)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(peerDir), filepath.Base(peerDir)+".tmp-")
	if err != nil {
		return fmt.Errorf("%w: %v", ErrPeerNotInstalled, err)
	}
	defer os.RemoveAll(tmp) // a no-op after the rename
	src := SourceDir()
	for _, f := range peerFiles {
		if err := copyAtomic(filepath.Join(src, f), filepath.Join(tmp, f)); err != nil {
			return fmt.Errorf("%w: %v", ErrPeerNotInstalled, err)
		}
	}
	cmd := exec.CommandContext(ctx, npm, "ci", "--no-audit", "--no-fund", "--prefix", tmp)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%w: npm ci in %s: %v\n%s", ErrPeerNotInstalled, tmp, err, out)
	}
	if err := os.Rename(tmp, peerDir); err != nil {
		if _, serr := os.Stat(filepath.Join(peerDir, "node_modules")); serr == nil {
			return nil // installed meanwhile by someone else
		}
		return fmt.Errorf("%w: %v", ErrPeerNotInstalled, err)
	}
	return nil
}

// copyAtomic copies src to dst through a temporary file renamed over dst.
func copyAtomic(src, dst string) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(dst), filepath.Base(dst)+".tmp-")
	if err != nil {
		return err
	}
	_, werr := f.Write(b)
	cerr := f.Close()
	if err := errors.Join(werr, cerr); err != nil {
		_ = os.Remove(f.Name())
		return err
	}
	if err := os.Rename(f.Name(), dst); err != nil {
		_ = os.Remove(f.Name())
		return err
	}
	return nil
}
