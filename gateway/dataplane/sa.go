package dataplane

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/getlab/getlab/gateway/esp"
	"github.com/getlab/getlab/gateway/gdoi"
	espwire "github.com/getlab/getlab/gateway/wire/esp"
	gdoiwire "github.com/getlab/getlab/gateway/wire/gdoi"
)

// SA is one installed TEK: a group SA every GM of the group shares.
type SA struct {
	SPI       uint32
	Group     string
	Transform espwire.Transform
	sel       selector
	// send: this GM can seal on the SA (an IV source, a destination to
	// send to). Whether it does is the group's direction mode, which the
	// GM derives from the TEKs' SA_DIRECTION (receiverOnly) and its own
	// settings.
	send         bool
	recv         bool
	receiverOnly bool // SA_DIRECTION receiver-only (the KS's "sa receive-only")
	// noSend says why send is false.
	noSend string

	cipher *esp.Cipher
	iv     esp.IVSource
	tun    esp.Tunnel
	seq    atomic.Uint32

	encKey, authKey []byte
	sid             uint32
	sidBits         int
	// expires is the end of the SA's life, Unix nanoseconds. A
	// re-registration that brings the same TEK moves it while workers read
	// it, hence atomic.
	expires atomic.Int64

	encPackets, encBytes, decPackets, decBytes atomic.Uint64
	authFailures, policyDrops                  atomic.Uint64
}

// newSA builds the SA of TEK t for group, expiring at expires. sids and
// sidBits are the Sender-IDs the KS gave this GM (counter-mode TEKs need
// one to send); local is the GM's address, the outer source of an SA that
// does not preserve the inner source.
func newSA(group string, t *gdoi.TEK, expires time.Time, sids []uint32, sidBits int, tun esp.Tunnel, local netip.Addr) (*SA, error) {
	c, err := esp.NewCipher(t.Transform, t.EncKey, t.AuthKey)
	if err != nil {
		return nil, err
	}
	sa := &SA{
		SPI: t.SPI, Group: group, Transform: t.Transform, sel: fromGDOI(t.Selector),
		cipher: c, tun: tun,
		encKey: bytes.Clone(t.EncKey), authKey: bytes.Clone(t.AuthKey),
	}
	sa.expires.Store(expires.UnixNano())
	sa.send, sa.recv = true, t.Direction != gdoiwire.SADirSenderOnly
	sa.receiverOnly = t.Direction == gdoiwire.SADirReceiverOnly
	switch t.AddrPreserve {
	case gdoiwire.AddrPreserveSrcDst, 0:
	case gdoiwire.AddrPreserveSrc, gdoiwire.AddrPreserveNone:
		// Without a preserved destination there is no tunnel endpoint to
		// send to: a group SA has no peer. Receive only.
		sa.noSend = "the SA does not preserve the destination address"
	case gdoiwire.AddrPreserveDst:
		sa.tun.Src = local
	}
	if sa.send && sa.noSend == "" {
		switch {
		case t.Transform.Combined():
			if len(sids) == 0 {
				sa.noSend = "counter-mode TEK without a Sender-ID from the KS (RFC 6054)"
				break
			}
			g, err := esp.NewSenderIV(sids[0], sidBits)
			if err != nil {
				sa.noSend = err.Error()
				break
			}
			sa.iv, sa.sid, sa.sidBits = g, sids[0], sidBits
		case t.Transform.IVLen() == 16 || t.Transform.IVLen() == 8:
			g, err := esp.NewCBCIV(t.Transform.IVLen())
			if err != nil {
				return nil, err
			}
			sa.iv = g
		case t.Transform.IVLen() == 0:
			sa.iv = esp.NoIV{}
		default:
			sa.noSend = fmt.Sprintf("no IV source for %v", t.Transform)
		}
	}
	if sa.noSend != "" {
		sa.send = false
	}
	return sa, nil
}

// sameKeys reports whether t is the TEK sa was built from (same SPI,
// transform and keys) and the Sender-ID is unchanged: then sa, with its IV
// counter and counters, stays in use. A new SA for the same key and SID
// would restart the IV counter and repeat GCM nonces.
func (sa *SA) sameKeys(t *gdoi.TEK, sids []uint32, sidBits int) bool {
	if sa.SPI != t.SPI || sa.Transform != t.Transform || !bytes.Equal(sa.encKey, t.EncKey) || !bytes.Equal(sa.authKey, t.AuthKey) {
		return false
	}
	if !t.Transform.Combined() || sa.iv == nil {
		return true
	}
	return len(sids) > 0 && sids[0] == sa.sid && sidBits == sa.sidBits
}

func (sa *SA) valid(now time.Time) bool { return sa.left(now) > 0 }

// left is the SA's remaining life at now.
func (sa *SA) left(now time.Time) time.Duration {
	return time.Duration(sa.expires.Load() - now.UnixNano())
}

// errNoIV is returned by seal when the SA's IV space is used up.
var errNoIV = errors.New("IV space exhausted")

// seal encrypts inner (at buf[off:off+n], with at least 64 octets of
// headroom before off) in place and returns the ESP packet, outer header
// included, a sub-slice of buf. iv is scratch for the IV (a worker's: an
// array on the stack would escape through the IVSource interface).
func (sa *SA) seal(buf []byte, off, n int, id uint16, iv *[16]byte) ([]byte, error) {
	ivb := iv[:sa.Transform.IVLen()]
	if err := sa.iv.Next(ivb); err != nil {
		return nil, errNoIV
	}
	head := 20 + espwire.HeaderLen + len(ivb)
	seq := sa.seq.Add(1) // wraps: group SAs have no counter-based anti-replay
	pkt, err := sa.cipher.SealTunnel(buf[off-head:off-head], sa.SPI, uint64(seq), ivb, id, buf[off:off+n], &sa.tun)
	if err != nil {
		return nil, err
	}
	sa.encPackets.Add(1)
	sa.encBytes.Add(uint64(n))
	return pkt, nil
}
