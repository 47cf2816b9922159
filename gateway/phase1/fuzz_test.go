package phase1

import (
	"encoding/binary"
	"testing"

	"github.com/getlab/getlab/gateway/internal/testnet"
	"github.com/getlab/getlab/gateway/wire/isakmp"
)

// FuzzInformational hands the layer Informationals on an SA it holds,
// probing it (DPD on): whatever the bytes after the header, nothing
// panics, the SA stays, and the probe state stays sane.
func FuzzInformational(f *testing.F) {
	p := newPair(f, 1, seeds)
	sa := p.mainMode()
	ksSA := only(f, p.ks.l)
	c := sa.Cookies()
	f.Add(ksSA.RUThereAck(1))
	f.Add(ksSA.RUThere(7))
	f.Add(ksSA.Notify(isakmp.NotifyInvalidIDInformation, c[:], []byte("x")))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) < isakmp.HeaderLen {
			b = append(b, make([]byte, isakmp.HeaderLen-len(b))...)
		}
		// Ours: the SA's cookies, an Informational, a length that holds;
		// the flags, message ID and body are the fuzzer's.
		copy(b[0:16], c[:])
		b[16], b[18] = 0x10, byte(isakmp.ExchangeInformational)
		binary.BigEndian.PutUint32(b[24:], uint32(len(b)))
		h, _, err := isakmp.ParseHeader(b)
		if err != nil {
			return
		}
		p.gm.l.Informational(testnet.KS(1), h, b)
		if p.gm.l.Get(c) == nil {
			t.Fatal("an Informational removed the SA")
		}
		if e := p.gm.l.sas[c]; e.dpd == nil || e.dpd.unanswered < 0 || e.dpd.unanswered > deadAfter {
			t.Fatalf("probe state %+v", e.dpd)
		}
	})
}
