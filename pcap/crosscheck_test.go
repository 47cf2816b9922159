package pcap

import (
	"github.com/getlab/getlab/gateway/wire/isakmp"
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
