package gdoi

import (
	"bytes"
	"encoding/hex"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/getlab/getlab/gateway/wire/isakmp"
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

type bodyParser func([]byte) (isakmp.Payload, int, error)

func adapt[T isakmp.Payload](f func([]byte) (T, int, error)) bodyParser {
	return func(b []byte) (isakmp.Payload, int, error) {
		p, n, err := f(b)
		if err != nil {
			return nil, 0, err
		}
		return p, n, nil
	}
}

func withProfile[T isakmp.Payload](f func([]byte, Profile) (T, int, error), p Profile) bodyParser {
	return adapt(func(b []byte) (T, int, error) { return f(b, p) })
}

func saParser(p Profile) bodyParser {
	return adapt(func(b []byte) (*SA, int, error) {
		return parseSA(isakmp.DecodeContext{Exchange: isakmp.ExchangeGroupkeyPull}, b, 0, p)
	})
}

// roundTrip checks, for a body that parses, that its encoding parses to the
// same value and re-encodes identically, and that the value passes Check.
func roundTrip(t testing.TB, parse bodyParser, body []byte) isakmp.Payload {
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
		t.Fatalf("re-encoding %x does not parse: %v\nvalue %#v\ninput %x", enc, err, p, body)
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
	if err := isakmp.CheckPayloads(p); err != nil {
		t.Fatalf("parsed value fails Check: %v", err)
	}
	return p
}

// exact checks that body parses to want and that want encodes to body.
func exact(t *testing.T, parse bodyParser, body []byte, want isakmp.Payload) {
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

// messageRoundTrip: a message that parses re-encodes to octets that parse to
// the same message.
func messageRoundTrip(t *testing.T, b []byte, dec isakmp.Decoder) *isakmp.Message {
	t.Helper()
	m, err := isakmp.ParseMessage(b, dec)
	if err != nil {
		return nil
	}
	before := m.Header
	enc := m.Append(nil)
	if m.Header != before {
		t.Fatalf("Append changed a parsed header:\n%+v\n%+v", before, m.Header)
	}
	if len(enc) != len(b) {
		t.Fatalf("re-encoding has %d octets, input %d", len(enc), len(b))
	}
	m2, err := isakmp.ParseMessage(enc, dec)
	if err != nil {
		t.Fatalf("re-encoding does not parse: %v\n%x\n%x", err, b, enc)
	}
	if !reflect.DeepEqual(m, m2) {
		t.Fatalf("round trip changed the message:\n%#v\n%#v", m, m2)
	}
	if enc2 := m2.Append(nil); !bytes.Equal(enc, enc2) {
		t.Fatal("second encoding differs")
	}
	if err := m.Check(); err != nil {
		t.Fatal(err)
	}
	_ = m.String()
	return m
}
