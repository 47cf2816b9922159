package gdoi

import (
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

// parsePullSA parses a GDOI SA body as GROUPKEY-PULL carries it, offsets
// counted from the body.
func parsePullSA(b []byte, p Profile) (*SA, int, error) {
	return parseSA(isakmp.DecodeContext{Exchange: isakmp.ExchangeGroupkeyPull}, b, 0, p)
}

func saParser(p Profile) bodyParser { return withProfile(parsePullSA, p) }

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
// the same message (wiretest.MessageRoundTrip). It returns the message, nil
// when b does not parse.
func messageRoundTrip(t *testing.T, b []byte, dec isakmp.Decoder) *isakmp.Message {
	t.Helper()
	parse := func(b []byte) (*isakmp.Message, error) { return isakmp.ParseMessage(b, dec) }
	header := func(m *isakmp.Message) isakmp.Header { return m.Header }
	return wiretest.MessageRoundTrip(t, parse, header, b)
}
