package tracemark

import "testing"

// Parse reads back what Log writes and refuses anything else.
func TestParse(t *testing.T) {
	for msg, want := range map[string]struct {
		mark string
		i    int
		ok   bool
	}{
		Publish + " 0":  {Publish, 0, true},
		Median + " 417": {Median, 417, true},
		"median":        {"", 0, false},
		"median x":      {"", 0, false},
		"median -1":     {"", 0, false},
		"":              {"", 0, false},
	} {
		mark, i, ok := Parse(msg)
		if mark != want.mark || i != want.i || ok != want.ok {
			t.Errorf("Parse(%q) = %q, %d, %v; want %q, %d, %v", msg, mark, i, ok, want.mark, want.i, want.ok)
		}
	}
}

// Without a trace being recorded, Log does nothing and allocates nothing.
func TestLogWithoutTrace(t *testing.T) {
	if a := testing.AllocsPerRun(100, func() { Log(Median, 12345) }); a != 0 {
		t.Fatalf("Log allocated %.1f times per call with no trace recording", a)
	}
}
