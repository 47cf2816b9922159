package config

import (
	"strings"
	"testing"

	"github.com/getlab/getlab/gateway/wire/esp"
)

// ksWith returns minKS with the group's extra lines (indented for a group
// key) and extra top-level lines.
func ksWith(group, top string) string {
	return strings.Replace(minKS, "    id: 1\n", "    id: 1\n"+group, 1) + top
}

func gmWith(group, top string) string {
	return strings.Replace(minGM, "ks_list: [192.0.2.1]}", "ks_list: [192.0.2.1]"+group+"}", 1) + top
}

func TestErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		yaml string
		want []string // substrings, each of which must be in the error
	}{
		{"syntax", "role: [", []string{"x.yaml: YAML syntax: did not find expected node content (line 1)"}},
		{"syntax, later line", minGM + "ike:\n  - a\n b: c\n", []string{"x.yaml: YAML syntax: did not find expected key (line "}},
		{"empty", "", []string{"x.yaml: empty file"}},
		{"not a mapping", "- 1\n", []string{"x.yaml: want a mapping"}},
		{"alias", "role: &r ks\nidentity: *r\n", []string{"anchors and aliases"}},
		{"unknown key", minKS + "colour: red\n", []string{"x.yaml: colour: unknown key"}},
		{"unknown nested key", ksWith("    rekey_typo: 1\n", ""), []string{"x.yaml: groups[0].rekey_typo: unknown key"}},
		{"duplicate key", minKS + "role: gm\n", []string{"x.yaml: role: duplicate key"}},
		{"missing role", "identity: 192.0.2.1\n", []string{"x.yaml: role: missing (ks or gm)"}},
		{"bad role", "role: both\n", []string{`role: "both" is not ks or gm`}},
		{"KS without identity", strings.Replace(minKS, "identity: 192.0.2.1\n", "", 1), []string{"identity: missing"}},
		{"bad identity", strings.Replace(minKS, "192.0.2.1", "192.0.2.300", 1), []string{`identity: "192.0.2.300" is not an IP address`}},
		{"multicast identity", strings.Replace(minKS, "identity: 192.0.2.1", "identity: 224.0.0.5", 1), []string{"identity: 224.0.0.5 is not a unicast address"}},
		{"bad ks_list entry", strings.Replace(minGM, "ks_list: [192.0.2.1]", "ks_list: [192.0.2.1, 192.0.2.300]", 1),
			[]string{`x.yaml: groups[0].ks_list[1]: "192.0.2.300" is not an IP address`}},
		{"empty ks_list", strings.Replace(minGM, "ks_list: [192.0.2.1]", "ks_list: []", 1), []string{"groups[0].ks_list: missing", "GM_INCOMPLETE_CFG"}},
		{"ks_list duplicate", strings.Replace(minGM, "ks_list: [192.0.2.1]", "ks_list: [192.0.2.1, 192.0.2.1]", 1), []string{"groups[0].ks_list[1]: 192.0.2.1 is listed twice"}},
		{"ks_list no PSK", strings.Replace(minGM, "ks_list: [192.0.2.1]", "ks_list: [192.0.2.1, 192.0.2.2]", 1), []string{"groups[0].ks_list[1]: no pre-shared key for 192.0.2.2"}},
		{"ks_list is self", gmWith("", "identity: 192.0.2.1\n"), []string{"groups[0].ks_list[0]: 192.0.2.1 is this GM's own identity"}},
		{"ks_list not a list", strings.Replace(minGM, "ks_list: [192.0.2.1]", "ks_list: 192.0.2.1", 1), []string{`groups[0].ks_list: want a list, got "192.0.2.1"`}},
		{"local permit", gmWith(", local_acl: [{action: permit, protocol: ip}]", ""),
			[]string{"groups[0].local_acl[0].action: permit is not allowed: a GM's local ACL holds only deny entries"}},
		{"KS ACL port range", strings.Replace(minKS, "{action: deny, protocol: udp, destination: 239.1.1.1}", "{action: deny, protocol: udp, destination_port: 1000-2000}", 1),
			[]string{"groups[0].acl[0].destination_port: 1000-2000 is a range"}},
		{"bad df_bit", gmWith("", "data_plane: {df_bit: sometimes}\n"), []string{`data_plane.df_bit: "sometimes" is not copy, set or clear`}},
		{"tcp_mss below IOS's range", gmWith("", "data_plane: {tcp_mss: 499}\n"), []string{`data_plane.tcp_mss: 499 is not 0 (off) or within 500-1460 (IOS "ip tcp adjust-mss")`}},
		{"tcp_mss above IOS's range", gmWith("", "data_plane: {tcp_mss: 1461}\n"), []string{"data_plane.tcp_mss: 1461 is not 0 (off) or within 500-1460"}},
		{"tcp_mss TCP could carry but IOS refuses", gmWith("", "data_plane: {tcp_mss: 65495}\n"), []string{"data_plane.tcp_mss: 65495 is not 0 (off) or within 500-1460"}},
		{"tcp_mss negative", gmWith("", "data_plane: {tcp_mss: -1}\n"), []string{"data_plane.tcp_mss: -1 is not 0 (off) or within 500-1460"}},
		{"tcp_mss text", gmWith("", "data_plane: {tcp_mss: 1360b}\n"), []string{`data_plane.tcp_mss: "1360b" is not an integer`}},
		{"tcp_mss on KS", ksWith("", "data_plane: {tcp_mss: 1360}\n"), []string{"data_plane: only valid for role gm"}},
		{"bad local_deny_inbound", gmWith("", "data_plane: {local_deny_inbound: both}\n"), []string{`data_plane.local_deny_inbound: "both" is not ios, iosxe or accept-both`}},
		{"bad daemon_down", gmWith("", "data_plane: {daemon_down: open}\n"), []string{`data_plane.daemon_down: "open" is not drop or pass`}},
		{"data_plane on KS", ksWith("", "data_plane: {enabled: true}\n"), []string{"data_plane: only valid for role gm"}},
		{"multicast on KS", ksWith("", "data_plane: {multicast: {lan: [eth2]}}\n"), []string{"data_plane: only valid for role gm"}},
		{"multicast LAN is the WAN", gmWith(", registration_interface: eth1", "data_plane: {multicast: {lan: [eth2, eth1]}}\n"),
			[]string{`data_plane.multicast.lan[1]: "eth1" is the registration interface`}},
		{"multicast LAN twice", gmWith("", "data_plane: {multicast: {lan: [eth2, eth3, eth2]}}\n"), []string{`data_plane.multicast.lan[2]: "eth2" is listed twice (also data_plane.multicast.lan[0])`}},
		{"multicast LAN name too long", gmWith("", "data_plane: {multicast: {lan: [a-very-long-name0]}}\n"), []string{`data_plane.multicast.lan[0]: "a-very-long-name0" is not an interface name: longer than 15 octets`}},
		{"multicast LAN name with a slash", gmWith("", "data_plane: {multicast: {lan: [eth2/1]}}\n"), []string{`data_plane.multicast.lan[0]: "eth2/1" is not an interface name: contains '/', ':' or white space`}},
		{"multicast LAN alias", gmWith("", "data_plane: {multicast: {lan: [\"eth2:0\"]}}\n"), []string{`data_plane.multicast.lan[0]: "eth2:0" is not an interface name`}},
		{"multicast LAN empty name", gmWith("", "data_plane: {multicast: {lan: [\"\"]}}\n"), []string{`data_plane.multicast.lan[0]: "" is not an interface name: empty`}},
		{"multicast LAN dot", gmWith("", "data_plane: {multicast: {lan: [..]}}\n"), []string{`data_plane.multicast.lan[0]: ".." is not an interface name: a path element`}},
		{"multicast LAN not a list", gmWith("", "data_plane: {multicast: {lan: eth2}}\n"), []string{`data_plane.multicast.lan: want a list, got "eth2"`}},
		{"multicast unknown key", gmWith("", "data_plane: {multicast: {wan: [eth1]}}\n"), []string{"data_plane.multicast.wan: unknown key"}},
		{"multicast without the data plane", gmWith("", "data_plane: {enabled: false, multicast: {lan: [eth2]}}\n"), []string{"data_plane.multicast: needs the data plane"}},
		{"bad policy_change", ksWith("", "policy_change: sometimes\n"), []string{`policy_change: "sometimes" is not triggered or immediate`}},
		{"policy_change on GM", gmWith("", "policy_change: immediate\n"), []string{"policy_change: only valid for role ks"}},
		{"fail_close without the data plane", gmWith("", "data_plane: {enabled: false, fail_close: {activate: true, acl: [{action: deny, protocol: tcp}]}}\n"),
			[]string{"data_plane.fail_close: needs the data plane"}},
		{"passive on KS", ksWith("    passive: true\n", ""), []string{"groups[0].passive: only valid for role gm"}},
		{"receive_only on GM", gmWith(", receive_only: true", ""), []string{"groups[0].receive_only: only valid for role ks"}},
		{"deny_download on GM", gmWith(", deny_download: false", ""), []string{"groups[0].deny_download: only valid for role ks"}},
		{"bad interop_profile", gmWith(", interop_profile: strongswan", ""), []string{`groups[0].interop_profile: "strongswan" is not one of rfc, gdoid, gdoid-rfcwire`}},
		{"bad interop_profile on KS", ksWith("    interop_profile: GDOID\n", ""), []string{`groups[0].interop_profile: "GDOID" is not one of`}},
		{"bad rekey ack", strings.Replace(minKS, "rekey: {address: 239.1.1.1}", "rekey: {address: 239.1.1.1, ack: rfc8263-lkh}", 1),
			[]string{`groups[0].rekey.ack: "rfc8263-lkh" is not rfc8263-sha256, rfc8263-sha512 or none`}},
		{"keepalive interval", strings.Replace(minKS, "ike:\n", "ike:\n  keepalive: {interval: 5s}\n", 1), []string{"ike.keepalive.interval: 5s is out of range [10s, 3600s]"}},
		{"keepalive retry", strings.Replace(minKS, "ike:\n", "ike:\n  keepalive: {interval: 15s, retry: 90s}\n", 1), []string{"ike.keepalive.retry: 1m30s is out of range [2s, 60s]"}},
		{"keepalive mode", strings.Replace(minKS, "ike:\n", "ike:\n  keepalive: {interval: 15s, mode: always}\n", 1), []string{`ike.keepalive.mode: "always" is not periodic or on-demand`}},
		{"second registration interface", strings.Replace(minGM, "ks_list: [192.0.2.1]}", "ks_list: [192.0.2.1], registration_interface: eth1}\n  - {name: H, id: 2, ks_list: [192.0.2.1], registration_interface: eth2}", 1),
			[]string{`groups[1].registration_interface: "eth2" differs from groups[0]'s "eth1"`}},
		{"bad jitter", gmWith(", jitter: random", ""), []string{`groups[0].jitter: "random" is not new or legacy`}},
		{"KS key on GM", gmWith(", tek_lifetime: 3600", ""), []string{"groups[0].tek_lifetime: only valid for role ks"}},
		{"GM key on KS", ksWith("    ks_list: [192.0.2.2]\n", ""), []string{"groups[0].ks_list: only valid for role gm"}},
		{"no groups", "role: gm\n", []string{"groups: missing"}},
		{"group name missing", strings.Replace(minGM, "name: G, ", "", 1), []string{"groups[0].name: missing"}},
		{"group id missing", strings.Replace(minGM, "id: 1, ", "", 1), []string{"groups[0].id: missing"}},
		{"group id zero", strings.Replace(minGM, "id: 1, ", "id: 0, ", 1), []string{"groups[0].id: 0 is out of range"}},
		{"group id text", strings.Replace(minGM, "id: 1, ", "id: one, ", 1), []string{`groups[0].id: "one" is not an integer`}},
		{"duplicate group", minGM + "  - {name: G, id: 1, ks_list: [192.0.2.1]}\n",
			[]string{`groups[1].name: "G" is also the name of groups[0]`, "groups[1].id: 1 is also the id of groups[0]"}},
		{"ACE transform not listed", strings.Replace(minKS, "destination: 10.0.0.0/8}", "destination: 10.0.0.0/8, transform: 3des-sha1}", 1),
			[]string{"groups[0].acl[1].transform: 3des-sha1 is not in the group's transforms [aes128-sha1]: list it there (left out, transforms is aes128-sha1 alone)"}},
		{"ACE transform not in the set list", ksWith("    transforms: [aes256gcm16]\n", "") + "",
			nil}, // replaced below
		{"ACE bad transform", strings.Replace(minKS, "destination: 10.0.0.0/8}", "destination: 10.0.0.0/8, transform: aes-cbc}", 1),
			[]string{`groups[0].acl[1].transform: "aes-cbc" is not an ESP transform (one of `}},
		{"ACE transform on deny", strings.Replace(minKS, "destination: 239.1.1.1}", "destination: 239.1.1.1, transform: aes128-sha1}", 1),
			[]string{"groups[0].acl[0].transform: only a permit entry of a KS group's acl names a transform"}},
		{"ACE transform in local_acl", gmWith(", local_acl: [{action: deny, protocol: ospf, transform: aes128-sha1}]", ""),
			[]string{"groups[0].local_acl[0].transform: only a permit entry of a KS group's acl names a transform"}},
		{"bad transform", ksWith("    transforms: [aes128gcm16, aes-gcm]\n", ""), []string{`groups[0].transforms[1]: "aes-gcm" is not an ESP transform`}},
		{"empty transforms", ksWith("    transforms: []\n", ""), []string{"groups[0].transforms: empty"}},
		{"bad duration", ksWith("    tek_lifetime: an hour\n", ""), []string{`groups[0].tek_lifetime: "an hour" is not a duration`}},
		{"negative duration", ksWith("    tek_lifetime: -5\n", ""), []string{`groups[0].tek_lifetime: "-5" must be positive`}},
		{"huge duration", ksWith("    tek_lifetime: 99999999999999\n", ""), []string{"groups[0].tek_lifetime:", "too long"}},
		{"no acl", strings.Replace(ksWith("", ""), "    acl:\n      - {action: deny, protocol: udp, destination: 239.1.1.1}\n      - {action: permit, source: 10.0.0.0/8, destination: 10.0.0.0/8}\n", "", 1), []string{"groups[0].acl: missing"}},
		{"acl without permit", strings.Replace(minKS, "{action: permit, source: 10.0.0.0/8, destination: 10.0.0.0/8}", "{action: deny, protocol: esp}", 1), []string{"groups[0].acl: no permit entry"}},
		{"acl too long", ksWith("", "") + "", nil}, // replaced below
		{"acl bad action", strings.Replace(minKS, "action: deny,", "action: drop,", 1), []string{`groups[0].acl[0].action: "drop" is not permit or deny`}},
		{"acl missing action", strings.Replace(minKS, "action: deny, ", "", 1), []string{"groups[0].acl[0].action: missing"}},
		{"acl bad protocol", strings.Replace(minKS, "protocol: udp", "protocol: sctpx", 1), []string{`groups[0].acl[0].protocol: "sctpx" is not a protocol`}},
		{"acl bad prefix", strings.Replace(minKS, "source: 10.0.0.0/8", "source: 10.0.0.0/33", 1), []string{`groups[0].acl[1].source: "10.0.0.0/33" is not an IP prefix`}},
		{"acl host bits", strings.Replace(minKS, "source: 10.0.0.0/8", "source: 10.1.0.0/8", 1), []string{`groups[0].acl[1].source: "10.1.0.0/8" has host bits set (did you mean 10.0.0.0/8?)`}},
		{"acl mixed family", strings.Replace(minKS, "source: 10.0.0.0/8", "source: 2001:db8::/32", 1), []string{"groups[0].acl[1]: source 2001:db8::/32 and destination 10.0.0.0/8 are of different address families"}},
		{"acl port without tcp/udp", strings.Replace(minKS, "{action: permit,", "{action: permit, destination_port: 80,", 1), []string{"groups[0].acl[1].destination_port: ports need protocol tcp or udp"}},
		{"acl bad port", strings.Replace(minKS, "protocol: udp,", "protocol: udp, source_port: 70000,", 1), []string{`groups[0].acl[0].source_port: "70000" is not a port`}},
		{"acl backwards range", strings.Replace(minKS, "protocol: udp,", "protocol: udp, source_port: 2000-1000,", 1), []string{"groups[0].acl[0].source_port: \"2000-1000\": range is backwards"}},
		{"multicast without address", strings.Replace(minKS, "    rekey: {address: 239.1.1.1}\n", "", 1), []string{"groups[0].rekey.address: missing: multicast rekeys"}},
		{"multicast unicast address", strings.Replace(minKS, "rekey: {address: 239.1.1.1}", "rekey: {address: 192.0.2.9}", 1), []string{"groups[0].rekey.address: 192.0.2.9 is not a multicast address"}},
		{"unicast with address", strings.Replace(minKS, "rekey: {address: 239.1.1.1}", "rekey: {transport: unicast, address: 239.1.1.1, port: 848}", 1),
			[]string{"groups[0].rekey.address: only valid with transport multicast", "groups[0].rekey.port: only valid with transport multicast"}},
		{"bad transport", strings.Replace(minKS, "rekey: {address: 239.1.1.1}", "rekey: {transport: broadcast}", 1), []string{`groups[0].rekey.transport: "broadcast" is not multicast or unicast`}},
		{"retransmit count", strings.Replace(minKS, "rekey: {address: 239.1.1.1}", "rekey: {address: 239.1.1.1, retransmit: {count: 11}}", 1), []string{"groups[0].rekey.retransmit.count: 11 is out of range [0, 10]"}},
		{"signing key both", strings.Replace(minKS, "rekey: {address: 239.1.1.1}", "rekey: {address: 239.1.1.1, signing_key: {file: k.pem, bits: 2048}}", 1), []string{"groups[0].rekey.signing_key: set one of file, pem or bits"}},
		{"signing key small", strings.Replace(minKS, "rekey: {address: 239.1.1.1}", "rekey: {address: 239.1.1.1, signing_key: {bits: 512}}", 1), []string{"groups[0].rekey.signing_key.bits: 512 is out of range"}},
		{"authorization any", ksWith("    authorization: [any]\n", ""), []string{"groups[0].authorization[0]: \"any\" is not allowed"}},
		{"authorization multicast", ksWith("    authorization: [239.0.0.0/8]\n", ""), []string{"groups[0].authorization[0]: 239.0.0.0/8 is a multicast prefix"}},
		{"scale zero", minGM + "timers: {scale: 0}\n", []string{"timers.scale: 0 must be greater than 0"}},
		{"scale negative", minGM + "timers: {scale: -1}\n", []string{"timers.scale: -1 must be greater than 0"}},
		{"scale text", minGM + "timers: {scale: fast}\n", []string{`timers.scale: "fast" is not a number`}},
		{"scale nan", minGM + "timers: {scale: .nan}\n", []string{`timers.scale: ".nan" is not a number`}},
		{"clock drift stops", minGM + "timers: {clock: {drift_ppm: -1000000}}\n", []string{"timers.clock.drift_ppm: -1e+06 must be greater than -1000000 and less than 1000000"}},
		{"clock drift backwards", minKS + "timers: {clock: {drift_ppm: -2e6}}\n", []string{"timers.clock.drift_ppm: -2e+06 must be greater than"}},
		{"clock drift too fast", minKS + "timers: {clock: {drift_ppm: 1e6}}\n", []string{"timers.clock.drift_ppm: 1e+06 must be greater than"}},
		{"clock drift text", minGM + "timers: {clock: {drift_ppm: fast}}\n", []string{`timers.clock.drift_ppm: "fast" is not a number`}},
		{"clock offset text", minGM + "timers: {clock: {offset: soon}}\n", []string{`timers.clock.offset: "soon" is not a duration`}},
		{"clock offset too long", minGM + "timers: {clock: {offset: -100000h}}\n", []string{`timers.clock.offset: "-100000h" is too long`}},
		{"clock unknown key", minGM + "timers: {clock: {skew: 1s}}\n", []string{"timers.clock.skew: unknown key"}},
		{"log level", minGM + "log: {level: loud, format: xml}\n", []string{`log.level: "loud" is not debug`, `log.format: "xml" is not text or json`}},
		{"log rate limit", minGM + "log: {rate_limit: -1}\n", []string{"log.rate_limit: -1 is out of range [0, 1000000]"}},
		{"log rate limit text", minGM + "log: {rate_limit: lots}\n", []string{`log.rate_limit: "lots" is not an integer`}},
		{"empty control socket", minGM + "control_socket: \"\"\n", []string{"control_socket: must not be empty"}},
		{"listen port", minGM + "listen: {port: 0, address: 10.0.0.256}\n", []string{"listen.port: 0 is out of range [1, 65535]", `listen.address: "10.0.0.256" is not an IP address`}},
		{"duplicate section", minGM + "ike: {policies: [{encryption: des, hash: md5, dh_group: 1, lifetime: 30}]}\n",
			[]string{"ike: duplicate key"}},
		{"ike policy", strings.Replace(minGM, "ike:\n", "ike:\n  policies: [{encryption: des, hash: md5, dh_group: 1, lifetime: 30}]\n", 1),
			[]string{`ike.policies[0].encryption: "des" is not aes128`, `ike.policies[0].hash: "md5" is not sha1`, "ike.policies[0].dh_group: 1 is not 14, 19 or 20", "ike.policies[0].lifetime: 30s is out of range [60s, 86400s]"}},
		{"ike weak dh", strings.Replace(minGM, "ike:\n", "ike:\n  policies: [{dh_group: 5}]\n", 1), []string{"ike.policies[0].dh_group: group 5 is weak; set ike.allow_weak_dh: true"}},
		{"psk missing key and peer", strings.Replace(minGM, "[{peer: 192.0.2.1, key: k}]", "[{peer: 192.0.2.1, key: k}, {}]", 1), []string{"ike.pre_shared_keys[1].key: missing", "ike.pre_shared_keys[1].peer: missing"}},
		{"psk duplicate", strings.Replace(minGM, "[{peer: 192.0.2.1, key: k}]", "[{peer: 192.0.2.1, key: k}, {peer: 192.0.2.1, key: j}]", 1), []string{"ike.pre_shared_keys[1].peer: 192.0.2.1 also has ike.pre_shared_keys[0]"}},
		{"psk two wildcards", strings.Replace(minGM, "[{peer: 192.0.2.1, key: k}]", "[{peer: \"*\", key: k}, {peer: 0.0.0.0, key: j}]", 1), []string{"ike.pre_shared_keys[1].peer: a second wildcard key"}},
		{"bool", strings.Replace(minGM, "ike:\n", "ike:\n  allow_weak_dh: maybe\n", 1), []string{`ike.allow_weak_dh: "maybe" is not true or false`}},
		{"many at once", "role: gm\ncolour: red\ngroups: [{name: G, id: 1, ks_list: [192.0.2.300, x]}]\n",
			[]string{"colour: unknown key", `groups[0].ks_list[0]: "192.0.2.300"`, `groups[0].ks_list[1]: "x"`}},
	} {
		if tc.name == "ACE transform not in the set list" {
			tc.yaml = strings.Replace(tc.yaml, "destination: 10.0.0.0/8}", "destination: 10.0.0.0/8, transform: aes128-sha1}", 1)
			tc.want = []string{"groups[0].acl[1].transform: aes128-sha1 is not in the group's transforms [aes256gcm16]"}
		}
		if tc.name == "acl too long" {
			var b strings.Builder
			for i := 0; i <= MaxACEs; i++ {
				b.WriteString("      - {action: permit}\n")
			}
			tc.yaml = strings.Replace(minKS, "    acl:\n", "    acl:\n"+b.String(), 1)
			tc.want = []string{"groups[0].acl: 103 entries, more than the 100"}
		}
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse([]byte(tc.yaml), "x.yaml")
			if err == nil {
				t.Fatalf("no error; config %+v", c)
			}
			if c != nil {
				t.Errorf("config returned with an error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\ndoes not contain %q", err, w)
				}
			}
		})
	}
}

