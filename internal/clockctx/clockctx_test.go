package clockctx_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"go.uber.org/goleak"

	"github.com/meshbus/meshbus/internal/clockctx"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type key struct{}

// waitDone fails t unless ctx is done within a second of real time.
func waitDone(t *testing.T, ctx context.Context) {
	t.Helper()
	select {
	case <-ctx.Done():
	case <-time.After(time.Second):
		t.Fatal("context not done")
	}
}

func TestDeadlineFollowsMockClock(t *testing.T) {
	mock := clock.NewMock()
	parent := context.WithValue(context.Background(), key{}, "v")
	ctx, cancel := clockctx.WithTimeout(mock, parent, time.Second)
	defer cancel()

	if dl, ok := ctx.Deadline(); !ok || !dl.Equal(mock.Now().Add(time.Second)) {
		t.Fatalf("Deadline = %v, %v; want now+1s", dl, ok)
	}
	if got := ctx.Value(key{}); got != "v" {
		t.Fatalf("Value = %v, want the parent's", got)
	}
	mock.Add(999 * time.Millisecond)
	if err := ctx.Err(); err != nil {
		t.Fatalf("Err before the deadline = %v", err)
	}
	mock.Add(time.Millisecond)
	waitDone(t, ctx)
	if err := ctx.Err(); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Err = %v, want DeadlineExceeded", err)
	}
	cancel()
	if err := ctx.Err(); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Err after a late cancel = %v, want it kept", err)
	}
}

func TestCancelStopsTheTimer(t *testing.T) {
	mock := clock.NewMock()
	ctx, cancel := clockctx.WithTimeout(mock, context.Background(), time.Second)
	cancel()
	cancel()
	waitDone(t, ctx)
	if err := ctx.Err(); !errors.Is(err, context.Canceled) {
		t.Fatalf("Err = %v, want Canceled", err)
	}
	mock.Add(time.Hour) // the stopped timer must not change the error
	if err := ctx.Err(); !errors.Is(err, context.Canceled) {
		t.Fatalf("Err after the deadline = %v, want Canceled kept", err)
	}
}

func TestParentCancelPropagates(t *testing.T) {
	mock := clock.NewMock()
	parent, cancelParent := context.WithCancel(context.Background())
	ctx, cancel := clockctx.WithTimeout(mock, parent, time.Second)
	defer cancel()
	cancelParent()
	waitDone(t, ctx)
	if err := ctx.Err(); !errors.Is(err, context.Canceled) {
		t.Fatalf("Err = %v, want the parent's Canceled", err)
	}
}

func TestParentAlreadyDone(t *testing.T) {
	mock := clock.NewMock()
	parent, cancelParent := context.WithCancel(context.Background())
	cancelParent()
	ctx, cancel := clockctx.WithTimeout(mock, parent, time.Second)
	defer cancel()
	waitDone(t, ctx)
	if err := ctx.Err(); !errors.Is(err, context.Canceled) {
		t.Fatalf("Err = %v, want Canceled", err)
	}
}

func TestNonPositiveTimeoutIsAlreadyExpired(t *testing.T) {
	for _, d := range []time.Duration{0, -time.Second} {
		ctx, cancel := clockctx.WithTimeout(clock.NewMock(), context.Background(), d)
		waitDone(t, ctx)
		if err := ctx.Err(); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("WithTimeout(%v): Err = %v, want DeadlineExceeded", d, err)
		}
		cancel()
	}
}

func TestEarlierParentDeadlineWins(t *testing.T) {
	mock := clock.NewMock()
	parent, cancelParent := clockctx.WithTimeout(mock, context.Background(), time.Second)
	defer cancelParent()
	ctx, cancel := clockctx.WithTimeout(mock, parent, time.Hour)
	defer cancel()
	if dl, _ := ctx.Deadline(); !dl.Equal(mock.Now().Add(time.Second)) {
		t.Fatalf("Deadline = %v, want the parent's", dl)
	}
	mock.Add(time.Second)
	waitDone(t, ctx)
	if err := ctx.Err(); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Err = %v, want DeadlineExceeded from the parent", err)
	}
}

func TestRealClockIsTheStandardContext(t *testing.T) {
	ctx, cancel := clockctx.WithTimeout(clock.New(), context.Background(), time.Millisecond)
	defer cancel()
	waitDone(t, ctx)
	if err := ctx.Err(); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Err = %v, want DeadlineExceeded", err)
	}
}

// TestErrDuringMockDeadlineIsRaceFree is the regression test for the data
// race clock.Mock.WithTimeout has: polling Err while Mock.Add fires the
// deadline. Run with -race.
func TestErrDuringMockDeadlineIsRaceFree(t *testing.T) {
	mock := clock.NewMock()
	for range 50 {
		ctx, cancel := clockctx.WithTimeout(mock, context.Background(), time.Millisecond)
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
			}
		}()
		mock.Add(time.Millisecond)
		wg.Wait()
		cancel()
	}
}
