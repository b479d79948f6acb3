package harness

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
)

// WriteReport writes r as a small human-readable report: nodes and links,
// delivery per implementation pair, duplicates, rejections, negotiated
// protocols and grafts, message ids, and the verdict of Err.
func (r *Result) WriteReport(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "meshbus <-> js-libp2p gossipsub interop\n\n")
	fmt.Fprintf(&b, "nodes (%d; meshbus assembly: %s):\n", len(r.Nodes), r.Assembly)
	for _, n := range r.Nodes {
		fmt.Fprintf(&b, "  %s\n", n)
	}
	if len(r.Links) <= 16 {
		fmt.Fprintf(&b, "links (%d, %s): %s\n", len(r.Links), r.Topology, strings.Join(r.Links, ", "))
	} else {
		fmt.Fprintf(&b, "links: %d (%s)\n", len(r.Links), r.Topology)
	}
	fmt.Fprintf(&b, "mesh formed in %v; %d messages delivered in %v\n",
		r.MeshFormed.Round(time.Millisecond), r.Messages, r.DeliveryTime.Round(time.Millisecond))
	fmt.Fprintf(&b, "mesh sizes at the end: meshbus %v, js-libp2p %v\n\n", r.MeshSizes[KindGo], r.MeshSizes[KindJS])

	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "publisher\treceiver\texpected\tdelivered\tratio\tapp duplicates")
	for _, p := range r.Pairs {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%.3f\t%d\n", p.From, p.To, p.Expected, p.Delivered, p.Ratio(), p.Duplicates)
	}
	_ = tw.Flush()

	fmt.Fprintf(&b, "\nwire duplicates (copies received again and dropped, normal in a mesh): meshbus %d, js-libp2p %d\n",
		r.GoWireDuplicates, r.JSWireDuplicates)
	rej := make([]string, 0, len(r.GoRejected))
	for reason, n := range r.GoRejected {
		rej = append(rej, fmt.Sprintf("%s=%d", reason, n))
	}
	sort.Strings(rej)
	if len(rej) == 0 {
		rej = append(rej, "none")
	}
	fmt.Fprintf(&b, "rejected: meshbus %s; js-libp2p invalid %d\n", strings.Join(rej, " "), r.JSInvalid)
	fmt.Fprintf(&b, "message ids (JS peers: %s): %d of %d deliveries carry the spec id from||seqno\n",
		r.MsgID, r.IDChecks-r.IDMismatches, r.IDChecks)
	if r.IDSample != "" {
		fmt.Fprintf(&b, "  e.g. %s\n", r.IDSample)
	}
	gw := r.JSGossipWithGo
	fmt.Fprintf(&b, "gossip: meshbus advertised %d ids to js (IHAVE), js asked for %d (IWANT); js got IWANT for %d ids from meshbus, served %d; meshbus routers sent %d IWANT messages, served %d\n",
		gw.IHaveIDs, gw.IWantAsked, gw.IWantIDs, gw.IWantServed, r.GoIWantSent, r.GoIWantServed)
	fmt.Fprintf(&b, "IDONTWANT (v1.2): js peers got %d ids from meshbus, %d naming messages they saw; meshbus routers accepted %d IDONTWANT messages\n",
		r.JSIDontWantFromGo.IDs, r.JSIDontWantFromGo.Known, r.GoIDontWantRecorded)

	fmt.Fprintf(&b, "\nnegotiated between the implementations: %s\n", strings.Join(r.Protocols(), ", "))
	tw = tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "observer\tpeer\tprotocol\tgrafts\tscore\tpenalties")
	for _, n := range r.Negotiations {
		score := "-"
		if n.Scored {
			score = fmt.Sprintf("%.2f", n.Score)
		}
		pen := "none"
		if len(n.Penalties) > 0 {
			var ps []string
			for reason, x := range n.Penalties {
				ps = append(ps, fmt.Sprintf("%s=%g", reason, x))
			}
			sort.Strings(ps)
			pen = strings.Join(ps, " ")
		}
		fmt.Fprintf(tw, "%s (%s)\t%s\t%s\t%d\t%s\t%s\n", n.Observer, n.ObserverKind, n.Peer, n.Protocol, n.Grafts, score, pen)
	}
	_ = tw.Flush()

	for _, n := range r.Notes {
		fmt.Fprintf(&b, "note: %s\n", n)
	}
	if err := r.Err(); err != nil {
		fmt.Fprintf(&b, "\nFAIL:\n  %s\n", strings.ReplaceAll(err.Error(), "\n", "\n  "))
		if r.Stderr != "" {
			fmt.Fprintf(&b, "\n%s", r.Stderr)
		}
	} else {
		fmt.Fprintf(&b, "\nPASS: every message reached every node exactly once, both ways\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}
