package wire

import (
	"errors"
	"fmt"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/meshbus/meshbus/components/router/pb"
)

// Splitting errors.
var (
	// ErrMessageTooLarge: one message alone does not fit in an RPC of the
	// maximum size, so no split can send it.
	ErrMessageTooLarge = errors.New("wire: message larger than the maximum RPC size")
	// ErrEntryTooLarge: a subscription, GRAFT, PRUNE, PREAMBLE or
	// IMRECEIVING entry alone does not fit in an RPC of the maximum size
	// (IHAVE, IWANT and IDONTWANT id lists are cut into pieces instead).
	ErrEntryTooLarge = errors.New("wire: control entry larger than the maximum RPC size")
)

// chokeField is the RPC's field number of meshbus's experimental choke
// extension (pb.ChokeExtension).
const chokeField = 7168611

// fieldSize is the encoded size of one length-delimited field whose payload
// is n bytes (all fields here have numbers below 16: a one-byte tag).
func fieldSize(n int) int { return protowire.SizeTag(1) + protowire.SizeBytes(n) }

// Split returns rpc as a list of RPCs whose encoded sizes are each at most
// maxSize bytes. When rpc already fits, the result is []*pb.RPC{rpc}.
// Otherwise the v1.3 Extensions control message comes first, alone, then
// subscriptions, then control entries, then messages, then gossipsub v1.4
// message fragments, then the partial-messages RPC, alone, then meshbus's
// choke extension RPC, alone;
// each in its original order, packed greedily; IHAVE, IWANT and IDONTWANT
// entries with too many ids are cut into several entries. The parts share the
// entries (and messages) of rpc: treat rpc as read-only afterwards. A message
// or a non-splittable entry that cannot fit even alone is an error
// (ErrMessageTooLarge, ErrEntryTooLarge, wrapped) and nothing is returned:
// the caller decides whether to drop it and retry without it.
func Split(rpc *pb.RPC, maxSize int) ([]*pb.RPC, error) {
	if maxSize <= 0 {
		maxSize = DefaultMaxRPCSize
	}
	if proto.Size(rpc) <= maxSize {
		return []*pb.RPC{rpc}, nil
	}
	s := splitter{max: maxSize}
	// The v1.3 Extensions control message must stay in the first RPC, and
	// the partial-messages RPC cannot be cut: each travels in a part of its
	// own, extensions first, partial last.
	if ext := rpc.GetControl().GetExtensions(); ext != nil {
		if err := s.addCtrl(func(cm *pb.ControlMessage) { cm.Extensions = ext }, proto.Size(ext)); err != nil {
			return nil, err
		}
		s.flush()
	}
	for _, sub := range rpc.GetSubscriptions() {
		if err := s.addTop(sub, proto.Size(sub), ErrEntryTooLarge); err != nil {
			return nil, err
		}
	}
	if c := rpc.GetControl(); c != nil {
		// Largest payload a single control entry may have so that it fits in
		// an otherwise empty RPC: RPC.control field, then the entry field.
		budget := maxSize - 2*(1+protowire.SizeVarint(uint64(maxSize)))
		for _, ih := range c.GetIhave() {
			for _, part := range cutIDs(ih.GetMessageIDs(), proto.Size(&pb.ControlIHave{TopicID: ih.TopicID}), budget) {
				e := &pb.ControlIHave{TopicID: ih.TopicID, MessageIDs: part}
				if len(part) == len(ih.GetMessageIDs()) {
					e = ih
				}
				if err := s.addCtrl(func(cm *pb.ControlMessage) { cm.Ihave = append(cm.Ihave, e) }, proto.Size(e)); err != nil {
					return nil, err
				}
			}
		}
		for _, iw := range c.GetIwant() {
			for _, part := range cutIDs(iw.GetMessageIDs(), 0, budget) {
				e := &pb.ControlIWant{MessageIDs: part}
				if len(part) == len(iw.GetMessageIDs()) {
					e = iw
				}
				if err := s.addCtrl(func(cm *pb.ControlMessage) { cm.Iwant = append(cm.Iwant, e) }, proto.Size(e)); err != nil {
					return nil, err
				}
			}
		}
		for _, g := range c.GetGraft() {
			if err := s.addCtrl(func(cm *pb.ControlMessage) { cm.Graft = append(cm.Graft, g) }, proto.Size(g)); err != nil {
				return nil, err
			}
		}
		for _, p := range c.GetPrune() {
			if err := s.addCtrl(func(cm *pb.ControlMessage) { cm.Prune = append(cm.Prune, p) }, proto.Size(p)); err != nil {
				return nil, err
			}
		}
		for _, d := range c.GetIdontwant() {
			for _, part := range cutIDs(d.GetMessageIDs(), 0, budget) {
				e := &pb.ControlIDontWant{MessageIDs: part}
				if len(part) == len(d.GetMessageIDs()) {
					e = d
				}
				if err := s.addCtrl(func(cm *pb.ControlMessage) { cm.Idontwant = append(cm.Idontwant, e) }, proto.Size(e)); err != nil {
					return nil, err
				}
			}
		}
		// gossipsub v1.4: one id each, so never cut.
		for _, p := range c.GetPreamble() {
			if err := s.addCtrl(func(cm *pb.ControlMessage) { cm.Preamble = append(cm.Preamble, p) }, proto.Size(p)); err != nil {
				return nil, err
			}
		}
		for _, r := range c.GetImreceiving() {
			if err := s.addCtrl(func(cm *pb.ControlMessage) { cm.Imreceiving = append(cm.Imreceiving, r) }, proto.Size(r)); err != nil {
				return nil, err
			}
		}
	}
	for _, m := range rpc.GetPublish() {
		if err := s.addTop(m, proto.Size(m), ErrMessageTooLarge); err != nil {
			return nil, err
		}
	}
	for _, f := range rpc.GetLargeMessageFragments() {
		if err := s.addTop(f, proto.Size(f), ErrEntryTooLarge); err != nil {
			return nil, err
		}
	}
	s.flush()
	if p := rpc.GetPartial(); p != nil {
		if n := protowire.SizeTag(10) + protowire.SizeBytes(proto.Size(p)); n > maxSize {
			return nil, fmt.Errorf("%w: partial-messages RPC of %d bytes, max %d", ErrEntryTooLarge, n, maxSize)
		}
		s.out = append(s.out, &pb.RPC{Partial: p})
	}
	if c := rpc.GetChoke(); c != nil {
		if n := protowire.SizeTag(chokeField) + protowire.SizeBytes(proto.Size(c)); n > maxSize {
			return nil, fmt.Errorf("%w: choke RPC of %d bytes, max %d", ErrEntryTooLarge, n, maxSize)
		}
		s.out = append(s.out, &pb.RPC{Choke: c})
	}
	return s.out, nil
}

