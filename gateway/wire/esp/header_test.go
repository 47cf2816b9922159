package esp

import (
	"bytes"
	"errors"
	"testing"
)

func TestHeaderRoundTrip(t *testing.T) {
	h := Header{SPI: 0x0000a5f8, Seq: 0x0000000a}
	b := h.Append([]byte{0xff})
	if want := []byte{0xff, 0, 0, 0xa5, 0xf8, 0, 0, 0, 0x0a}; !bytes.Equal(b, want) {
		t.Fatalf("Append = %x, want %x", b, want)
	}
	got, n, err := ParseHeader(b[1:])
	if err != nil || n != HeaderLen || got != h {
		t.Fatalf("ParseHeader = %+v, %d, %v; want %+v, 8, nil", got, n, err, h)
	}
}

func TestParseHeaderShort(t *testing.T) {
	for l := range HeaderLen {
		_, _, err := ParseHeader(make([]byte, l))
		var pe *ParseError
		if !errors.As(err, &pe) || !errors.Is(err, ErrShort) || pe.Field != "ESP header" || pe.Offset != 0 || pe.Have != l {
			t.Errorf("len %d: err = %v", l, err)
		}
	}
}
