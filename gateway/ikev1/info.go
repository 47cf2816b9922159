package ikev1

import (
	"crypto/hmac"
	"errors"
	"fmt"

	"github.com/getlab/getlab/gateway/wire/isakmp"
)

// Informational exchanges on an established phase-1 SA (RFC 2409 §5.7):
//
//	HDR*, HASH(1), N/D
//	HASH(1) = prf(SKEYID_a, M-ID | N/D)
//
// with a fresh random message ID per message, the IV of that message ID
// (hash(last phase-1 block | M-ID)) and N/D the payloads after HASH(1),
// generic headers included, exactly as sent. Informational exchanges are
// one message: there is no reply to chain on.

// doi is the DOI of the SA's notifications and deletes: GDOI for an SA
// built by hand without one.
func (sa *SA) doi() uint32 {
	if sa.DOI == 0 {
		return isakmp.DOIGDOI
	}
	return sa.DOI
}

var errNotInit = errors.New("ikev1: SA not initialised (SA.Init)")

// Informational builds a protected Informational message carrying ps
// (notifications, deletes) after HASH(1).
func (sa *SA) Informational(ps ...isakmp.Payload) ([]byte, error) {
	if sa.block == nil {
		return nil, errNotInit
	}
	if len(ps) == 0 {
		return nil, errors.New("ikev1: Informational with no payloads")
	}
	if err := isakmp.CheckPayloads(ps...); err != nil {
		return nil, fmt.Errorf("ikev1: Informational: %w", err)
	}
	x := sa.NewExchange(isakmp.ExchangeInformational)
	rest := isakmp.AppendPayloads(nil, ps...)
	h := &isakmp.Hash{Data: sa.HashA(x.MessageIDBytes(), rest)}
	body := isakmp.AppendPayload(nil, ps[0].Type(), h)
	return x.Seal(isakmp.PayloadHash, append(body, rest...)), nil
}

// Notify builds a protected Informational with one notification of type t
// about this ISAKMP SA (protocol ISAKMP, DOI of the SA), with spi (normally
// the 16 cookie octets, see Cookies) and data. It returns nil only if spi is
// longer than the 255 octets a notification can carry; use Informational
// for notifications about other protocols' SAs.
func (sa *SA) Notify(t isakmp.NotifyType, spi, data []byte) []byte {
	b, err := sa.Informational(&isakmp.Notification{
		DOI: sa.doi(), ProtocolID: isakmp.ProtoISAKMP, MessageType: t, SPI: spi, Data: data,
	})
	if err != nil {
		return nil
	}
	return b
}

// Delete builds a protected Informational with one Delete payload for spis
// of the given protocol (DOI of the SA): isakmp.ProtoISAKMP with the
// 16-octet cookie pair deletes this phase-1 SA (RFC 2408 §3.15).
func (sa *SA) Delete(protocol uint8, spis ...[]byte) ([]byte, error) {
	if len(spis) == 0 {
		return nil, errors.New("ikev1: Delete with no SPI")
	}
	if len(spis[0]) > 0xff {
		return nil, fmt.Errorf("ikev1: Delete: SPI of %d octets", len(spis[0]))
	}
	return sa.Informational(&isakmp.Delete{
		DOI: sa.doi(), ProtocolID: protocol, SPISize: uint8(len(spis[0])), SPIs: spis,
	})
}

// DeleteSelf builds the Delete of this ISAKMP SA.
func (sa *SA) DeleteSelf() []byte {
	c := sa.Cookies()
	b, _ := sa.Delete(isakmp.ProtoISAKMP, c[:]) // a 16-octet SPI always encodes
	return b
}

// ErrNoNotification is returned by OpenInformational for a verified
// message that carries no notification (only a Delete, say): use
// OpenInformationalPayloads to see those.
var ErrNoNotification = errors.New("ikev1: Informational carries no notification")

// OpenInformational decrypts a protected Informational message of this SA,
// verifies its HASH(1) and returns its first notification (what DPD and
// error reports carry). See OpenInformationalPayloads for the others.
func (sa *SA) OpenInformational(pkt []byte) (*isakmp.Notification, error) {
	ps, err := sa.OpenInformationalPayloads(pkt)
	if err != nil {
		return nil, err
	}
	if ns := Notifications(ps); len(ns) > 0 {
		return ns[0], nil
	}
	return nil, fmt.Errorf("%w (payloads %s)", ErrNoNotification, isakmp.Layout(ps))
}

// OpenInformationalPayloads decrypts a protected Informational message of
// this SA and verifies its HASH(1), which must be the first payload. It
// returns the payloads after HASH(1) (notifications, deletes).
func (sa *SA) OpenInformationalPayloads(pkt []byte) ([]isakmp.Payload, error) {
	if sa.block == nil {
		return nil, errNotInit
	}
	h, _, err := isakmp.ParseHeader(pkt)
	if err != nil {
		return nil, fmt.Errorf("ikev1: Informational: %w", err)
	}
	switch {
	case h.Exchange != isakmp.ExchangeInformational:
		return nil, fmt.Errorf("ikev1: Informational: exchange %s", h.Exchange)
	case h.ICookie != sa.ICookie || h.RCookie != sa.RCookie:
		return nil, fmt.Errorf("ikev1: Informational: cookies %x|%x are not this SA's", h.ICookie, h.RCookie)
	case h.MessageID == 0:
		return nil, errors.New("ikev1: Informational: message ID 0 on an established SA")
	}
	x := sa.Exchange(isakmp.ExchangeInformational, h.MessageID)
	m, pt, err := openCBC(sa.block, pkt, &x.iv, nil)
	if err != nil {
		return nil, fmt.Errorf("ikev1: Informational: %w", err)
	}
	if len(m.Payloads) < 2 || m.Payloads[0].Type() != isakmp.PayloadHash {
		return nil, fmt.Errorf("ikev1: Informational: payloads %s, want HASH first and then N or D", m.Layout())
	}
	got := m.Payloads[0].(*isakmp.Hash).Data
	// The hash covers the payloads after HASH(1) as received: from the end
	// of the HASH payload to the end of the chain (padding excluded).
	start := 4 + len(got)
	end := len(pt) - len(m.Padding)
	if start > end {
		return nil, errors.New("ikev1: Informational: payload chain shorter than its HASH")
	}
	if want := sa.HashA(x.MessageIDBytes(), pt[start:end]); !hmac.Equal(got, want) {
		return nil, errors.New("ikev1: Informational: HASH(1) does not verify")
	}
	return m.Payloads[1:], nil
}

// Notifications returns the notification payloads of ps.
func Notifications(ps []isakmp.Payload) []*isakmp.Notification { return all[*isakmp.Notification](ps) }

// Deletes returns the Delete payloads of ps.
func Deletes(ps []isakmp.Payload) []*isakmp.Delete { return all[*isakmp.Delete](ps) }

// all returns the payloads of ps of type T, in order.
func all[T isakmp.Payload](ps []isakmp.Payload) []T {
	var out []T
	for _, p := range ps {
		if v, ok := p.(T); ok {
			out = append(out, v)
		}
	}
	return out
}
