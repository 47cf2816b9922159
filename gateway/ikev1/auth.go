package ikev1

import (
	"crypto/hmac"
	"errors"
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

// PeerChecker is implemented by authenticators that can tell from the
// peer's address alone that they cannot authenticate it (no pre-shared key
// for it): a responder asks on message 1 and again on message 3, before it
// spends a Diffie-Hellman computation on the peer.
type PeerChecker interface {
	CheckPeer(ctx *AuthContext) error
}

// ErrNoPreSharedKey is wrapped by the errors of an exchange refused because
// no pre-shared key matches the peer's address.
var ErrNoPreSharedKey = errors.New("no pre-shared key")

// ErrUnauthorizedIdentity is wrapped by the error of a main mode whose peer
// proved the key but claimed an identity the key is not bound to.
var ErrUnauthorizedIdentity = errors.New("identity not bound to the pre-shared key")

// IdentityError is the error of a main mode whose peer claimed an identity
// its key is not bound to; it matches ErrUnauthorizedIdentity.
type IdentityError struct {
	// Identity is the identity claimed, as IDText writes it (or its type).
	Identity string
	Err      error
}

func (e *IdentityError) Error() string {
	return fmt.Sprintf("identity %s: %v", e.Identity, e.Err)
}

func (e *IdentityError) Unwrap() error { return e.Err }

// Is makes errors.Is(e, ErrUnauthorizedIdentity) true.
func (e *IdentityError) Is(target error) bool { return target == ErrUnauthorizedIdentity }

// PSK authenticates with pre-shared keys (RFC 2409 §5.4). In main mode the
// key has to be chosen before the peer's identity is known (it is encrypted
// under a key derived from the PSK), so keys are looked up by the peer's IP
// address.
//
// Knowing a key proves only that the peer is one of those the key was
// given to: a responder must check that the identity the peer then claims
// (message 5) is one the key is bound to, or a peer could authenticate
// with its own key and pass for another. Authorize does that check.
type PSK struct {
	// Lookup returns the pre-shared key for a peer address.
	Lookup func(peer netip.Addr) ([]byte, bool)
	// Authorize, if set, says whether the peer at an address, which
	// proved the key Lookup returned for it, may claim identity id; a
	// responder calls it once HASH_I verifies. An error fails main mode
	// with AUTHENTICATION-FAILED (wrapping ErrUnauthorizedIdentity).
	Authorize func(peer netip.Addr, id *isakmp.ID) error
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
	key, err := p.key(ctx)
	if err != nil {
		return nil, err
	}
	return skeyidPSK(ctx.NewHash, key, ni, nr), nil
}

// CheckPeer reports that there is no pre-shared key for the peer.
func (p *PSK) CheckPeer(ctx *AuthContext) error {
	_, err := p.key(ctx)
	return err
}

func (p *PSK) key(ctx *AuthContext) ([]byte, error) {
	addr := ctx.Peer.Addr().Unmap()
	if p.Lookup == nil {
		return nil, &NotifyError{Type: isakmp.NotifyAuthenticationFailed, Reason: "no pre-shared key lookup configured", Err: ErrNoPreSharedKey}
	}
	key, ok := p.Lookup(addr)
	if !ok || len(key) == 0 {
		return nil, &NotifyError{Type: isakmp.NotifyAuthenticationFailed, Reason: fmt.Sprintf("no pre-shared key for %s", addr), Err: ErrNoPreSharedKey}
	}
	return key, nil
}

// Prove returns the HASH payload.
func (*PSK) Prove(_ *AuthContext, hash []byte) ([]isakmp.Payload, error) {
	return []isakmp.Payload{&isakmp.Hash{Data: append([]byte(nil), hash...)}}, nil
}

// Verify compares the first HASH payload with hash in constant time and,
// on a responder, has Authorize check the identity the peer claimed.
func (k *PSK) Verify(ctx *AuthContext, payloads []isakmp.Payload, hash []byte) error {
	name := "HASH_R"
	if !ctx.Initiator {
		name = "HASH_I"
	}
	for _, p := range payloads {
		if h, ok := p.(*isakmp.Hash); ok {
			if !hmac.Equal(h.Data, hash) {
				return &NotifyError{Type: isakmp.NotifyAuthenticationFailed, Reason: name + " does not verify (pre-shared keys differ?)"}
			}
			if !ctx.Initiator && k.Authorize != nil && ctx.PeerID != nil {
				if err := k.Authorize(ctx.Peer.Addr().Unmap(), ctx.PeerID); err != nil {
					ie := &IdentityError{Identity: describeID(ctx.PeerID), Err: err}
					return &NotifyError{Type: isakmp.NotifyAuthenticationFailed, Reason: ie.Error(), Err: ie}
				}
			}
			return nil
		}
	}
	return &NotifyError{Type: isakmp.NotifyPayloadMalformed, Reason: "no HASH payload for " + name}
}

// describeID is an identity for messages: its text, or its type.
func describeID(id *isakmp.ID) string {
	if t, ok := IDText(id); ok {
		return t
	}
	return id.IDType.String()
}
