package handbuilt

import (
	"bytes"
	"testing"

	"github.com/getlab/getlab/gateway/wire/gdoi"
	"github.com/getlab/getlab/gateway/wire/isakmp"
)

// Every message decodes to its layout and re-encodes to the same bytes,
// and the corpus covers every payload type the codecs decode.
func TestCorpus(t *testing.T) {
	seen := map[isakmp.PayloadType]bool{}
	for _, m := range Messages() {
		msg, err := gdoi.ParseMessage(m.Bytes, gdoi.ProfileRFC)
		if err != nil {
			t.Fatalf("%s: %v", m.Name, err)
		}
		if got := msg.Layout(); got != m.Layout {
			t.Errorf("%s: layout %q, want %q", m.Name, got, m.Layout)
		}
		if again := msg.Append(nil); !bytes.Equal(again, m.Bytes) {
			t.Errorf("%s: re-encoding differs", m.Name)
		}
		for _, pt := range isakmp.Types(msg.Payloads) {
			seen[pt] = true
		}
	}
	for _, want := range []isakmp.PayloadType{
		isakmp.PayloadSA, isakmp.PayloadProposal, isakmp.PayloadTransform, isakmp.PayloadKE, isakmp.PayloadID,
		isakmp.PayloadCert, isakmp.PayloadCR, isakmp.PayloadHash, isakmp.PayloadSig, isakmp.PayloadNonce,
		isakmp.PayloadNotification, isakmp.PayloadDelete, isakmp.PayloadVendorID,
		isakmp.PayloadSAK, isakmp.PayloadSAT, isakmp.PayloadKD, isakmp.PayloadSEQ, isakmp.PayloadGAP,
	} {
		if !seen[want] {
			t.Errorf("no message carries a %s payload", want)
		}
	}
}
