// Package wiretest holds the checks every codec's tests share: hex test
// vectors, round trips of payloads and messages, exact encodings and tables
// of malformed input. It is generic over the payload type so that a codec's
// in-package tests can use it without an import cycle.
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
	p, err := parseAll(t, parse, body)
	if err != nil {
		var zero P
		return zero
	}
	reparse(t, parse, p, p.Append(nil), body)
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
	got, err := parseAll(t, parse, body)
	if err != nil {
		t.Fatalf("parse %x: %v", body, err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("parse:\n got %#v\nwant %#v", got, want)
	}
	if enc := want.Append(nil); !bytes.Equal(enc, body) {
		t.Fatalf("encode:\n got %x\nwant %x", enc, body)
	}
	RoundTrip(t, parse, body, check)
}

// Message is a decoded message: it encodes itself, reports what its wire
// form cannot carry, and prints itself.
type Message interface {
	Encoder
	Check() error
	String() string
}

// MessageRoundTrip is RoundTrip for a whole message, whose Append also sets
// the header fields it derives (next payload, length): for a message that
// parses, it checks that Append leaves the header as parsed (header returns
// it) and writes as many octets as were read, that the encoding parses to
// the same message and re-encodes identically, and that the message passes
// Check and prints. It returns the parsed message, or the zero value when
// b does not parse.
func MessageRoundTrip[M Message, H comparable](t testing.TB, parse func([]byte) (M, error), header func(M) H, b []byte) M {
	t.Helper()
	m, err := parse(b)
	if err != nil {
		var zero M
		return zero
	}
	before := header(m)
	enc := m.Append(nil)
	if after := header(m); after != before {
		t.Fatalf("Append changed a parsed header:\n%+v\n%+v", before, after)
	}
	if len(enc) != len(b) {
		t.Fatalf("re-encoding has %d octets, input %d", len(enc), len(b))
	}
	// A message parser takes the whole buffer or fails.
	whole := func(b []byte) (M, int, error) {
		m, err := parse(b)
		return m, len(b), err
	}
	reparse(t, whole, m, enc, b)
	if err := m.Check(); err != nil {
		t.Fatalf("parsed message fails Check: %v", err)
	}
	_ = m.String()
	return m
}

// parseAll parses b and fails t when a parse that succeeds leaves octets
// over. A parse error is returned for the caller to judge: malformed input
// may fail, a re-encoding must not.
func parseAll[P Encoder](t testing.TB, parse func([]byte) (P, int, error), b []byte) (P, error) {
	t.Helper()
	p, n, err := parse(b)
	if err == nil && n != len(b) {
		t.Fatalf("consumed %d of %d octets of %x", n, len(b), b)
	}
	return p, err
}

// reparse checks that enc, the encoding of p as parsed from body, parses
// to the same value and encodes again to the same octets.
func reparse[P Encoder](t testing.TB, parse func([]byte) (P, int, error), p P, enc, body []byte) {
	t.Helper()
	p2, err := parseAll(t, parse, enc)
	if err != nil {
		t.Fatalf("re-encoding %x of %#v does not parse: %v\ninput %x", enc, p, err, body)
	}
	if !reflect.DeepEqual(p, p2) {
		t.Fatalf("round trip changed the value:\n%#v\n%#v", p, p2)
	}
	if enc2 := p2.Append(nil); !bytes.Equal(enc, enc2) {
		t.Fatalf("second encoding differs:\n%x\n%x", enc, enc2)
	}
}

// ErrCase is malformed input and the error it must give.
type ErrCase struct {
	Name string
	Body string // hex, as Hex reads it
	Kind error  // the sentinel error it matches
	Msg  string // text it contains
}

// Errors runs each case as a subtest: parse must fail on the case's body
// with the case's error (see WantErr).
func Errors[P any](t *testing.T, parse func([]byte) (P, int, error), cases []ErrCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			_, _, err := parse(Hex(c.Body))
			WantErr(t, err, c.Kind, c.Msg)
		})
	}
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
