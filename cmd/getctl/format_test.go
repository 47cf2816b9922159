package main

import (
	"bytes"
	"flag"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/getlab/getlab/gateway/control"
)

var update = flag.Bool("show", false, "print the rendered samples")

var (
	regAt = time.Date(2026, 11, 23, 21, 0, 0, 0, time.UTC)
	rereg = 81.7
)

func sampleGM() control.GDOI {
	return control.GDOI{
		Role: "gm", Identity: "192.0.2.11", Version: "0.1.0", GDOIVersion: "1.0.27", Scale: 1,
		Groups: []control.GroupStatus{{
			Name: "GETVPN", ID: 1234,
			GM: &control.GMGroup{
				State: "registered", KeyServer: "192.0.2.1",
				KSList:        []string{"192.0.2.1", "192.0.2.2"},
				Registrations: 1, Attempts: 2, LastRegistered: &regAt, ReregisterIn: &rereg, ReregisterFor: "tek", Seq: 5,
				RekeyTransport: "unicast", RekeysReceived: 4, AcksSent: 4, RekeysRejected: 1,
				Direction: "inbound-optional", DirectionBy: "passive",
			},
			KEK: &control.KEK{SPI: "8e5f3a0c9b2d4e1f00112233aabbccdd", Algorithm: "aes", KeyBits: 256,
				SigHash: "sha256", SigAlgorithm: "rsa", SigKeyBits: 2048, Lifetime: 86400, Remaining: 85505.6, Seq: 5},
			TEKs: []control.TEK{
				{SPI: "0x2d45c4e9", Transform: "aes256gcm16", Src: "198.51.100.0/24", Dst: "203.0.113.0/24",
					Lifetime: 3600, Remaining: 12.4, AddressPreservation: "src-dst", Direction: "both",
					Counters: &control.SACounters{Send: true, EncryptedPackets: 300, EncryptedBytes: 60000, DecryptedPackets: 2, DecryptedBytes: 400, AuthFailures: 1}},
				{SPI: "0xd835db99", Transform: "aes256gcm16", Src: "198.51.100.0/24", Dst: "203.0.113.0/24",
					Lifetime: 3600, Remaining: 3590, AddressPreservation: "src-dst", Direction: "both"},
			},
			ACL:      []string{"deny udp any port 848 any port 848", "permit ip 198.51.100.0/24 203.0.113.0/24"},
			LocalACL: []string{"deny udp any any eq 9999"},
		}},
		DataPlane: &control.DataPlane{Enabled: true, LANDevice: "gvpn-lan", WANDevice: "gvpn-wan", WANInterface: "eth1",
			WANMTU: 1500, DFBit: "copy", Queues: 2, LocalDenyInbound: "ios",
			FailClose: "armed", FailCloseACL: []string{"deny tcp any any eq 22"},
			Counters: map[string]uint64{"out_encrypted": 300, "in_drop_clear_permit": 50, "in_drop_auth": 0}},
	}
}

func sampleKS() control.GDOI {
	return control.GDOI{
		Role: "ks", Identity: "ks1", Version: "0.1.0", GDOIVersion: "1.0.27", Scale: 0.01,
		Groups: []control.GroupStatus{{
			Name: "GETVPN", ID: 1234,
			KS: &control.KSGroup{Members: 2, Registrations: 3, RekeysSent: 4, RekeyTransport: "unicast",
				SigningKeyBits: 2048, SigningKeyHash: "5d41402abc4b2a76b9719d911017c592"},
			KEK: &control.KEK{SPI: "8e5f3a0c9b2d4e1f00112233aabbccdd", Algorithm: "aes", KeyBits: 256,
				SigHash: "sha256", SigAlgorithm: "rsa", SigKeyBits: 2048, Lifetime: 86400, Remaining: 85505, Seq: 4},
			TEKs: []control.TEK{{SPI: "0x2d45c4e9", Transform: "aes256gcm16", Src: "198.51.100.0/24", Dst: "203.0.113.0/24",
				Lifetime: 3600, Remaining: 789, AddressPreservation: "src-dst", Direction: "both"}},
			ACL: []string{"permit ip 198.51.100.0/24 203.0.113.0/24"},
		}},
	}
}

