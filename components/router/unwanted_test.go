package router

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// The ring answers exactly as a plain list of the last unwantedCap hashes
// with forgotten ones removed, whatever the hashes' buckets: random adds
// (many sharing a bucket, some repeated, some 0), lookups and forgets,
// checked against that model after every step.
func TestUnwantedMatchesModel(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var u unwanted
	var model []uint64 // every hash added, in order; forgotten ones set to 0 (kept as 1 for a hash of 0)
	pick := func() uint64 {
		switch rng.IntN(4) {
		case 0:
			return 0 // kept as 1
		case 1:
			return uint64(rng.IntN(8)) * unwantedBuckets // one bucket
		default:
			return rng.Uint64N(3 * unwantedCap)
		}
	}
	in := func(h uint64) bool {
		k := unwantedKey(h)
		return slices.Contains(model[max(0, len(model)-unwantedCap):], k)
	}
	for step := range 20000 {
		switch rng.IntN(3) {
		case 0:
			hs := make([]uint64, 1+rng.IntN(4))
			for i := range hs {
				hs[i] = pick()
				model = append(model, unwantedKey(hs[i]))
			}
			u.add(hs...)
		case 1:
			h := pick()
			u.forget(h)
			k := unwantedKey(h)
			for i := max(0, len(model)-unwantedCap); i < len(model); i++ {
				if model[i] == k {
					model[i] = 0
				}
			}
		}
		h := pick()
		if got, want := u.has(h), in(h); got != want {
			t.Fatalf("step %d: has(%d) = %v, want %v", step, h, got, want)
		}
	}
	// The bucket counts are exactly the ring's contents.
	var want unwantedRing
	for _, k := range u.ring.hs {
		if k != 0 {
			*want.bucket(k)++
		}
	}
	if want.counts != u.ring.counts {
		t.Fatal("bucket counts drifted from the ring's contents")
	}
}

// An empty ring, and one never added to, withholds nothing.
func TestUnwantedEmpty(t *testing.T) {
	var u unwanted
	u.forget(5)
	if u.has(0) || u.has(5) {
		t.Fatal("an empty ring has a hash")
	}
	u.add()
	if u.ring != nil {
		t.Fatal("adding nothing allocated the ring")
	}
}

// BenchmarkUnwanted measures a full ring's costs: a lookup that misses
// (the common case: a copy the peer did not decline) and an add.
func BenchmarkUnwanted(b *testing.B) {
	var u unwanted
	for i := range unwantedCap {
		u.add(uint64(i)*0x9e3779b97f4a7c15 + 1)
	}
	b.Run("has-miss", func(b *testing.B) {
		h := uint64(12345)
		for b.Loop() {
			if u.has(h) {
				b.Fatal("hit")
			}
			h += 2
		}
	})
	b.Run("add", func(b *testing.B) {
		h := uint64(1)
		for b.Loop() {
			u.add(h * 0x9e3779b97f4a7c15)
			h++
		}
	})
}
