package eventbus

import (
	"errors"
	"math"
	"testing"
)

func TestBufSizeAboveMaximumIsBadOption(t *testing.T) {
	b := New()
	defer b.Close()
	for _, n := range []int{MaxBufSize + 1, 1 << 40, math.MaxInt} {
		if _, err := Subscribe[evtA](b, BufSize(n)); !errors.Is(err, ErrBadOption) {
			t.Errorf("typed BufSize(%d) = %v, want ErrBadOption", n, err)
		}
		if _, err := b.Subscribe(new(evtA), BufSize(n)); !errors.Is(err, ErrBadOption) {
			t.Errorf("event.Bus BufSize(%d) = %v, want ErrBadOption", n, err)
		}
	}
	s, err := Subscribe[evtA](b, BufSize(MaxBufSize))
	if err != nil {
		t.Fatalf("BufSize(MaxBufSize) = %v", err)
	}
	s.Close()
	if len(b.Subscriptions()) != 0 {
		t.Fatal("a refused subscription is listed")
	}
}

func TestEmptyTypeListIsAnError(t *testing.T) {
	b := New()
	defer b.Close()
	for _, list := range []any{[]any{}, []any(nil)} {
		if _, err := b.Subscribe(list); !errors.Is(err, ErrNoTypes) {
			t.Errorf("Subscribe(%#v) = %v, want ErrNoTypes", list, err)
		}
	}
	if len(b.Subscriptions()) != 0 {
		t.Fatal("a refused subscription is listed")
	}
}
