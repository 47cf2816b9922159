package attack

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
)

// Case is one hostile datagram (the UDP payload) and what makes it so.
type Case struct {
	Name  string
	Bytes []byte
}

// ISAKMPCorpus returns malformed ISAKMP/GDOI datagrams for UDP port 848,
// every one invalid by RFC 2408/2409/6407, none needing a key: truncations
// at every octet of the header and at every payload boundary, absurd
// header and payload lengths, every payload type with impossible generic
// lengths, every exchange type with cookies of no exchange, payload chains
// thousands long, proposals and transforms that claim more than they
// hold, huge attributes, encrypted bodies that are not whole blocks, and
// plain garbage. The cookies come from seed, so a corpus replays exactly.
//
// A correct target drops each (or answers with a notification), counts
// it, and stays as it was.
func ISAKMPCorpus(seed uint64) []Case {
	rng := rand.New(rand.NewPCG(seed, 0x6765746c6162)) // "getlab"
	cookie := func() [8]byte {
		var c [8]byte
		for c == ([8]byte{}) {
			binary.BigEndian.PutUint64(c[:], rng.Uint64())
		}
		return c
	}
	var cs []Case
	add := func(name string, b []byte) { cs = append(cs, Case{Name: name, Bytes: b}) }

	mm1 := MainMode1(cookie(), DefaultPhase1)
	// Where each part of message 1 starts: header, SA, proposal, transform,
	// first attribute.
	const saOff, propOff, transOff, attrOff = headerLen, headerLen + 12, headerLen + 12 + 8, headerLen + 12 + 8 + 8

	// Shorter than a header: every length 0 to 27.
	for n := 0; n < headerLen; n++ {
		add(fmt.Sprintf("truncated header %d octets", n), clone(mm1[:n]))
	}
	// Cut inside each payload, with the header length fixed to match.
	for _, cut := range []struct {
		name string
		at   int
	}{
		{"header only, SA announced", saOff},
		{"inside SA generic header", saOff + 2},
		{"SA without its proposal", propOff},
		{"inside proposal header", propOff + 3},
		{"proposal without its transform", transOff},
		{"inside transform header", transOff + 5},
		{"inside first attribute", attrOff + 2},
		{"last octet missing", len(mm1) - 1},
	} {
		b := clone(mm1[:cut.at])
		binary.BigEndian.PutUint32(b[24:], uint32(len(b)))
		add("main mode 1 cut: "+cut.name, b)
	}
	// Absurd header lengths.
	for _, l := range []uint32{0, 1, 27, uint32(len(mm1)) - 1, uint32(len(mm1)) + 1, 0x7fffffff, 0xffffffff} {
		b := clone(mm1)
		binary.BigEndian.PutUint32(b[24:], l)
		add(fmt.Sprintf("header length %d of %d", l, len(mm1)), b)
	}
	// Versions no ISAKMP speaks.
	for _, v := range []byte{0x00, 0x20, 0xf0, 0x30} {
		b := clone(mm1)
		b[17] = v
		add(fmt.Sprintf("version %#02x", v), b)
	}
	// Absurd SA payload lengths.
	for _, l := range []uint16{0, 1, 3, 4, 11, 0xffff} {
		b := clone(mm1)
		binary.BigEndian.PutUint16(b[saOff+2:], l)
		add(fmt.Sprintf("SA payload length %d", l), b)
	}
	// A proposal that says it holds 255 transforms, and one that says
	// another proposal follows; a transform whose attributes overrun it.
	{
		b := clone(mm1)
		b[propOff+7] = 255
		add("proposal claims 255 transforms", b)
		b = clone(mm1)
		b[propOff] = payloadProp
		add("proposal claims a next proposal", b)
		b = clone(mm1)
		b[transOff] = payloadTrans
		add("transform claims a next transform", b)
		b = clone(mm1)
		binary.BigEndian.PutUint16(b[propOff+2:], 0xffff)
		add("proposal length 65535", b)
		b = clone(mm1)
		binary.BigEndian.PutUint16(b[transOff+2:], 4)
		add("transform length 4", b)
		b = clone(mm1)
		b[propOff+6] = 200 // SPI size with no SPI
		add("proposal SPI size 200", b)
	}
	// Every payload type first in a message 1 (which a responder parses
	// before it knows anything of the peer), with generic lengths that
	// cannot be.
	types := []uint8{payloadSA, payloadProp, payloadTrans, payloadKE, payloadID, 6, 7, payloadHash, 9, payloadNonce,
		payloadNotify, payloadDelete, payloadVID, 14, payloadSAK, payloadSAT, payloadKD, payloadSEQ, 19, 20, 21, payloadGAP, 23, 128, 255}
	for _, t := range types {
		for _, l := range []uint16{0, 3, 0xffff} {
			body := []byte{0, 0, 0, 0, 1, 2, 3, 4}
			binary.BigEndian.PutUint16(body[2:], l)
			add(fmt.Sprintf("payload type %d length %d", t, l), header(cookie(), [8]byte{}, t, exchMainMode, 0, 0, body))
		}
	}
	// Every exchange type, with cookies that belong to no exchange and a
	// lone vendor ID payload.
	for x := 0; x < 256; x++ {
		vid := payload(nil, payloadNone, []byte("getlab-robustness"))
		add(fmt.Sprintf("exchange %d, unknown cookies", x), header(cookie(), cookie(), payloadVID, uint8(x), 0, rng.Uint32(), vid))
	}
	// Long chains: 4,000 empty vendor IDs; a chain whose last payload
	// names a next payload that is not there.
	{
		var body []byte
		for i := 0; i < 4000; i++ {
			next := uint8(payloadVID)
			if i == 3999 {
				next = payloadNone
			}
			body = payload(body, next, nil)
		}
		add("main mode 1 of 4,000 empty vendor IDs, no SA", header(cookie(), [8]byte{}, payloadVID, exchMainMode, 0, 0, body))
		body = payload(nil, payloadVID, []byte("next"))
		add("chain names a payload that is not there", header(cookie(), [8]byte{}, payloadVID, exchMainMode, 0, 0, body))
		body = payload(nil, payloadSA, mm1[saOff+4:])
		add("SA payload pointing at another SA that is not there", header(cookie(), [8]byte{}, payloadSA, exchMainMode, 0, 0, body))
	}
	// Huge attributes: a variable attribute claiming 65535 octets; 8,000
	// attributes in one transform.
	{
		b := clone(mm1)
		// The life duration is the last attribute: type 12, length 4.
		binary.BigEndian.PutUint16(b[len(b)-6:], 0xffff)
		add("attribute length 65535", b)
		var attrs []byte
		for i := 0; i < 8000; i++ {
			attrs = basicAttr(attrs, uint16(16384+i%1000), uint16(i))
		}
		trans := payload(nil, payloadNone, append([]byte{1, 1, 0, 0}, attrs...))
		prop := payload(nil, payloadNone, append([]byte{1, 1, 0, 1}, trans...))
		sa := append(binary.BigEndian.AppendUint32(nil, doiGDOI), 0, 0, 0, 1)
		add("transform of 8,000 attributes", header(cookie(), [8]byte{}, payloadSA, exchMainMode, 0, 0, payload(nil, payloadNone, append(sa, prop...))))
		b = clone(mm1)
		b[attrOff] &^= 0x80 // basic attribute turned variable, length = its value
		add("basic attribute read as variable", b)
	}
	// Encryption flag with bodies that are not whole cipher blocks, or
	// empty, on each exchange a KS or GM decrypts.
	for _, x := range []uint8{exchMainMode, exchInfo, exchPull, exchPush} {
		for _, n := range []int{0, 1, 15, 17} {
			body := make([]byte, n)
			for i := range body {
				body[i] = byte(rng.Uint32())
			}
			add(fmt.Sprintf("exchange %d encrypted body %d octets", x, n), header(cookie(), cookie(), payloadHash, x, flagEncryption, rng.Uint32()|1, body))
		}
	}
	// Message 1 that is not one: a message ID, a responder cookie, the
	// encryption flag, a DOI nobody speaks.
	{
		b := clone(mm1)
		binary.BigEndian.PutUint32(b[20:], 0xdeadbeef)
		add("main mode 1 with a message ID", b)
		b = clone(mm1)
		copy(b[8:16], []byte("RESPONDR"))
		add("main mode 1 with a responder cookie", b)
		b = clone(mm1)
		b[19] = 0xf8
		add("main mode 1 with undefined flags", b)
		b = clone(mm1)
		binary.BigEndian.PutUint32(b[saOff+4:], 77)
		add("main mode 1 with DOI 77", b)
		b = clone(mm1)
		copy(b[0:8], make([]byte, 8))
		add("main mode 1 with a zero initiator cookie", b)
	}
	// Garbage of every size class.
	for _, n := range []int{1, 28, 100, 1500, 9000, 65000} {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		add(fmt.Sprintf("random %d octets", n), b)
	}
	return cs
}

func clone(b []byte) []byte { return append([]byte(nil), b...) }
