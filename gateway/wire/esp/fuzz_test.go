package esp

import (
	"bytes"
	"errors"
	"testing"
)

var all = All()

// FuzzSplit feeds arbitrary packets to Split for every transform: no panic,
// errors are *ParseError, and a split covers the input exactly.
func FuzzSplit(f *testing.F) {
	f.Add(gcmPacket, uint8(0))
	f.Add(gcmPacket[:20], uint8(9))
	f.Add(make([]byte, 24+32+12), uint8(9))
	f.Add([]byte{}, uint8(24))
	f.Fuzz(func(t *testing.T, b []byte, sel uint8) {
		tr := all[int(sel)%len(all)]
		p, err := tr.Split(b)
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) || pe.Offset < 0 || pe.Offset > len(b) {
				t.Fatalf("%v: bad error %v", tr, err)
			}
			return
		}
		if len(p.IV) != tr.IVLen() || len(p.ICV) != tr.ICVLen() || len(p.Ciphertext)%tr.BlockSize() != 0 {
			t.Fatalf("%v: field lengths %d, %d, %d", tr, len(p.IV), len(p.Ciphertext), len(p.ICV))
		}
		re := p.Header.Append(nil)
		re = append(append(append(re, p.IV...), p.Ciphertext...), p.ICV...)
		if !bytes.Equal(re, b) {
			t.Fatalf("%v: fields do not reassemble the packet", tr)
		}
	})
}

// FuzzParseTrailer: no panic; a parsed trailer appended to the payload gives
// the input back.
func FuzzParseTrailer(f *testing.F) {
	f.Add([]byte{0xaa, 1, 2, 2, 4})
	f.Add([]byte{1, 2, 3, 4, 5, 6, 7, 7, 41})
	f.Add([]byte{9, 4})
	f.Fuzz(func(t *testing.T, plain []byte) {
		tr, n, err := ParseTrailer(plain)
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) || pe.Offset < 0 || pe.Offset > len(plain) {
				t.Fatalf("bad error %v", err)
			}
			return
		}
		if re := tr.Append(bytes.Clone(plain[:n])); !bytes.Equal(re, plain) {
			t.Fatalf("re-append %x != %x", re, plain)
		}
	})
}
