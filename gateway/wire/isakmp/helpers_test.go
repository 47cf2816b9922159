package isakmp

import (
	"bytes"
	"encoding/hex"
	"errors"
	"net/netip"
	"reflect"
	"strings"
	"testing"
)

// hx decodes hex, ignoring white space and "|" separators.
func hx(s string) []byte {
	s = strings.NewReplacer(" ", "", "\n", "", "\t", "", "|", "").Replace(s)
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

// bodyParser parses a payload body, consuming all of it or failing.
type bodyParser func([]byte) (Payload, int, error)

func adapt[T Payload](f func([]byte) (T, int, error)) bodyParser {
	return func(b []byte) (Payload, int, error) {
		p, n, err := f(b)
		if err != nil {
			return nil, 0, err
		}
		return p, n, nil
	}
}

// roundTrip checks, for a body that parses, that it consumed everything,
// that its encoding parses to the same value and re-encodes identically, and
// that the value passes Check. It returns the parsed value (nil on error).
func roundTrip(t testing.TB, parse bodyParser, body []byte) Payload {
	t.Helper()
	p, n, err := parse(body)
	if err != nil {
		return nil
	}
	if n != len(body) {
		t.Fatalf("consumed %d of %d octets", n, len(body))
	}
	enc := p.Append(nil)
	p2, n2, err := parse(enc)
	if err != nil {
		t.Fatalf("re-encoding %x of %#v does not parse: %v", enc, p, err)
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
	if err := CheckPayloads(p); err != nil {
		t.Fatalf("parsed value fails Check: %v", err)
	}
	return p
}

// exact checks that body parses to want and that want encodes to body.
func exact(t *testing.T, parse bodyParser, body []byte, want Payload) {
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
	roundTrip(t, parse, body)
}

// wantErr checks that err matches kind and its text contains each of subs.
func wantErr(t *testing.T, err error, kind error, subs ...string) {
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

func netipAddr(s string) netip.Addr { return netip.MustParseAddr(s) }
