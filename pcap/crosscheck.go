package pcap

import (
	"fmt"
	"slices"

	"github.com/getlab/getlab/gateway/wire/gdoi"
	"github.com/getlab/getlab/gateway/wire/isakmp"
)

// TsharkGAPStopsSAChain is the one place where tshark 4.0's GDOI dissector
// is known to read a correct message differently from the RFC: inside a
// GDOI SA it follows the nested chain only from SAK to SAT and from SAT to
// SAT, so a GAP — which RFC 6407 section 5 defines (type 22) as one of the
// payloads a GDOI SA carries, and whose wire form the RFC decides — ends
// tshark's view of the chain. The cross-check compares the nested chain up
// to the first GAP and counts the frames where this applied.
const TsharkGAPStopsSAChain = "tshark 4.0 stops the GDOI SA chain at a GAP (RFC 6407 section 5 defines GAP inside the SA)"

// TsharkCannotDecryptDOI2 is the other: tshark 4.0 learns an IKEv1
// session's cipher and hash only while dissecting an IPsec-DOI phase-1
// transform, so it cannot decrypt anything protected by a phase-1 SA whose
// SA payload has DOI 2, which RFC 6407 section 2.1 has GDOI use (main mode
// messages 5 and 6, GROUPKEY-PULL, Informational), keys or not
// (protocols.md section 6.4). Such frames are compared on the header only,
// and counted.
const TsharkCannotDecryptDOI2 = "tshark 4.0 cannot decrypt IKEv1 on a DOI 2 (GDOI) phase-1 SA"

// ICMPQuotesISAKMP counts ICMP errors quoting an ISAKMP datagram (port
// unreachable while a daemon starts): tshark dissects the quoted message,
// the project's decoder reports the ICMP error; neither is a message on
// the wire, so they are not compared.
const ICMPQuotesISAKMP = "ICMP error quoting an ISAKMP datagram"

// Agreement is the result of a cross-check.
type Agreement struct {
	Compared int // ISAKMP frames both decoders read
	// ESPCompared counts ESP frames both decoders decrypted and compared.
	ESPCompared int
	Mismatches  []string       // one line per disagreement
	Exceptions  map[string]int // known tshark differences applied, by name, with the frames they applied to
}

// CrossCheck compares the project's decoding of a capture with tshark's,
// frame by frame: exchange type, top-level payload types in order, the
// nested SAK/SAT chain of a GDOI SA, and malformed verdicts. Frames the
// project left encrypted are compared on the header only.
func CrossCheck(ours []Packet, theirs []TsharkFrame) Agreement {
	a := Agreement{Exceptions: map[string]int{}}
	byNum := map[int]TsharkFrame{}
	for _, f := range theirs {
		byNum[f.Number] = f
	}
	for _, p := range ours {
		t, ok := byNum[p.Index]
		if !ok {
			a.Mismatches = append(a.Mismatches, fmt.Sprintf("frame %d: tshark did not report it", p.Index))
			continue
		}
		if p.ESP != nil {
			if crossCheckESP(p, t, &a) {
				a.ESPCompared++
			}
			continue
		}
		if p.ISAKMP == nil {
			if t.Exchange >= 0 && p.Proto == "ICMP" {
				a.Exceptions[ICMPQuotesISAKMP]++
				continue
			}
			if t.Exchange >= 0 {
				a.Mismatches = append(a.Mismatches, fmt.Sprintf("frame %d: tshark sees ISAKMP exchange %d, we see %s", p.Index, t.Exchange, p.Proto))
			}
			continue
		}
		a.Compared++
		miss := func(format string, args ...any) {
			a.Mismatches = append(a.Mismatches, fmt.Sprintf("frame %d (%s #%d): ", p.Index, p.ISAKMP.Exchange, p.ISAKMP.Message)+fmt.Sprintf(format, args...))
		}
		if int(p.ISAKMP.Type) != t.Exchange {
			miss("exchange %d, tshark %d", p.ISAKMP.Type, t.Exchange)
		}
		ourBad, theirBad := p.Malformed != "", len(t.Malformed) > 0
		if ourBad != theirBad {
			miss("malformed: ours %q, tshark %q", p.Malformed, t.Malformed)
		}
		if ourBad || p.ISAKMP.Msg == nil || p.ISAKMP.Msg.Encrypted != nil {
			continue
		}
		if p.ISAKMP.Encrypted && len(t.Payloads) == 0 && !theirBad {
			a.Exceptions[TsharkCannotDecryptDOI2]++
			continue
		}
		view, nested, cut := tsharkView(p.ISAKMP.Msg)
		if cut {
			a.Exceptions[TsharkGAPStopsSAChain]++
		}
		if !slices.Equal(view, t.Payloads) {
			miss("payloads %v, tshark %v", view, t.Payloads)
		}
		if !slices.Equal(nested, t.Nested) {
			miss("GDOI SA chain %v, tshark %v", nested, t.Nested)
		}
	}
	return a
}

