package ikev1

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync/atomic"

	daemonconfig "github.com/getlab/getlab/gateway/config"
	"github.com/getlab/getlab/gateway/wire/isakmp"
)

// FromConfig builds the phase-1 configuration of a daemon whose identity
// address is local from its config's ike section: the policies as
// proposals (or acceptable suites), pre-shared keys by peer address, each
// bound to the identities its entry allows (see BoundIdentity), DOI 2 as
// RFC 6407 §2.1 has GDOI send, DPD announced.
func FromConfig(ike daemonconfig.IKE, local netip.Addr) (*Config, error) {
	var suites []Suite
	for i, p := range ike.Policies {
		s, err := ParseSuite(p.Encryption, p.Hash, p.DHGroup, p.Lifetime)
		if err != nil {
			return nil, fmt.Errorf("ike.policies[%d]: %w", i, err)
		}
		suites = append(suites, s)
	}
	// The keys are read through a pointer that a configuration reload
	// swaps (UpdateKeys) while main modes run on other goroutines.
	keys := new(atomic.Pointer[daemonconfig.IKE])
	keys.Store(&ike)
	return &Config{
		Suites:      suites,
		AllowWeakDH: ike.AllowWeakDH,
		UpdateKeys: func(psks []daemonconfig.PSK) {
			next := *keys.Load()
			next.PreSharedKeys = psks
			keys.Store(&next)
		},
		Auth: &PSK{
			Lookup: func(peer netip.Addr) ([]byte, bool) {
				k, ok := keys.Load().KeyFor(peer)
				return []byte(k), ok
			},
			Authorize: func(peer netip.Addr, id *isakmp.ID) error {
				k, ok := keys.Load().KeyEntryFor(peer)
				if !ok {
					return errors.New("no pre-shared key")
				}
				return BoundIdentity(k, peer, id)
			},
		},
		LocalID: isakmp.NewAddrID(local),
		DOI:     isakmp.DOIGDOI,
		// The DPD vendor ID says a peer's R-U-THERE gets an R-U-THERE-ACK,
		// which both roles send (AnswerDPD). They send no probes of their
		// own: the seeds have none between GM and KS ("not supported",
		// CO-03); the KS-to-KS probes come with cooperative key servers.
		DPD: true,
	}, nil
}

// BoundIdentity reports whether a peer at address peer that proved key k
// may claim identity id: the address of k's entry (for a wildcard key, the
// peer's own address), or one of the identities the entry names (an
// address, a host name for ID_FQDN, user@host for ID_USER_FQDN, or the
// text of an ID_KEY_ID).
func BoundIdentity(k *daemonconfig.PSK, peer netip.Addr, id *isakmp.ID) error {
	claimed, ok := IDText(id)
	if !ok {
		return fmt.Errorf("%s identities cannot be bound to a pre-shared key", id.IDType)
	}
	own := k.Peer
	if k.Wildcard {
		own = peer.Unmap()
	}
	if a, err := id.Addr(); err == nil && a.Unmap() == own {
		return nil
	}
	for _, b := range k.Identities {
		if daemonconfig.NormalizeIdentity(b) == daemonconfig.NormalizeIdentity(claimed) && kindMatches(b, id) {
			return nil
		}
	}
	allowed := append([]string{own.String()}, k.Identities...)
	return fmt.Errorf("the key for %s authenticates %s only", peer, strings.Join(allowed, ", "))
}

// kindMatches keeps an address from matching a name that reads like it.
func kindMatches(bound string, id *isakmp.ID) bool {
	_, err := netip.ParseAddr(bound)
	isAddr := id.IDType == isakmp.IDIPv4Addr || id.IDType == isakmp.IDIPv6Addr
	return (err == nil) == isAddr
}

// IDText is an identity as logs and the configuration write it: the
// address, the name, or a key ID's text; ok is false for other types.
func IDText(id *isakmp.ID) (string, bool) {
	switch id.IDType {
	case isakmp.IDIPv4Addr, isakmp.IDIPv6Addr:
		a, err := id.Addr()
		if err != nil {
			return "", false
		}
		return a.Unmap().String(), true
	case isakmp.IDFQDN, isakmp.IDUserFQDN, isakmp.IDKeyID:
		return string(id.Data), true
	}
	return "", false
}
