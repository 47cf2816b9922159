// Package testnet is the lab the roles' unit tests share: its key
// servers' and group members' GDOI endpoints (RFC 5737 TEST-NET-1, port
// 848), so that a KS in one package's tests and a GM in another's are the
// same hosts, as the example configurations in those tests name them.
package testnet

import (
	"fmt"
	"net/netip"
	"strings"
)

// KS is key server n (1, 2, ...) at 192.0.2.n.
func KS(n int) netip.AddrPort { return host(n) }

// GM is group member n (1, 2, ...) at 192.0.2.(10+n).
func GM(n int) netip.AddrPort { return host(10 + n) }

// Stranger, at 192.0.2.99, has no pre-shared key with anybody.
func Stranger() netip.AddrPort { return host(99) }

func host(n int) netip.AddrPort {
	if n < 1 || n > 254 {
		panic("testnet: no such host")
	}
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte{192, 0, 2, byte(n)}), 848)
}

// KSYAML is the head of the lab key server's configuration: KS(1)'s
// identity, one IKE policy with Diffie-Hellman group dh and the 24 h
// lifetime, the wildcard key "lab-secret", no state file (tests keep no
// state between runs), and the first lines of group
// GETVPN (ID 1234), to which a test appends the group's other keys,
// indented four spaces.
func KSYAML(dh int) string {
	return fmt.Sprintf(`
role: ks
identity: %s
state_file: ""
ike:
  policies: [{encryption: aes128, hash: sha256, dh_group: %d, lifetime: 86400}]
  pre_shared_keys: [{peer: 0.0.0.0, key: lab-secret}]
groups:
  - name: GETVPN
    id: 1234
`, KS(1).Addr(), dh)
}

// GMYAML is the head of GM(1)'s configuration: its identity, one IKE
// policy (group 19, 1200 s), the key "lab-secret" for each KS of ksList,
// and the first lines of group GETVPN (ID 1234) registering to them, to
// which a test appends the group's other keys.
func GMYAML(ksList ...netip.Addr) string {
	list := make([]string, len(ksList))
	keys := make([]string, len(ksList))
	for i, k := range ksList {
		list[i] = k.String()
		keys[i] = fmt.Sprintf("{peer: %s, key: lab-secret}", k)
	}
	return fmt.Sprintf(`
role: gm
identity: %s
ike:
  policies: [{encryption: aes128, hash: sha256, dh_group: 19, lifetime: 1200}]
  pre_shared_keys: [%s]
groups:
  - name: GETVPN
    id: 1234
    ks_list: [%s]
`, GM(1).Addr(), strings.Join(keys, ", "), strings.Join(list, ", "))
}

// Site is the protected network behind group member n: 198.51.100.0/24
// behind GM(1), 203.0.113.0/24 behind GM(2) (RFC 5737 TEST-NET-2 and -3).
func Site(n int) netip.Prefix {
	switch n {
	case 1:
		return netip.MustParsePrefix("198.51.100.0/24")
	case 2:
		return netip.MustParsePrefix("203.0.113.0/24")
	}
	panic("testnet: no such site")
}

// Host is the host .10 of Site(n), which the data plane's tests send from
// and to.
func Host(n int) netip.Addr {
	a := Site(n).Addr().As4()
	a[3] = 10
	return netip.AddrFrom4(a)
}