func TestWarnings(t *testing.T) {
	for _, tc := range []struct {
		name string
		yaml string
		want string
	}{
		{"asymmetric permit", strings.Replace(minKS, "destination: 10.0.0.0/8}", "destination: any}", 1),
			`test.yaml: groups[0].acl[1]: asymmetric permit "permit ip 10.0.0.0/8 any": the return traffic goes in clear unless the mirror entry "permit ip any 10.0.0.0/8" is added`},
		{"asymmetric ports", strings.Replace(minKS, "{action: permit,", "{action: permit, protocol: tcp, destination_port: 80,", 1), `groups[0].acl[1]: asymmetric permit "permit tcp 10.0.0.0/8 10.0.0.0/8 eq 80"`},
		{"transform no entry uses", ksWith("    transforms: [3des-sha1, aes128-sha1]\n", ""),
			"groups[0].transforms[1]: aes128-sha1 is used by no permit entry: name it in an entry (transform: aes128-sha1), or remove it (only the first of transforms is a default)"},
		{"default transform no entry uses", strings.Replace(ksWith("    transforms: [3des-sha1, aes128-sha1]\n", ""), "destination: 10.0.0.0/8}", "destination: 10.0.0.0/8, transform: aes128-sha1}", 1),
			"groups[0].transforms[0]: 3des-sha1 is used by no permit entry: every one names its own transform"},
		{"GCM-8", ksWith("    transforms: [aes128gcm8]\n", ""), "groups[0].transforms[0]: aes128gcm8: getvpnd's group members cannot run AES-GCM with an 8-octet ICV"},
		{"transform listed twice", ksWith("    transforms: [3des-sha1, 3des-sha1]\n", ""), "groups[0].transforms[1]: 3des-sha1 is listed twice"},
		{"short TEK", ksWith("    tek_lifetime: 300\n", ""), "groups[0].tek_lifetime: 5m0s is below 900 s"},
		{"rekey lead past half the TEK", ksWith("    tek_lifetime: 300\n", ""), "groups[0].tek_lifetime: 5m0s leaves less than the rekey lead 3m30s (10% or 90 s, plus 2 retransmissions of 1m0s)"},
		{"KEK < 2 TEK", ksWith("    tek_lifetime: 7200\n    kek_lifetime: 10000\n", ""), "groups[0].kek_lifetime: 2h46m40s is less than twice the TEK lifetime 2h0m0s"},
		{"multicast not denied", strings.Replace(minKS, "destination: 239.1.1.1}", "destination: 239.9.9.9}", 1), "groups[0].acl: no deny entry for the multicast rekey address 239.1.1.1"},
		{"multicast permitted first", strings.Replace(minKS,
			"      - {action: deny, protocol: udp, destination: 239.1.1.1}\n      - {action: permit, source: 10.0.0.0/8, destination: 10.0.0.0/8}\n",
			"      - {action: permit}\n      - {action: deny, protocol: udp, destination: 239.1.1.1}\n", 1), "no deny entry for the multicast rekey address"},
		{"small signing key", strings.Replace(minKS, "rekey: {address: 239.1.1.1}", "rekey: {address: 239.1.1.1, signing_key: {bits: 1024}}", 1), "groups[0].rekey.signing_key.bits: 1024-bit RSA is accepted only for interop"},
		{"several groups without authorization", minKS + strings.Replace(strings.SplitN(minKS, "groups:\n", 2)[1], "name: G\n    id: 1", "name: H\n    id: 2", 1), "groups[0].authorization: empty while the KS serves 2 groups"},
		{"wildcard PSK", strings.Replace(minGM, "peer: 192.0.2.1", "peer: \"*\"", 1), "ike.pre_shared_keys[0].peer: a wildcard pre-shared key is discouraged"},
		{"wildcard PSK 0.0.0.0", strings.Replace(minGM, "peer: 192.0.2.1", "peer: 0.0.0.0", 1), "ike.pre_shared_keys[0].peer: a wildcard"},
		{"weak DH allowed", strings.Replace(minGM, "ike:\n", "ike:\n  allow_weak_dh: true\n  policies: [{encryption: 3des, dh_group: 2}]\n", 1), "ike.policies[0].dh_group: group 2 is weak (allowed by ike.allow_weak_dh)"},
		{"GM IKE lifetime", strings.Replace(minGM, "ike:\n", "ike:\n  policies: [{lifetime: 86400}]\n", 1), "ike.policies[0].lifetime: 24h0m0s: a GM's IKE lifetime should be 15-30 min"},
		{"KS IKE lifetime", strings.Replace(minKS, "ike:\n", "ike:\n  policies: [{lifetime: 1200}]\n", 1), "ike.policies[0].lifetime: 20m0s: keep the KS's IKE lifetime at the 24 h default"},
		{"unicast without acks", strings.Replace(minKS, "rekey: {address: 239.1.1.1}", "rekey: {transport: unicast, ack: none}", 1), "groups[0].rekey.ack: none with unicast rekeys"},
		{"KS without PSK", strings.Replace(minKS, "  pre_shared_keys: [{peer: 192.0.2.11, key: lab-secret}]\n", "", 1), "ike.pre_shared_keys: none: no GM can authenticate to this KS"},
		{"GM keepalive", strings.Replace(minGM, "ike:\n", "ike:\n  keepalive: {interval: 15s}\n", 1), "ike.keepalive: dead peer detection between GM and KS is not supported by the seeds (CO-03)"},
		{"short PSK", minGM, "ike.pre_shared_keys[0].key: 1 octets: a pre-shared key this short can be guessed offline from one captured main mode; use at least 8 (a long random string) (line 4, column 39)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := parse(t, tc.yaml)
			w := strings.Join(c.Warnings(), "\n")
			if !strings.Contains(w, tc.want) {
				t.Errorf("warnings %q\ndo not contain %q", w, tc.want)
			}
		})
	}
}

