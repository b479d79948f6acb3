package automaton

import "fmt"

// Outcome names what one input did to the view state.
type Outcome uint8

// The outcomes of the Handle methods.
const (
	// Applied: the input changed the view state.
	Applied Outcome = iota + 1
	// Unchanged: the input was understood and changed nothing (a prune of a
	// peer not in the mesh, a second attach of the same node).
	Unchanged
	// Ignored: the event's type is not one the dashboard folds; it is only
	// counted among the node's event types.
	Ignored
	// UnknownNode: the input names a node that was never attached.
	UnknownNode
	// NodeDown: the input names a node that has already stopped.
	NodeDown
)

// String returns the outcome's name.
func (o Outcome) String() string {
	switch o {
	case Applied:
		return "applied"
	case Unchanged:
		return "unchanged"
	case Ignored:
		return "ignored"
	case UnknownNode:
		return "unknown_node"
	case NodeDown:
		return "node_down"
	}
	return fmt.Sprintf("outcome(%d)", uint8(o))
}

// Output is what one input produced for the driver. The driver reads it after
// each Handle call and calls Reset before reusing it.
type Output struct {
	// Changed reports that the view differs from the last one published.
	Changed bool
	// Notes are human-readable lines for the driver's debug log.
	Notes []string
}

// Reset empties the output for reuse, keeping its capacity.
func (o *Output) Reset() {
	o.Changed = false
	o.Notes = o.Notes[:0]
}

func (o *Output) note(format string, args ...any) {
	o.Notes = append(o.Notes, fmt.Sprintf(format, args...))
}