// hasLines checks that out contains each line, whole, in order.
func hasLines(t *testing.T, out string, want ...string) {
	t.Helper()
	lines := strings.Split(out, "\n")
	i := 0
	for _, w := range want {
		for i < len(lines) && lines[i] != w {
			i++
		}
		if i == len(lines) {
			t.Errorf("missing line (or out of order): %q\nin:\n%s", w, out)
			return
		}
	}
}

func TestFormatGDOIGM(t *testing.T) {
	var b bytes.Buffer
	formatGDOI(&b, sampleGM())
	out := b.String()
	if *update {
		os.Stdout.WriteString(out)
	}
	hasLines(t, out,
		"getvpnd 0.1.0 (GDOI 1.0.27), role GM (group member), identity 192.0.2.11",
		"GROUP INFORMATION",
		"    Group Name               : GETVPN",
		"    Group Identity           : 1234",
		"    IPSec SA Direction       : Both",
		"    Active Group Server      : 192.0.2.1",
		"    Group Server list        : 192.0.2.1",
		"                               192.0.2.2",
		"    Group member             : 192.0.2.11",
		"       Version               : 1.0.27",
		"       Registration status   : Registered",
		"       Registered with       : 192.0.2.1",
		"       Re-registers in       : 81 sec (TEK)",
		"       Succeeded registration: 1",
		"       Attempted registration: 2",
		"       Last registration     : 2026-11-23T21:00:00Z",
		"       Last rekey seq num    : 5",
		"       Rekey transport       : Unicast",
		"       Rekeys received       : 4",
		"       IPSec SA Direction    : Inbound Optional (passive)",
		"       Rekey acks sent       : 4",
		"       Rekeys rejected       : 1",
		" ACL Downloaded From KS 192.0.2.1:",
		"   access-list   deny udp any port 848 any port 848",
		"   access-list   permit ip 198.51.100.0/24 203.0.113.0/24",
		" ACL Configured Locally:",
		"   access-list   deny udp any any eq 9999",
		"KEK POLICY:",
		"    SPI                      : 8e5f3a0c9b2d4e1f00112233aabbccdd",
		"    Lifetime (secs)          : 86400",
		"    Remaining Lifetime (secs): 85505",
		"    Encrypt Algorithm        : AES",
		"    Key Size                 : 256",
		"    Sig Hash Algorithm       : SHA256",
		"    Sig Key Length (bits)    : 2048",
		"TEK POLICY:",
		"        spi: 0x2D45C4E9(759547113)",
		"        transform: aes256gcm16",
		"        selector: 198.51.100.0/24 -> 203.0.113.0/24",
		"        sa timing:remaining key lifetime (sec): (12)",
		"        #pkts encrypt: 300, #bytes encrypt: 60000",
		"        #pkts decrypt: 2, #bytes decrypt: 400",
		"        #pkts verify failed: 1, #pkts outside selector: 0",
		"        spi: 0xD835DB99(3627408281)",
		"        sa timing:remaining key lifetime (sec): (3590)",
		"DATA PLANE:",
		"    Status                   : running",
		"    WAN interface            : eth1",
		"    TUN devices              : gvpn-lan (from the LAN), gvpn-wan (from the WAN)",
		"    DF bit                   : copy",
		"    Fail-close               : armed",
		"        deny tcp any any eq 22",
		"        in_drop_clear_permit     50",
		"        out_encrypted            300",
	)
	if strings.Contains(out, "in_drop_auth") {
		t.Error("zero counter printed")
	}
	if strings.Contains(out, "Last error") {
		t.Error("Last error printed without an error")
	}
}