func TestKeyFor(t *testing.T) {
	c := parse(t, strings.Replace(minGM, "[{peer: 192.0.2.1, key: k}]", "[{peer: \"*\", key: w}, {peer: 192.0.2.1, key: k}]", 1))
	for _, tc := range []struct{ peer, want string }{{"192.0.2.1", "k"}, {"192.0.2.2", "w"}, {"::ffff:192.0.2.1", "k"}} {
		if got, _ := c.IKE.KeyFor(mustAddr(tc.peer)); got != tc.want {
			t.Errorf("KeyFor(%s) = %q, want %q", tc.peer, got, tc.want)
		}
	}
}

func TestInteropProfile(t *testing.T) {
	for _, name := range InteropProfiles {
		for _, y := range []string{gmWith(", interop_profile: "+name, ""), ksWith("    interop_profile: "+name+"\n", "")} {
			c, err := Parse([]byte(y), "x.yaml")
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if got := c.Groups[0].InteropProfile; got != name {
				t.Errorf("interop_profile %s read as %q", name, got)
			}
		}
	}
}

// TestACETransforms is the corpus config's layout (gdoid a-plain-kekaes:
// TEK1 3DES + HMAC-SHA1, TEK2 AES-CBC-128 + HMAC-SHA1): each permit entry
// gets its own transform or the group's first, every listed transform is
// used, so there is no warning about them, and mirrors with different
// transforms still count as mirrors.
func TestACETransforms(t *testing.T) {
	y := strings.Replace(ksWith("    transforms: [3des-sha1, aes128-sha1]\n", ""),
		"      - {action: permit, source: 10.0.0.0/8, destination: 10.0.0.0/8}\n",
		"      - {action: permit, source: 10.1.0.0/16, destination: 10.2.0.0/16}\n"+
			"      - {action: permit, source: 10.2.0.0/16, destination: 10.1.0.0/16, transform: AES128-SHA1}\n", 1)
	c := parse(t, y)
	if w := c.Warnings(); len(w) != 0 {
		t.Errorf("warnings: %q", w)
	}
	g := &c.Groups[0]
	tdes := esp.Transform{ID: esp.Transform3DES, Auth: esp.AuthHMACSHA1}
	aes := esp.Transform{ID: esp.TransformAESCBC, KeyBits: 128, Auth: esp.AuthHMACSHA1}
	for i, want := range []struct {
		names bool
		tr    esp.Transform
		str   string
	}{
		{false, tdes, "permit ip 10.1.0.0/16 10.2.0.0/16"},
		{true, aes, "permit ip 10.2.0.0/16 10.1.0.0/16 transform aes128-sha1"},
	} {
		e := g.ACL[i+1]
		if e.NamesTransform() != want.names || g.TransformOf(e) != want.tr || e.String() != want.str {
			t.Errorf("acl[%d] = %q: names %v, TransformOf %v; want %v, %v, %q", i+1, e, e.NamesTransform(), g.TransformOf(e), want.names, want.tr, want.str)
		}
	}
}
