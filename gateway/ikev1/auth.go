package ikev1

import (
	"crypto/hmac"
	"fmt"
	"hash"
	"net/netip"

	"github.com/getlab/getlab/gateway/wire/isakmp"
)

// AuthContext is what an Authenticator knows about the exchange it
// authenticates. Fields are filled as main mode learns them: PeerID is nil
// until the peer's message 5 or 6 is decrypted.
type AuthContext struct {
	// Initiator is true on the side that sent message 1.
	Initiator   bool
	Local, Peer netip.AddrPort
	Suite       Suite
	NewHash     func() hash.Hash
	// LocalID and PeerID are the identities of messages 5 and 6.
	LocalID, PeerID *isakmp.ID
}

// Authenticator is a phase-1 authentication method (RFC 2409 §5.1-§5.4).
// The methods differ in three places, which are its three operations:
// SKEYID, what messages 5 and 6 carry after the ID payload (HASH_I/HASH_R
// for pre-shared keys, [CERT,] SIG_I/SIG_R for signatures), and how the
// peer's such payloads are checked. Main mode itself computes HASH_I and
// HASH_R, which every method proves or signs.
//
// A method returning a *NotifyError chooses the notify type sent to the
// peer; any other error is reported as AUTHENTICATION-FAILED.
type Authenticator interface {
	// Method is the Authentication Method attribute value
	// (isakmp.AuthPreSharedKey, isakmp.AuthRSASig): only suites with this
	// Auth are proposed or accepted.
	Method() uint16
	// SKEYID computes SKEYID from the nonce bodies and g^xy. The responder
	// calls it on message 3, before it knows the peer's identity.
	SKEYID(ctx *AuthContext, ni, nr, gxy []byte) ([]byte, error)
	// Prove returns the payloads that follow the local ID payload in
	// message 5 (initiator) or 6 (responder), given HASH_I or HASH_R.
	Prove(ctx *AuthContext, hash []byte) ([]isakmp.Payload, error)
	// Verify checks the payloads that followed the peer's ID payload
	// against the expected HASH_I or HASH_R.
	Verify(ctx *AuthContext, payloads []isakmp.Payload, hash []byte) error
}

// PSK authenticates with pre-shared keys (RFC 2409 §5.4). In main mode the
// key has to be chosen before the peer's identity is known (it is encrypted
// under a key derived from the PSK), so keys are looked up by the peer's IP
// address.
type PSK struct {
	// Lookup returns the pre-shared key for a peer address.
	Lookup func(peer netip.Addr) ([]byte, bool)
}

// PSKAuth returns a pre-shared key authenticator using lookup.
func PSKAuth(lookup func(peer netip.Addr) ([]byte, bool)) *PSK {
	return &PSK{Lookup: lookup}
}

// StaticPSK returns a pre-shared key authenticator with one key for every
// peer (tests, single-peer setups).
func StaticPSK(key []byte) *PSK {
	k := append([]byte(nil), key...)
	return PSKAuth(func(netip.Addr) ([]byte, bool) { return k, true })
}

// Method returns isakmp.AuthPreSharedKey.
func (*PSK) Method() uint16 { return isakmp.AuthPreSharedKey }

// SKEYID is prf(pre-shared-key, Ni_b | Nr_b).
func (p *PSK) SKEYID(ctx *AuthContext, ni, nr, _ []byte) ([]byte, error) {
	addr := ctx.Peer.Addr().Unmap()
	if p.Lookup == nil {
		return nil, &NotifyError{Type: isakmp.NotifyAuthenticationFailed, Reason: "no pre-shared key lookup configured"}
	}
	key, ok := p.Lookup(addr)
	if !ok || len(key) == 0 {
		return nil, &NotifyError{Type: isakmp.NotifyAuthenticationFailed, Reason: fmt.Sprintf("no pre-shared key for %s", addr)}
	}
	return skeyidPSK(ctx.NewHash, key, ni, nr), nil
}

// Prove returns the HASH payload.
func (*PSK) Prove(_ *AuthContext, hash []byte) ([]isakmp.Payload, error) {
	return []isakmp.Payload{&isakmp.Hash{Data: append([]byte(nil), hash...)}}, nil
}

// Verify compares the first HASH payload with hash in constant time.
func (*PSK) Verify(ctx *AuthContext, payloads []isakmp.Payload, hash []byte) error {
	name := "HASH_R"
	if !ctx.Initiator {
		name = "HASH_I"
	}
	for _, p := range payloads {
		if h, ok := p.(*isakmp.Hash); ok {
			if !hmac.Equal(h.Data, hash) {
				return &NotifyError{Type: isakmp.NotifyAuthenticationFailed, Reason: name + " does not verify (pre-shared keys differ?)"}
			}
			return nil
		}
	}
	return &NotifyError{Type: isakmp.NotifyPayloadMalformed, Reason: "no HASH payload for " + name}
}
