package wire

import "testing"

// IDHash is FNV-1a (the published test vectors), and an id held as bytes
// hashes as the same id held as a string.
func TestIDHash(t *testing.T) {
	for _, c := range []struct {
		id   string
		want uint64
	}{
		{"", 0xcbf29ce484222325},
		{"a", 0xaf63dc4c8601ec8c},
		{"foobar", 0x85944171f73967e8},
	} {
		if got := IDHash(c.id); got != c.want {
			t.Errorf("IDHash(%q) = %#x, want %#x", c.id, got, c.want)
		}
		if got := IDHash([]byte(c.id)); got != c.want {
			t.Errorf("IDHash([]byte(%q)) = %#x, want %#x", c.id, got, c.want)
		}
	}
}
