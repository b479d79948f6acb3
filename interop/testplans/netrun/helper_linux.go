package netrun

import (
	"fmt"
	"os"
	"runtime"
	"syscall"

	"golang.org/x/sys/unix"
)

// Environment variables of the launch helper.
const (
	envHostname = "MESHBUS_NETRUN_HOSTNAME"
	envExec     = "MESHBUS_NETRUN_EXEC"
)

// MaybeHelper must be called first thing in main (and in TestMain of tests
// that run nodes). In a process the runner started as a node launcher it
// sets the host name of the fresh UTS namespace to nodeN and executes the
// node binary in place; it never returns there. Elsewhere it does nothing.
func MaybeHelper() {
	name, bin := os.Getenv(envHostname), os.Getenv(envExec)
	if name == "" || bin == "" {
		return
	}
	// The runner raised its own priority so that the relay (the network)
	// is not starved by the nodes; nodes run at the normal priority. Nice
	// values are per thread on Linux: set it on the thread that will exec.
	runtime.LockOSThread()
	_ = unix.SchedSetAttr(0, &unix.SchedAttr{Policy: unix.SCHED_NORMAL}, 0)
	_ = unix.Setpriority(unix.PRIO_PROCESS, 0, 0)
	if err := unix.Sethostname([]byte(name)); err != nil {
		fmt.Fprintf(os.Stderr, "netrun helper: sethostname %s: %v\n", name, err)
		os.Exit(2)
	}
	env := make([]string, 0, len(os.Environ()))
	for _, e := range os.Environ() {
		if len(e) > len(envHostname) && (e[:len(envHostname)+1] == envHostname+"=" || e[:len(envExec)+1] == envExec+"=") {
			continue
		}
		env = append(env, e)
	}
	args := append([]string{bin}, os.Args[1:]...)
	err := syscall.Exec(bin, args, env)
	fmt.Fprintf(os.Stderr, "netrun helper: exec %s: %v\n", bin, err)
	os.Exit(2)
}

// raisePriority gives every thread of this process the nice value nice
// (negative: more CPU), so that the relay (the network) keeps its timing
// while the nodes load the machine. Threads created later inherit it from
// their creator; the launch helper puts the nodes back at nice 0. (The
// real-time class was tried and made things worse: it starves the kernel's
// packet processing threads, which run at normal priority.) Failure only
// costs timing accuracy, so it is reported, not fatal.
func raisePriority(nice int) error {
	ents, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return err
	}
	var first error
	for _, e := range ents {
		var tid int
		if _, err := fmt.Sscanf(e.Name(), "%d", &tid); err != nil {
			continue
		}
		if err := unix.Setpriority(unix.PRIO_PROCESS, tid, nice); err != nil && first == nil {
			first = err
		}
	}
	return first
}
