package harness

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"time"
)

// Published is one message a Run published.
type Published struct {
	// Publisher indexes Mesh.Members.
	Publisher int
	// Data is the payload as published; PublishRandom makes each one unique
	// in the run (it starts "m<index>/<publisher>/"), and Collect matches
	// deliveries to publications by it.
	Data []byte
}

// Run builds a Mesh from cfg, runs Exchange and closes the mesh. The error
// is non-nil only when the run could not be carried out (a node failed to
// start, the meshes did not form, a publish failed); whether interop held
// is Result.Err. ctx bounds the JS processes' lives.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	m, err := NewMesh(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer m.Close()
	return m.Exchange(ctx)
}

// Exchange publishes with PublishRandom, waits until every node received
// every message it did not publish (or DeliveryTimeout passes; the Result
// then notes it and carries the JS peers' stderr), and collects the
// Result. DeliveryTime runs from the first publish to the last delivery.
func (m *Mesh) Exchange(ctx context.Context) (*Result, error) {
	start := time.Now()
	pubs, err := m.PublishRandom(ctx)
	if err != nil {
		return nil, fmt.Errorf("%w\n%s", err, m.Stderr())
	}
	waitErr := m.WaitDelivered(ctx, pubs)
	elapsed := time.Since(start)
	res, err := m.Collect(ctx, pubs)
	if err != nil {
		return nil, err
	}
	res.DeliveryTime = elapsed
	if waitErr != nil {
		res.Notes = append(res.Notes, "delivery wait: "+waitErr.Error())
		res.Stderr = m.Stderr()
	}
	return res, nil
}

// PublishRandom publishes Config.Messages messages, one at a time: the
// first from a Go node, the second from a JS peer, the rest from members
// picked at random (seeded). Payloads are unique (a prefix with the index
// and publisher) padded with seeded random bytes to MinPayload..MaxPayload
// bytes; with LargeMessage the third is that large.
func (m *Mesh) PublishRandom(ctx context.Context) ([]Published, error) {
	cfg := m.Config
	rng := rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x5bd1e995))
	var goIdx, jsIdx []int
	for i, mem := range m.Members {
		if mem.Kind == KindGo {
			goIdx = append(goIdx, i)
		} else {
			jsIdx = append(jsIdx, i)
		}
	}
	pubs := make([]Published, 0, cfg.Messages)
	for k := range cfg.Messages {
		var who int
		switch k {
		case 0:
			who = goIdx[rng.IntN(len(goIdx))]
		case 1:
			who = jsIdx[rng.IntN(len(jsIdx))]
		default:
			who = rng.IntN(len(m.Members))
		}
		size := cfg.MinPayload + rng.IntN(cfg.MaxPayload-cfg.MinPayload+1)
		if k == 2 && cfg.LargeMessage > 0 {
			size = cfg.LargeMessage
		}
		data := payload(rng, k, m.Members[who].Name, size)
		pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := m.Members[who].Publish(pctx, cfg.Topic, data)
		cancel()
		if err != nil {
			return pubs, fmt.Errorf("message %d from %s: %w", k, m.Members[who].Name, err)
		}
		pubs = append(pubs, Published{Publisher: who, Data: data})
	}
	cfg.Logf("published %d messages", len(pubs))
	return pubs, nil
}

// payload is "m<k>/<publisher>/" followed by random bytes up to size.
func payload(rng *rand.Rand, k int, publisher string, size int) []byte {
	b := fmt.Appendf(nil, "m%04d/%s/", k, publisher)
	for len(b) < size {
		b = append(b, byte(rng.Uint32()))
	}
	return b
}

// WaitDelivered polls until every member received every message in pubs
// that it did not publish itself, or DeliveryTimeout passes (ErrTimeout).
func (m *Mesh) WaitDelivered(ctx context.Context, pubs []Published) error {
	return poll(ctx, m.Config.DeliveryTimeout, 20*time.Millisecond, func() (bool, error) {
		for i, mem := range m.Members {
			got := mem.Received()
			for _, p := range pubs {
				if p.Publisher == i {
					continue
				}
				if !containsData(got, p.Data) {
					return false, nil
				}
			}
		}
		return true, nil
	})
}

func containsData(rs []Received, data []byte) bool {
	for _, r := range rs {
		if bytes.Equal(r.Data, data) {
			return true
		}
	}
	return false
}
