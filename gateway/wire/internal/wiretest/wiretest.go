// Package wiretest holds the checks every codec's tests share: hex test
// vectors, round trips and exact encodings. It is generic over the payload
// type so that a codec's in-package tests can use it without an import
// cycle.
package wiretest

import (
	"bytes"
	"encoding/hex"
	"errors"
	"reflect"
	"strings"
	"testing"
)

// Encoder is a decoded value that encodes itself.
type Encoder interface{ Append(b []byte) []byte }

// Hex decodes hex, ignoring white space and "|" separators.
func Hex(s string) []byte {
	s = strings.NewReplacer(" ", "", "\n", "", "\t", "", "|", "").Replace(s)
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

// RoundTrip checks, for a body that parses, that parsing consumed all of
// it, that its encoding parses to the same value and re-encodes identically,
// and that the value passes check. It returns the parsed value, or the zero
// value when body does not parse.
func RoundTrip[P Encoder](t testing.TB, parse func([]byte) (P, int, error), body []byte, check func(P) error) P {
	t.Helper()
	var zero P
	p, n, err := parse(body)
	if err != nil {
		return zero
	}
	if n != len(body) {
		t.Fatalf("consumed %d of %d octets", n, len(body))
	}
	enc := p.Append(nil)
	p2, n2, err := parse(enc)
	if err != nil {
		t.Fatalf("re-encoding %x of %#v does not parse: %v\ninput %x", enc, p, err, body)
	}
	if n2 != len(enc) {
		t.Fatalf("re-encoding: consumed %d of %d octets", n2, len(enc))
	}
	if !reflect.DeepEqual(p, p2) {
		t.Fatalf("round trip changed the value:\n%#v\n%#v", p, p2)
	}
	if enc2 := p2.Append(nil); !bytes.Equal(enc, enc2) {
		t.Fatalf("second encoding differs:\n%x\n%x", enc, enc2)
	}
	if check != nil {
		if err := check(p); err != nil {
			t.Fatalf("parsed value fails Check: %v", err)
		}
	}
	return p
}

// Exact checks that body parses to want and that want encodes to body,
// then RoundTrip.
func Exact[P Encoder](t testing.TB, parse func([]byte) (P, int, error), body []byte, want P, check func(P) error) {
	t.Helper()
	got, n, err := parse(body)
	if err != nil {
		t.Fatalf("parse %x: %v", body, err)
	}
	if n != len(body) {
		t.Fatalf("consumed %d of %d octets", n, len(body))
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("parse:\n got %#v\nwant %#v", got, want)
	}
	if enc := want.Append(nil); !bytes.Equal(enc, body) {
		t.Fatalf("encode:\n got %x\nwant %x", enc, body)
	}
	RoundTrip(t, parse, body, check)
}

// WantErr checks that err matches kind (when not nil) and that its text
// contains each of subs.
func WantErr(t testing.TB, err error, kind error, subs ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want %v", kind)
	}
	if kind != nil && !errors.Is(err, kind) {
		t.Errorf("error %q does not match %v", err, kind)
	}
	for _, s := range subs {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not contain %q", err, s)
		}
	}
}