// cutIDs cuts ids into consecutive runs whose entry payload (fixed bytes plus
// the id fields) is at most budget. Ids that do not fit even alone end up in
// a run of their own, which the caller then reports as too large.
func cutIDs(ids [][]byte, fixed, budget int) [][][]byte {
	var runs [][][]byte
	start, size := 0, fixed
	for i, id := range ids {
		n := fieldSize(len(id))
		if i > start && size+n > budget {
			runs = append(runs, ids[start:i])
			start, size = i, fixed
		}
		size += n
	}
	return append(runs, ids[start:])
}

// splitter packs entries into RPCs of bounded size.
type splitter struct {
	max  int
	out  []*pb.RPC
	cur  *pb.RPC
	top  int // bytes of subscription and message fields in cur
	ctrl int // payload bytes of cur's control message (0: none)
}

func (s *splitter) size(top, ctrl int) int {
	if ctrl == 0 {
		return top
	}
	return top + fieldSize(ctrl)
}

func (s *splitter) flush() {
	if s.cur != nil {
		s.out = append(s.out, s.cur)
	}
	s.cur, s.top, s.ctrl = nil, 0, 0
}

// addTop adds a subscription, message or fragment whose own encoding is n
// bytes (their field numbers, 1, 2 and 12, all take a one-byte tag).
func (s *splitter) addTop(e proto.Message, n int, tooLarge error) error {
	cost := fieldSize(n)
	if cost > s.max {
		return fmt.Errorf("%w: %d bytes, max %d", tooLarge, cost, s.max)
	}
	if s.cur != nil && s.size(s.top+cost, s.ctrl) > s.max {
		s.flush()
	}
	if s.cur == nil {
		s.cur = new(pb.RPC)
	}
	switch v := e.(type) {
	case *pb.RPC_SubOpts:
		s.cur.Subscriptions = append(s.cur.Subscriptions, v)
	case *pb.Message:
		s.cur.Publish = append(s.cur.Publish, v)
	case *pb.LargeMessageFragment:
		s.cur.LargeMessageFragments = append(s.cur.LargeMessageFragments, v)
	}
	s.top += cost
	return nil
}

// addCtrl adds a control entry whose own encoding is n bytes; add appends it
// to the right list of a control message.
func (s *splitter) addCtrl(add func(*pb.ControlMessage), n int) error {
	cost := fieldSize(n)
	if fieldSize(cost) > s.max {
		return fmt.Errorf("%w: %d bytes, max %d", ErrEntryTooLarge, fieldSize(cost), s.max)
	}
	if s.cur != nil && s.size(s.top, s.ctrl+cost) > s.max {
		s.flush()
	}
	if s.cur == nil {
		s.cur = new(pb.RPC)
	}
	if s.cur.Control == nil {
		s.cur.Control = new(pb.ControlMessage)
	}
	add(s.cur.Control)
	s.ctrl += cost
	return nil
}
