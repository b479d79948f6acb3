package main

import "time"

// defaultScenario: as many attackers as honest nodes, every node opening 5
// connections, 30 messages per phase 300 ms apart, 10 s to settle.
func defaultScenario() scenario {
	return scenario{
		Honest: 300, IHave: 150, Graft: 150, Degree: 5, Seed: 1,
		Messages: 30, Gap: 300 * time.Millisecond, Settle: 10 * time.Second,
	}
}
