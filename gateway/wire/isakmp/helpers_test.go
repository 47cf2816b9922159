package isakmp

import (
	"net/netip"
	"testing"

	"github.com/getlab/getlab/gateway/wire/internal/wiretest"
)

// hx decodes hex, ignoring white space and "|" separators.
func hx(s string) []byte { return wiretest.Hex(s) }

// roundTrip checks, for a body that parses, that it consumed everything,
// that its encoding parses to the same value and re-encodes identically, and
// that the value passes Check. It returns the parsed value (nil on error).
func roundTrip(t testing.TB, parse bodyParser, body []byte) Payload {
	t.Helper()
	return wiretest.RoundTrip(t, parse, body, check)
}

func check(p Payload) error { return CheckPayloads(p) }

// exact checks that body parses to want and that want encodes to body.
func exact(t *testing.T, parse bodyParser, body []byte, want Payload) {
	t.Helper()
	wiretest.Exact(t, parse, body, want, check)
}

// wantErr checks that err matches kind and its text contains each of subs.
func wantErr(t *testing.T, err error, kind error, subs ...string) {
	t.Helper()
	wiretest.WantErr(t, err, kind, subs...)
}

func netipAddr(s string) netip.Addr { return netip.MustParseAddr(s) }
