package main

import "time"

// defaultScenario is the eclipse attack: 200 honest nodes against 600
// attackers (sybils, IHAVE spammers, graft spammers and invalid senders in
// equal numbers), honest nodes dialing attackers as readily as honest
// peers, publishers sending to their mesh only, and one message per second
// from random honest nodes (the rate DefaultTopicParams expects), for two
// phases of 60 messages.
func defaultScenario() scenario {
	return scenario{
		Honest: 200, Sybil: 150, IHave: 150, Graft: 150, Invalid: 150, Degree: 2,
		AttackerDials: 16, FloodPublish: false, Seed: 1,
		Messages: 60, Gap: time.Second, Settle: 5 * time.Second, Sample: time.Second,
	}
}
