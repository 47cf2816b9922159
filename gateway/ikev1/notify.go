package ikev1

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/getlab/getlab/gateway/wire/isakmp"
)

// NotifyError is a main mode failure with the notify type that names it
// (RFC 2408 §3.14.1): the type this side sent (or would send) to the peer,
// or, with FromPeer set, the type the peer sent in a plaintext
// Informational, so that a daemon can log "KS said AUTHENTICATION-FAILED".
type NotifyError struct {
	Type isakmp.NotifyType
	// Reason says what was wrong, with the message it concerns
	// ("main mode msg 5: HASH_I does not verify").
	Reason string
	// FromPeer is true when the peer sent the notification.
	FromPeer bool
	// Err is the underlying error, if any.
	Err error
}

func (e *NotifyError) Error() string {
	if e.FromPeer {
		return fmt.Sprintf("ikev1: %s: peer sent %s", e.Reason, e.Type)
	}
	return fmt.Sprintf("ikev1: %s (%s)", e.Reason, e.Type)
}

func (e *NotifyError) Unwrap() error { return e.Err }

// ParseNotify returns the first Notification payload of a plaintext
// Informational exchange (how main mode failures are reported before any
// key is shared), or false if pkt is not one.
func ParseNotify(pkt []byte) (*isakmp.Notification, bool) {
	m, err := isakmp.ParseMessage(pkt, nil)
	if err != nil || m.Header.Exchange != isakmp.ExchangeInformational || m.Header.Flags&isakmp.FlagEncryption != 0 {
		return nil, false
	}
	for _, p := range m.Payloads {
		if n, ok := p.(*isakmp.Notification); ok {
			return n, true
		}
	}
	return nil, false
}

// plainNotify builds the plaintext Informational exchange that tells the
// peer why main mode failed: no E flag (neither side can be sure of shared
// keys yet), a random non-zero message ID, the exchange's cookies, and one
// Notification with protocol ISAKMP and the 16 cookie octets as SPI
// (RFC 2408 §3.14, §4.8).
func plainNotify(r io.Reader, icky, rcky [8]byte, doi uint32, t isakmp.NotifyType) ([]byte, error) {
	mid, err := randomMessageID(r)
	if err != nil {
		return nil, err
	}
	h := isakmp.Header{ICookie: icky, RCookie: rcky, Exchange: isakmp.ExchangeInformational, MessageID: mid}
	c := h.Cookies()
	m := &isakmp.Message{Header: h, Payloads: []isakmp.Payload{&isakmp.Notification{
		DOI: doi, ProtocolID: isakmp.ProtoISAKMP, MessageType: t, SPI: c[:],
	}}}
	return m.Append(nil), nil
}

// randomMessageID reads a random non-zero message ID from r.
func randomMessageID(r io.Reader) (uint32, error) {
	var b [4]byte
	for range 16 { // a broken source must not hang us
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return 0, fmt.Errorf("ikev1: message ID: %w", err)
		}
		if id := binary.BigEndian.Uint32(b[:]); id != 0 {
			return id, nil
		}
	}
	return 0, errZeroRandom
}

// randomCookie reads a random non-zero cookie from r.
func randomCookie(r io.Reader) ([8]byte, error) {
	var c [8]byte
	for range 16 {
		if _, err := io.ReadFull(r, c[:]); err != nil {
			return c, fmt.Errorf("ikev1: cookie: %w", err)
		}
		if c != [8]byte{} {
			return c, nil
		}
	}
	return c, errZeroRandom
}

var errZeroRandom = errors.New("ikev1: random source returns only zeros")

// InvalidCookie builds the plaintext Informational that answers a message
// for an ISAKMP SA this side does not know (RFC 2408 §3.14.1
// INVALID-COOKIE): the received header's cookies, so that the peer can
// tell which of its SAs is gone. It is unauthenticated (there is no key to
// protect it with), 56 octets, and a peer may only take it as a hint.
func InvalidCookie(received isakmp.Header) []byte {
	b, err := plainNotify(rand.Reader, received.ICookie, received.RCookie, isakmp.DOIGDOI, isakmp.NotifyInvalidCookie)
	if err != nil {
		return nil // the system's random source failed
	}
	return b
}
