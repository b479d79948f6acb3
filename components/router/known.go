package router

import "sync"

// knownIDs is a bounded set of message ids the driver has already accepted
// (delivered or published). Reader goroutines consult it to skip the
// signature check of copies that can only be duplicates, as other
// implementations drop duplicates before validating; the automaton still
// sees every copy and reports EvtMessageDuplicate. The oldest ids are
// forgotten first; forgetting only costs a redundant signature check.
type knownIDs struct {
	mu   sync.Mutex
	set  map[string]struct{}
	ring []string
	next int
}

func newKnownIDs(capacity int) *knownIDs {
	return &knownIDs{set: make(map[string]struct{}, capacity), ring: make([]string, capacity)}
}

func (k *knownIDs) add(id string) {
	k.mu.Lock()
	if _, ok := k.set[id]; !ok {
		if old := k.ring[k.next]; old != "" {
			delete(k.set, old)
		}
		k.ring[k.next] = id
		k.set[id] = struct{}{}
		k.next = (k.next + 1) % len(k.ring)
	}
	k.mu.Unlock()
}

func (k *knownIDs) has(id string) bool {
	k.mu.Lock()
	_, ok := k.set[id]
	k.mu.Unlock()
	return ok
}
