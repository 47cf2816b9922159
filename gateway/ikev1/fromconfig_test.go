package ikev1

import (
	"net/netip"
	"testing"

	daemonconfig "github.com/getlab/getlab/gateway/config"
	"github.com/getlab/getlab/gateway/wire/isakmp"
)

func TestBoundIdentity(t *testing.T) {
	gm1, gm2 := netip.MustParseAddr("192.0.2.11"), netip.MustParseAddr("192.0.2.12")
	perPeer := &daemonconfig.PSK{Peer: gm2, Key: "gm2-secret", Identities: []string{"GM2.example", "10.0.0.2", "ops@example"}}
	wild := &daemonconfig.PSK{Wildcard: true, Key: "lab"}
	for _, tc := range []struct {
		name string
		k    *daemonconfig.PSK
		from netip.Addr
		id   *isakmp.ID
		ok   bool
	}{
		{"own address", perPeer, gm2, isakmp.NewAddrID(gm2), true},
		{"another GM's address", perPeer, gm2, isakmp.NewAddrID(gm1), false},
		{"named address", perPeer, gm2, isakmp.NewAddrID(netip.MustParseAddr("10.0.0.2")), true},
		{"named host, any case", perPeer, gm2, isakmp.NewFQDNID("gm2.EXAMPLE"), true},
		{"named user", perPeer, gm2, &isakmp.ID{IDType: isakmp.IDUserFQDN, Data: []byte("ops@example")}, true},
		{"address as a name", perPeer, gm2, isakmp.NewFQDNID("10.0.0.2"), false},
		{"other host", perPeer, gm2, isakmp.NewFQDNID("gm1.example"), false},
		{"wildcard: source address", wild, gm1, isakmp.NewAddrID(gm1), true},
		{"wildcard: another address", wild, gm2, isakmp.NewAddrID(gm1), false},
		{"wildcard: a name", wild, gm1, isakmp.NewFQDNID("gm1.example"), false},
		{"distinguished name", perPeer, gm2, &isakmp.ID{IDType: isakmp.IDDERASN1DN, Data: []byte{0x30}}, false},
	} {
		if err := BoundIdentity(tc.k, tc.from, tc.id); (err == nil) != tc.ok {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
}
