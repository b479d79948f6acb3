package main

import "time"

// defaultScenario is the eclipse attack: 200 honest nodes against 600
// attackers (sybils, IHAVE spammers, graft spammers and invalid senders in
// equal numbers). Each honest node dials 3 honest nodes and 20 attackers
// (discovery that hands out mostly sybils), and each attacker dials 3
// honest nodes, so an honest node has about 6 honest and 29 attacker
// peers. Publishers send to their mesh only (FloodPublish off), one message
// per second from random honest nodes (the rate DefaultTopicParams
// expects), for two phases of 60 messages.
func defaultScenario() scenario {
	return scenario{
		Honest: 200, Sybil: 150, IHave: 150, Graft: 150, Invalid: 150, Degree: 3,
		AttackerDials: 20, FloodPublish: false, Seed: 1,
		Messages: 60, Gap: time.Second, Settle: 5 * time.Second, Sample: time.Second,
	}
}
