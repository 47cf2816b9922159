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

func TestSites(t *testing.T) {
	if Site(1).String() != "198.51.100.0/24" || Site(2).String() != "203.0.113.0/24" ||
		Host(1).String() != "198.51.100.10" || Host(2).String() != "203.0.113.10" {
		t.Errorf("sites %s %s, hosts %s %s", Site(1), Site(2), Host(1), Host(2))
	}
}
