package ikev1

import (
	"fmt"
	"net/netip"

	daemonconfig "github.com/getlab/getlab/gateway/config"
	"github.com/getlab/getlab/gateway/wire/isakmp"
)

// FromConfig builds the phase-1 configuration of a daemon whose identity
// address is local from its config's ike section: the policies as
// proposals (or acceptable suites), pre-shared keys by peer address, DOI 2
// as RFC 6407 §2.1 has GDOI send, DPD announced.
func FromConfig(ike daemonconfig.IKE, local netip.Addr) (*Config, error) {
	var suites []Suite
	for i, p := range ike.Policies {
		s, err := ParseSuite(p.Encryption, p.Hash, p.DHGroup, p.Lifetime)
		if err != nil {
			return nil, fmt.Errorf("ike.policies[%d]: %w", i, err)
		}
		suites = append(suites, s)
	}
	return &Config{
		Suites:      suites,
		AllowWeakDH: ike.AllowWeakDH,
		Auth: PSKAuth(func(peer netip.Addr) ([]byte, bool) {
			k, ok := ike.KeyFor(peer)
			return []byte(k), ok
		}),
		LocalID: isakmp.NewAddrID(local),
		DOI:     isakmp.DOIGDOI,
		DPD:     true,
	}, nil
}