// crossCheckESP compares an ESP frame: SPI and sequence number always;
// for a packet we decrypted, tshark's ICV verdict, next header, decrypted
// payload and inner IP addresses. It reports whether the decrypted packet
// was compared.
func crossCheckESP(p Packet, t TsharkFrame, a *Agreement) bool {
	miss := func(format string, args ...any) {
		a.Mismatches = append(a.Mismatches, fmt.Sprintf("frame %d (ESP SPI 0x%08x): ", p.Index, p.ESP.SPI)+fmt.Sprintf(format, args...))
	}
	e, te := p.ESP, t.ESP
	if te == nil {
		miss("tshark sees no ESP")
		return false
	}
	if te.SPI != e.SPI || te.Seq != e.Seq {
		miss("SPI/seq 0x%08x/%d, tshark 0x%08x/%d", e.SPI, e.Seq, te.SPI, te.Seq)
	}
	switch {
	case e.DecryptError != "":
		if te.ICV == "good" {
			miss("we could not open it (%s), tshark's ICV check passed", e.DecryptError)
		}
		return false
	case !e.Decrypted:
		return false // no key for this SPI: neither decrypts
	}
	if te.ICV != "good" {
		miss("decrypted by us, tshark ICV %q", te.ICV)
		return false
	}
	if te.NextHeader != int(e.NextHeader) {
		miss("next header %d, tshark %d", e.NextHeader, te.NextHeader)
	}
	if !slices.Equal(te.Contained, e.Payload) {
		miss("decrypted payload differs (%d octets, tshark %d)", len(e.Payload), len(te.Contained))
	}
	if e.InnerSrc.IsValid() {
		if len(t.IPs) < 2 {
			miss("tshark dissected no inner IP header")
		} else if in := t.IPs[1]; in.Src != e.InnerSrc.String() || in.Dst != e.InnerDst.String() || in.DSCP != int(e.InnerDSCP) {
			miss("inner %s > %s dscp %d, tshark %s > %s dscp %d", e.InnerSrc, e.InnerDst, e.InnerDSCP, in.Src, in.Dst, in.DSCP)
		}
	}
	return true
}

// tsharkView is our decoding of m as tshark 4.0 presents it, to compare
// like with like. tshark dissects the first payload nested in a GDOI SA
// inline and every later nested payload it reaches as a payload of its own
// (an isakmp.typepayload item right after the SA's), so view is the
// top-level payload types with those inserted. nested lists the SAK (15)
// and SAT (16) payloads of the GDOI SAs; both stop at a GAP, which tshark
// does not follow (cutAtGAP reports it).
func tsharkView(m *isakmp.Message) (view, nested []int, cutAtGAP bool) {
	for _, p := range m.Payloads {
		view = append(view, int(p.Type()))
		sa, ok := p.(*gdoi.SA)
		if !ok {
			continue
		}
		for i, n := range sa.Payloads {
			t := n.Type()
			if t == isakmp.PayloadGAP {
				cutAtGAP = true
				break
			}
			if t == isakmp.PayloadSAK || t == isakmp.PayloadSAT {
				nested = append(nested, int(t))
			}
			if i > 0 {
				view = append(view, int(t))
			}
		}
	}
	return view, nested, cutAtGAP
}
