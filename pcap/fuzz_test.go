package pcap

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"

	espwire "github.com/getlab/getlab/gateway/wire/esp"
	"github.com/getlab/getlab/gateway/wire/gdoi"
	"github.com/getlab/getlab/gateway/wire/isakmp"
	"github.com/getlab/getlab/pcap/internal/espseal"
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

// The bench's own ESP decryption never panics on a packet from the wire,
// for any transform (keys known, so every path past the ICV runs only for
// what seals right: a sealed seed of each transform, mutated). What opens
// under an integrity-protected transform is what was sealed.
func FuzzOpenESP(f *testing.F) {
	type keyed struct {
		sa           *espSA
		key, authKey []byte
	}
	var sas []keyed
	for _, tr := range espwire.All() {
		key := bytes.Repeat([]byte{0x5a}, tr.EncKeyLen())
		if tr.ID == espwire.Transform3DES {
			key = unhex(f, "0123456789abcdef 23456789abcdef01 456789abcdef0123")
		}
		authKey := bytes.Repeat([]byte{0xa5}, tr.AuthKeyLen())
		sas = append(sas, keyed{mustSA(f, ESPKeys{Transform: tr, Key: key, AuthKey: authKey}), key, authKey})
		for _, n := range []int{0, 1, 17, 64} {
			p, err := espseal.Seal(tr, key, authKey, 7, 1, bytes.Repeat([]byte{0x3c}, tr.IVLen()), 4, bytes.Repeat([]byte{byte(n)}, n))
			if err != nil {
				f.Fatal(err)
			}
			f.Add(uint8(len(sas)-1), p)
			f.Add(uint8(len(sas)-1), p[:len(p)/2])
		}
	}
	f.Fuzz(func(t *testing.T, which uint8, packet []byte) {
		k := sas[int(which)%len(sas)]
		payload, next, err := k.sa.open(packet)
		if err != nil || k.sa.t.Auth == espwire.AuthNone && !k.sa.t.Combined() {
			return
		}
		// Opened under integrity protection: sealing the result again
		// with the packet's own IV gives the packet back.
		tr := k.sa.t
		iv := packet[espwire.HeaderLen : espwire.HeaderLen+tr.IVLen()]
		again, err := espseal.Seal(tr, k.key, k.authKey, binary.BigEndian.Uint32(packet), binary.BigEndian.Uint32(packet[4:]), iv, next, payload)
		if err != nil || !bytes.Equal(again, packet) {
			t.Fatalf("%v: %x opened to %x (next %d), which seals to %x", tr, packet, payload, next, again)
		}
	})
}

// Reading a capture file never panics, whatever the file holds: pcapng or
// classic pcap, any link type, truncated or garbled.
func FuzzRead(f *testing.F) {
	for _, magic := range [][]byte{{0xa1, 0xb2, 0xc3, 0xd4}, {0xd4, 0xc3, 0xb2, 0xa1}, {0xa1, 0xb2, 0x3c, 0x4d}, {0x0a, 0x0d, 0x0d, 0x0a}} {
		f.Add(append(magic, make([]byte, 60)...))
	}
	// A GDOI message in IPv4 fragments: the reassembly path.
	f.Add(captureOf(f, fragments(f, largestHandbuilt().Bytes, 64)))
	f.Fuzz(func(t *testing.T, b []byte) {
		kl := &KeyLog{}
		_ = kl.Read(strings.NewReader(sampleLog))
		_, _ = Read(bytes.NewReader(b), kl)
	})
}
