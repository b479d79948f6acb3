package conntrack

import (
	"sync"
	"testing"
)

// TestInboxConcurrentFIFO pushes from several producers while one consumer
// drains: nothing is lost and each producer's inputs stay in order.
func TestInboxConcurrentFIFO(t *testing.T) {
	const producers, per = 4, 2000
	q := newInbox()
	var wg sync.WaitGroup
	for p := 0; p < producers; p++ {
		wg.Add(1)
		go func(p int) {
			defer wg.Done()
			for i := 0; i < per; i++ {
				q.push(input{kind: inEvent, evt: [2]int{p, i}})
			}
		}(p)
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()

	next := make([]int, producers)
	total := 0
	var batch []input
	consume := func() {
		batch = q.drain(batch)
		for _, in := range batch {
			v := in.evt.([2]int)
			if v[1] != next[v[0]] {
				t.Fatalf("producer %d: got %d, want %d", v[0], v[1], next[v[0]])
			}
			next[v[0]]++
			total++
		}
	}
	for running := true; running; {
		select {
		case <-q.wake:
		case <-done:
			running = false
		}
		consume()
	}
	consume()
	if total != producers*per {
		t.Fatalf("got %d inputs, want %d", total, producers*per)
	}
}

// TestInboxPushLockedIsAtomic checks that a pushLocked group is contiguous.
func TestInboxPushLockedIsAtomic(t *testing.T) {
	q := newInbox()
	q.push(input{kind: inClosed})
	q.pushLocked(func(add func(input)) {
		add(input{kind: inOpened})
		add(input{kind: inOpened})
	})
	got := q.drain(nil)
	if len(got) != 3 || got[0].kind != inClosed || got[1].kind != inOpened || got[2].kind != inOpened {
		t.Fatalf("got %+v", got)
	}
	select {
	case <-q.wake:
	default:
		t.Fatal("no wake-up pending after pushes")
	}
	if got := q.drain(got); len(got) != 0 {
		t.Fatalf("second drain returned %d inputs", len(got))
	}
}
