package traffic

import (
	"bytes"
	"testing"
)

func TestHeaderRoundTrip(t *testing.T) {
	h := Header{StreamID: 0xdeadbeef, Seq: 1<<40 + 7, SentAt: -5}
	b := h.Append([]byte{0xff})
	if len(b) != 1+HeaderLen {
		t.Fatalf("Append: %d bytes, want %d", len(b), 1+HeaderLen)
	}
	got, n, err := ParseHeader(append(b[1:], 0, 0, 0)) // with padding
	if err != nil || n != HeaderLen || got != h {
		t.Fatalf("ParseHeader = %+v, %d, %v; want %+v, %d, nil", got, n, err, h, HeaderLen)
	}
}

func TestParseHeaderRejects(t *testing.T) {
	good := Header{StreamID: 1, Seq: 2, SentAt: 3}.Append(nil)
	bad := bytes.Clone(good)
	bad[0] ^= 1
	for name, b := range map[string][]byte{
		"empty":     nil,
		"short":     good[:HeaderLen-1],
		"bad magic": bad,
	} {
		if h, n, err := ParseHeader(b); err == nil {
			t.Errorf("%s: ParseHeader = %+v, %d, nil; want an error", name, h, n)
		}
	}
}

func FuzzParseHeader(f *testing.F) {
	f.Add(Header{StreamID: 1, Seq: 2, SentAt: 3}.Append(nil))
	f.Add(Header{StreamID: 0xffffffff, Seq: ^uint64(0), SentAt: -1}.Append(make([]byte, 0, 64))[:HeaderLen])
	f.Add([]byte("GLTP"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		h, n, err := ParseHeader(b)
		if err != nil {
			if n != 0 || h != (Header{}) {
				t.Fatalf("error %v with %+v, %d", err, h, n)
			}
			return
		}
		if n != HeaderLen || n > len(b) {
			t.Fatalf("used %d of %d bytes", n, len(b))
		}
		if re := h.Append(nil); !bytes.Equal(re, b[:n]) {
			t.Fatalf("re-encoded %x, input %x", re, b[:n])
		}
	})
}