func TestFormatGDOIKS(t *testing.T) {
	var b bytes.Buffer
	formatGDOI(&b, sampleKS())
	out := b.String()
	if *update {
		os.Stdout.WriteString(out)
	}
	hasLines(t, out,
		"getvpnd 0.1.0 (GDOI 1.0.27), role KS (key server), identity ks1, timer scale 0.01 (times below are protocol seconds)",
		"    Group Name               : GETVPN (Unicast)",
		"    Group Identity           : 1234",
		"    Group Members            : 2",
		"    Active Group Server      : Local",
		"    Rekeys sent              : 4",
		"    Group Rekey Lifetime     : 86400 secs",
		"      Remaining Lifetime     : 85505 secs",
		"    IPSec SA Number          : 1",
		"    IPSec SA Rekey Lifetime  : 3600 secs",
		"      Remaining Lifetime     : 789 secs",
		" ACL Configured:",
		"   access-list   permit ip 198.51.100.0/24 203.0.113.0/24",
		"KEK POLICY:",
		"    Rekey Transport Type     : Unicast",
		"TEK POLICY:",
		"        spi: 0x2D45C4E9(759547113)",
	)
}

func TestFormatGDOIEdges(t *testing.T) {
	var b bytes.Buffer
	formatGDOI(&b, control.GDOI{Role: "gm"})
	if !strings.Contains(b.String(), "No groups configured.") {
		t.Errorf("%s", b.String())
	}
	b.Reset()
	formatGDOI(&b, control.GDOI{Role: "gm", Groups: []control.GroupStatus{{
		Name: "G", ID: 1, GM: &control.GMGroup{State: "failed", KeyServer: "192.0.2.2", KSList: []string{"192.0.2.1", "192.0.2.2"}, Attempts: 3, LastError: "timeout"},
	}}})
	hasLines(t, b.String(),
		"       Registration status   : Failed",
		"       Registering with      : 192.0.2.2",
		"       Last error            : timeout",
		" ACL Downloaded From KS 192.0.2.2: none",
		"KEK POLICY: none",
		"TEK POLICY: none",
	)
}

func TestFormatOthers(t *testing.T) {
	var b bytes.Buffer
	formatMembers(&b, []control.Member{{Address: "192.0.2.11", Identity: "gm1", Group: "GETVPN", GroupID: 1234,
		Version: "1.0.27", KeyServer: "192.0.2.1", RegisteredAt: regAt, Registrations: 1, RekeysSent: 3,
		AcksReceived: 2, AcksMissed: 1, SentSeq: []uint32{1, 2, 3}, ReceivedSeq: []uint32{1, 2}}})
	hasLines(t, b.String(),
		"Group Member Information :",
		"Group Member ID    : 192.0.2.11       GM Version: 1.0.27",
		" Group Name        : GETVPN",
		" Key Server ID     : 192.0.2.1",
		" Rekey Acks missed : 1",
		" Sent seq num : 1 2 3",
		" Rcvd seq num : 1 2",
	)
	b.Reset()
	formatIKESAs(&b, []control.IKESA{{Local: "192.0.2.11", Peer: "192.0.2.1", Cookies: "0102030405060708|1112131415161718",
		Initiator: true, State: "GDOI_IDLE", Suite: "aes256-sha256-g14", Lifetime: 86400, Remaining: 86117}})
	hasLines(t, b.String(),
		"local       peer       state      role  suite              lifetime  remaining  cookies",
		"192.0.2.11  192.0.2.1  GDOI_IDLE  I     aes256-sha256-g14  86400     23:55:17   0102030405060708|1112131415161718",
	)
	b.Reset()
	formatCounters(&b, map[string]uint64{"esp.rx": 1200, "esp.tx": 7, "ike.sa": 1})
	hasLines(t, b.String(), "esp.rx  1200", "esp.tx     7", "ike.sa     1")
	b.Reset()
	formatEvent(&b, control.Event{Seq: 12, Time: regAt, Name: "GM_REGS_COMPL", Facility: "GDOI", Severity: 5,
		Message: "Registration to KS 192.0.2.1 complete for group GETVPN using address 192.0.2.11"})
	hasLines(t, b.String(), "    12 2026-11-23T21:00:00.000Z %GDOI-5-GM_REGS_COMPL: Registration to KS 192.0.2.1 complete for group GETVPN using address 192.0.2.11")
	for _, f := range []func(){
		func() { formatMembers(&b, nil) }, func() { formatIKESAs(&b, nil) }, func() { formatCounters(&b, nil) },
	} {
		b.Reset()
		f()
		if !strings.HasPrefix(b.String(), "No ") {
			t.Errorf("empty: %q", b.String())
		}
	}
}

