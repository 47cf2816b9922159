package pcap

import (
	"strings"
	"testing"

	"github.com/getlab/getlab/gateway/wire/gdoi"
	"github.com/getlab/getlab/gateway/wire/isakmp"
)

// The key-log reader never panics, whatever the file holds.
func FuzzReadKeyLog(f *testing.F) {
	f.Add(sampleLog)
	f.Add("ESP spi=00000001 transform=aes256gcm16 key=00")
	f.Fuzz(func(t *testing.T, s string) {
		kl := &KeyLog{}
		_ = kl.Read(strings.NewReader(s))
	})
}

// The ISAKMP side of the decoder never panics on a UDP 848 payload, with
// keys present so the decryption paths run too.
func FuzzDecodeISAKMP(f *testing.F) {
	f.Add(make([]byte, 28))
	f.Fuzz(func(t *testing.T, b []byte) {
		kl := &KeyLog{}
		_ = kl.Read(strings.NewReader(sampleLog))
		s := newIKEState(kl)
		for range 2 { // twice: the second is a repeat
			p := &Packet{}
			msg, err := isakmp.ParseMessage(b, gdoi.Decoder{})
			s.decode(p, b, msg, err)
		}
	})
}
