package testnet

import (
	"net/netip"
	"testing"
)

func TestAddresses(t *testing.T) {
	for _, tc := range []struct {
		got  netip.AddrPort
		want string
	}{{KS(1), "192.0.2.1:848"}, {KS(2), "192.0.2.2:848"}, {GM(1), "192.0.2.11:848"}, {GM(2), "192.0.2.12:848"}, {Stranger(), "192.0.2.99:848"}} {
		if tc.got.String() != tc.want {
			t.Errorf("%s, want %s", tc.got, tc.want)
		}
	}
}
