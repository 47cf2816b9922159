package gdoi

import (
	"bytes"
	"reflect"
	"testing"

	"github.com/getlab/getlab/gateway/wire/internal/wiretest"

	"github.com/getlab/getlab/gateway/wire/isakmp"
)

// hx decodes hex, ignoring white space and "|" separators.
func hx(s string) []byte { return wiretest.Hex(s) }

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
	return wiretest.RoundTrip(t, parse, body, check)
}

func check(p isakmp.Payload) error { return isakmp.CheckPayloads(p) }

// exact checks that body parses to want and that want encodes to body.
func exact(t *testing.T, parse bodyParser, body []byte, want isakmp.Payload) {
	t.Helper()
	wiretest.Exact(t, parse, body, want, check)
}

func wantErr(t *testing.T, err error, kind error, subs ...string) {
	t.Helper()
	wiretest.WantErr(t, err, kind, subs...)
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
