package main

import (
	"bytes"
	"strings"
	"testing"
)

// smallScenario is the default attack at a size the race detector runs in
// seconds: 100 honest nodes against 100 attackers.
func smallScenario() scenario {
	sc := defaultScenario()
	sc.Honest, sc.IHave, sc.Graft = 100, 50, 50
	return sc
}

func TestScoringDefeatsTheAttack(t *testing.T) {
	sc := smallScenario()
	off, err := sc.run(false)
	if err != nil {
		t.Fatal(err)
	}
	on, err := sc.run(true)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("off: delivery %.4f/%.4f, attacker mesh slots %d/%d, rpcs/msg %.2f",
		off.Early.DeliveryRatio, off.Steady.DeliveryRatio, off.AttackerMeshSlots, off.AttackerMeshSlots+off.HonestMeshSlots, off.Steady.RPCsPerDelivered)
	t.Logf("on:  delivery %.4f/%.4f, attacker mesh slots %d/%d, rpcs/msg %.2f, attackers below gossip %d/%d, false positives %d/%d",
		on.Early.DeliveryRatio, on.Steady.DeliveryRatio, on.AttackerMeshSlots, on.AttackerMeshSlots+on.HonestMeshSlots,
		on.Steady.RPCsPerDelivered, on.AttackersBelowGossip, on.AttackerPairs, on.HonestBelowZero, on.HonestPairs)

	// Without scoring the attackers keep their mesh slots and the honest
	// nodes keep paying for their IHAVE spam.
	if off.AttackerMeshSlots == 0 {
		t.Error("without scoring no attacker held a mesh slot: the scenario shows no damage")
	}
	// With scoring: honest delivery holds, attackers are out of every
	// honest mesh and below the gossip threshold everywhere, honest peers
	// are rarely misjudged, and the spam costs less.
	if on.Steady.DeliveryRatio < 0.99 || on.Early.DeliveryRatio < 0.99 {
		t.Errorf("delivery with scoring %.4f early, %.4f steady; want >= 0.99", on.Early.DeliveryRatio, on.Steady.DeliveryRatio)
	}
	if on.AttackerMeshSlots != 0 {
		t.Errorf("%d attacker mesh slots with scoring, want 0", on.AttackerMeshSlots)
	}
	if on.AttackersBelowGossip != on.AttackerPairs {
		t.Errorf("attackers below the gossip threshold: %d of %d", on.AttackersBelowGossip, on.AttackerPairs)
	}
	if on.HonestBelowZero*100 > on.HonestPairs {
		t.Errorf("false positives %d of %d honest pairs, want under 1%%", on.HonestBelowZero, on.HonestPairs)
	}
	if on.Steady.RPCsPerDelivered >= off.Steady.RPCsPerDelivered {
		t.Errorf("RPCs per delivery with scoring %.2f, without %.2f", on.Steady.RPCsPerDelivered, off.Steady.RPCsPerDelivered)
	}
}

func TestDeterministic(t *testing.T) {
	sc := smallScenario()
	sc.Honest, sc.IHave, sc.Graft, sc.Messages = 40, 20, 20, 5
	a, err := sc.run(true)
	if err != nil {
		t.Fatal(err)
	}
	b, err := sc.run(true)
	if err != nil {
		t.Fatal(err)
	}
	if a.AttackerMeshSlots != b.AttackerMeshSlots || a.HonestMeshSlots != b.HonestMeshSlots ||
		a.Steady.Delivered != b.Steady.Delivered || a.Steady.RPCs != b.Steady.RPCs || a.HonestBelowZero != b.HonestBelowZero {
		t.Fatalf("two runs of one seed differ:\n%+v\n%+v", a, b)
	}
}

func TestCommand(t *testing.T) {
	var out, errOut bytes.Buffer
	code := run([]string{"-honest", "40", "-ihave", "20", "-graft", "20", "-messages", "10"}, &out, &errOut)
	if code != 0 || !strings.Contains(out.String(), "PASS") {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out.String(), errOut.String())
	}
	if code := run([]string{"-nope"}, &out, &errOut); code != 2 {
		t.Fatalf("bad flag: exit %d, want 2", code)
	}
}