// TestFormatCOOP: "show crypto gdoi ks coop" as S0 §5.4.1.7 lays it out,
// for a primary and a secondary.
func TestFormatCOOP(t *testing.T) {
	peer := control.COOPPeer{Address: "172.18.5.2", Priority: 75, Role: "secondary", Status: "alive", Version: "1.0.0",
		AntireplaySeq: 2, IKEStatus: "established", AnnSent: 61, AnnSentReplyRequest: 1, AnnRecv: 1, AnnRecvReplyRequest: 2,
		PacketSentDrops: 2, BytesSent: 33402, BytesRecv: 1170}
	var b strings.Builder
	formatCOOP(&b, []control.COOP{
		{Group: "getvpn", LocalAddress: "172.16.4.2", LocalPriority: 100, Role: "primary", Status: "alive", Version: "1.0.0",
			Refresh: 20, Periodic: 30, Retransmit: 2, Remaining: 17.6, Peers: []control.COOPPeer{peer}},
		{Group: "other", LocalAddress: "100.1.1.5", LocalPriority: 75, Role: "secondary", Status: "alive", Version: "1.0.0",
			Primary: "100.1.1.1", Synced: true, Refresh: 20, Periodic: 30, Retransmit: 2, Remaining: 11},
	})
	out := b.String()
	for _, want := range []string{
		"Crypto Gdoi Group Name :getvpn\n", "Local Priority: 100\n", "Local KS Role: Primary , Local KS Status: Alive\n",
		"    Primary Refresh Policy Time: 20\n    Remaining Time: 17\n",
		"    Peer KS Role: Secondary , Peer KS Status: Alive\n", "    Antireplay Sequence Number: 2\n", "    IKE status: Established\n",
		"        Ann msgs sent: 61\n", "        Ann msgs sent with reply request: 1\n", "        Ann msgs recv with reply request: 2\n",
		"        Packet sent drops: 2\n", "        Total bytes sent: 33402\n", "        Total bytes recv: 1170\n",
		"Local KS Role: Secondary , Local KS Status: Alive\n", "Primary KS: 100.1.1.1\n",
		"    Sec Primary Periodic Time: 30\n    Remaining Time: 11, Retries: 0\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	b.Reset()
	formatCOOP(&b, nil)
	if b.String() != "No group has cooperative key servers.\n" {
		t.Errorf("no groups: %q", b.String())
	}
}

// TestFormatFeatures: "show crypto gdoi feature NAME" as S0 §3.15 lays it
// out: supported by the listed features, else by the version (S0 Table
// 3), else Unknown.
func TestFormatFeatures(t *testing.T) {
	f := control.Features{Groups: []control.GroupFeatures{{
		Group:      "GET",
		KeyServers: []control.Device{{Address: "10.0.8.1", Version: "1.0.1", Features: []string{"gdoi-interop-ack"}}},
		Members: []control.Device{
			{Address: "5.0.0.2", Version: "1.0.3"},
			{Address: "9.0.0.2", Version: "1.0.1"},
			{Address: "9.0.0.3", Version: "unknown"},
		},
	}}}
	var b strings.Builder
	formatFeatures(&b, f, "gm-removal")
	out := b.String()
	for _, want := range []string{
		"Group Name: GET\n", "    Key Server ID          Version    Feature Supported\n",
		"        10.0.8.1           1.0.1      No\n", "        5.0.0.2            1.0.3      Yes\n",
		"        9.0.0.2            1.0.1      No\n", "        9.0.0.3            unknown    Unknown\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}
