package esp

import (
	"bytes"
	"errors"
	"testing"
)

func TestPadLen(t *testing.T) {
	for _, tc := range []struct{ payload, align, want int }{
		{0, 4, 2}, {1, 4, 1}, {2, 4, 0}, {62, 4, 0}, {48, 4, 2},
		{0, 16, 14}, {14, 16, 0}, {15, 16, 15}, {1400, 16, 6},
		{5, 1, 0}, {5, 0, 0},
	} {
		if got := PadLen(tc.payload, tc.align); got != tc.want {
			t.Errorf("PadLen(%d, %d) = %d, want %d", tc.payload, tc.align, got, tc.want)
		}
	}
}

func TestTrailerRoundTrip(t *testing.T) {
	for _, align := range []int{4, 16} {
		for l := range 40 {
			payload := bytes.Repeat([]byte{0xee}, l)
			tr := Trailer{PadLen: uint8(PadLen(l, align)), NextHeader: NextHeaderIPv4}
			plain := tr.Append(bytes.Clone(payload))
			if len(plain)%align != 0 {
				t.Fatalf("align %d, payload %d: plaintext length %d", align, l, len(plain))
			}
			got, n, err := ParseTrailer(plain)
			if err != nil || got != tr || n != l {
				t.Fatalf("align %d, payload %d: ParseTrailer = %+v, %d, %v", align, l, got, n, err)
			}
		}
	}
	// Extra padding beyond alignment (up to 255 octets) is valid.
	plain := Trailer{PadLen: 255, NextHeader: NextHeaderIPv6}.Append([]byte{1, 2, 3})
	if tr, n, err := ParseTrailer(plain); err != nil || n != 3 || tr.PadLen != 255 || tr.NextHeader != 41 {
		t.Fatalf("255 octets of padding: %+v, %d, %v", tr, n, err)
	}
}

func TestParseTrailerErrors(t *testing.T) {
	for _, tc := range []struct {
		name       string
		plain      []byte
		err        error
		field      string
		off        int
		want, have int
	}{
		{"empty", nil, ErrShort, "ESP trailer", 0, 2, 0},
		{"one octet", []byte{4}, ErrShort, "ESP trailer", 0, 2, 1},
		{"pad length too big", []byte{0xaa, 1, 2, 4, 4}, ErrPadding, "pad length", 3, 3, 4},
		{"pad length 255 alone", []byte{255, 4}, ErrPadding, "pad length", 0, 0, 255},
		{"wrong first pad octet", []byte{0xaa, 0, 2, 3, 3, 4}, ErrPadding, "padding", 1, 1, 0},
		{"wrong last pad octet", []byte{0xaa, 1, 2, 7, 3, 4}, ErrPadding, "padding", 3, 3, 7},
		{"zero padding", []byte{0xaa, 0, 0, 2, 4}, ErrPadding, "padding", 1, 1, 0},
	} {
		_, _, err := ParseTrailer(tc.plain)
		var pe *ParseError
		if !errors.As(err, &pe) || !errors.Is(err, tc.err) || pe.Field != tc.field || pe.Offset != tc.off || pe.Want != tc.want || pe.Have != tc.have {
			t.Errorf("%s: err = %v (%+v)", tc.name, err, pe)
		}
	}
	_, _, err := ParseTrailer([]byte{0xaa, 1, 2, 7, 3, 4})
	if want := "esp: padding at offset 3: bad padding (octet is 0x07, want 0x03)"; err.Error() != want {
		t.Errorf("error text %q, want %q", err, want)
	}
}
