package pcap

import (
	"github.com/getlab/getlab/gateway/wire/isakmp"
	"net/netip"
	"path/filepath"
	"testing"

	"github.com/getlab/getlab/pcap/handbuilt"
)

func writeUDPCapture(t *testing.T, msgs []handbuilt.Message) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "handbuilt.pcapng")
	if err := handbuilt.WriteCapture(path, msgs); err != nil {
		t.Fatal(err)
	}
	return path
}

// Our decoder reads every hand-built message as built: exchange, position
// in its exchange and payload layout.
func TestDecodeHandbuilt(t *testing.T) {
	msgs := handbuilt.Messages()
	pkts, err := ReadFile(writeUDPCapture(t, msgs), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(pkts) != len(msgs) {
		t.Fatalf("%d packets, want %d", len(pkts), len(msgs))
	}
	wantPos := []int{1, 2, 3, 4, 5, 6, 1, 2, 3, 4, 1, 1, 1}
	for i, p := range pkts {
		if p.Malformed != "" || p.ISAKMP == nil {
			t.Fatalf("%s: %+v", msgs[i].Name, p)
		}
		if p.ISAKMP.Layout != msgs[i].Layout || p.ISAKMP.Message != wantPos[i] {
			t.Errorf("%s: decoded as #%d %s, want #%d %s", msgs[i].Name, p.ISAKMP.Message, p.ISAKMP.Layout, wantPos[i], msgs[i].Layout)
		}
	}
	if seq := pkts[9].ISAKMP.SEQ; seq == nil || *seq != 1 {
		t.Errorf("PULL 4 SEQ = %v", seq)
	}
}

// tshark and our decoder agree frame by frame on the hand-built messages,
// which carry every payload type; the only difference allowed is the named
// tshark 4.0 limitation, and it must actually have been exercised.
func TestCrossCheckHandbuilt(t *testing.T) {
	path := writeUDPCapture(t, handbuilt.Messages())
	theirs, err := Tshark(path)
	if err == ErrNoTshark {
		t.Skip(err.Error())
	}
	if err != nil {
		t.Fatal(err)
	}
	ours, err := ReadFile(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	a := CrossCheck(ours, theirs)
	for _, m := range a.Mismatches {
		t.Error(m)
	}
	if a.Compared != len(ours) {
		t.Errorf("compared %d of %d frames", a.Compared, len(ours))
	}
	if a.Exceptions[TsharkGAPStopsSAChain] != 1 {
		t.Errorf("exceptions %v: the GAP in GROUPKEY-PULL 2 should be the only one", a.Exceptions)
	}
}

// A cross-check that cannot fail proves nothing: a damaged frame must show.
func TestCrossCheckFindsDisagreement(t *testing.T) {
	msgs := handbuilt.Messages()[7:8] // GROUPKEY-PULL 2
	path := writeUDPCapture(t, msgs)
	theirs, err := Tshark(path)
	if err == ErrNoTshark {
		t.Skip(err.Error())
	}
	if err != nil {
		t.Fatal(err)
	}
	ours, err := ReadFile(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	msg := ours[0].ISAKMP.Msg
	msg.Payloads = msg.Payloads[1:] // pretend we missed HASH
	if a := CrossCheck(ours, theirs); len(a.Mismatches) == 0 {
		t.Errorf("a payload list that differs from tshark's was not reported")
	}
}

// A frame we decrypted and tshark could not (a DOI 2 phase-1 SA) is
// excused by name; a frame tshark decrypted differently is not.
func TestCrossCheckDOI2Exception(t *testing.T) {
	msg := &isakmp.Message{Payloads: []isakmp.Payload{&isakmp.Hash{Data: []byte{1}}}}
	ours := []Packet{{Index: 1, Proto: "ISAKMP", ISAKMP: &ISAKMPInfo{Type: 32, Encrypted: true, Decrypted: true, Msg: msg}}}
	a := CrossCheck(ours, []TsharkFrame{{Number: 1, Exchange: 32}})
	if len(a.Mismatches) != 0 || a.Exceptions[TsharkCannotDecryptDOI2] != 1 {
		t.Errorf("undecrypted by tshark: %+v", a)
	}
	a = CrossCheck(ours, []TsharkFrame{{Number: 1, Exchange: 32, Payloads: []int{8, 10}}})
	if len(a.Mismatches) != 1 {
		t.Errorf("decrypted differently by tshark: %+v", a)
	}
}

// The ESP comparison reports each way tshark can disagree with a packet we
// decrypted, and nothing when it agrees.
func TestCrossCheckESP(t *testing.T) {
	inner := []byte{0x45, 0xb8, 0, 20, 0, 0, 0, 0, 63, 17, 0, 0, 198, 51, 100, 10, 203, 0, 113, 10}
	ours := Packet{Index: 7, ESP: &ESPInfo{SPI: 0x1234, Seq: 9, Decrypted: true, NextHeader: 4, Payload: inner,
		InnerSrc: netip.MustParseAddr("198.51.100.10"), InnerDst: netip.MustParseAddr("203.0.113.10"), InnerDSCP: 46}}
	agree := TsharkFrame{Number: 7, Exchange: -1,
		ESP: &TsharkESP{SPI: 0x1234, Seq: 9, ICV: "good", NextHeader: 4, Contained: inner},
		IPs: []TsharkIP{{Src: "198.51.100.10", Dst: "203.0.113.10", DSCP: 46}, {Src: "198.51.100.10", Dst: "203.0.113.10", DSCP: 46}}}
	if a := CrossCheck([]Packet{ours}, []TsharkFrame{agree}); len(a.Mismatches) != 0 || a.ESPCompared != 1 {
		t.Fatalf("agreeing frame: %+v", a)
	}
	for name, mutate := range map[string]func(f *TsharkFrame){
		"SPI":          func(f *TsharkFrame) { f.ESP.SPI++ },
		"sequence":     func(f *TsharkFrame) { f.ESP.Seq++ },
		"ICV bad":      func(f *TsharkFrame) { f.ESP.ICV = "bad" },
		"next header":  func(f *TsharkFrame) { f.ESP.NextHeader = 41 },
		"payload":      func(f *TsharkFrame) { f.ESP.Contained = append([]byte{1}, inner[1:]...) },
		"inner source": func(f *TsharkFrame) { f.IPs[1].Src = "198.51.100.11" },
		"inner DSCP":   func(f *TsharkFrame) { f.IPs[1].DSCP = 0 },
		"no ESP":       func(f *TsharkFrame) { f.ESP = nil },
	} {
		f := agree
		e := *agree.ESP
		f.ESP = &e
		f.IPs = append([]TsharkIP(nil), agree.IPs...)
		mutate(&f)
		if a := CrossCheck([]Packet{ours}, []TsharkFrame{f}); len(a.Mismatches) == 0 {
			t.Errorf("%s: disagreement not reported", name)
		}
	}
}
