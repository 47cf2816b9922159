package mroute

import (
	"encoding/binary"
	"net/netip"
	"slices"
	"strings"
	"testing"
)

const conf = `# r1
phyint eth1 enable
phyint eth2 enable ttl-threshold 1
phyint eth3
mroute from eth1 source 192.0.2.1 group 239.192.0.1 to eth2 eth3
mroute from eth2 group 239.193.0.0/16 to eth3   # data
`

func TestParseConfig(t *testing.T) {
	c, err := ParseConfig([]byte(conf), "r1.conf")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c.Phyints, []string{"eth1", "eth2", "eth3"}) {
		t.Errorf("phyints %v", c.Phyints)
	}
	want := []string{
		"(192.0.2.1, 239.192.0.1) from eth1 to eth2 eth3",
		"(*, 239.193.0.0/16) from eth2 to eth3",
	}
	var got []string
	for _, r := range c.Routes {
		got = append(got, r.String())
	}
	if !slices.Equal(got, want) {
		t.Errorf("routes\n got %q\nwant %q", got, want)
	}
}

func TestParseConfigErrors(t *testing.T) {
	for _, tc := range []struct{ conf, want string }{
		{"mgroup from eth1 group 239.1.1.1", `x line 1: "mgroup" is not a directive`},
		{"phyint", "x line 1: phyint: no interface"},
		{"phyint eth1 enable mrdisc", `phyint eth1: "mrdisc" not understood`},
		{"phyint eth1\nmroute from eth1 group 239.1.1.1 to eth2", "x line 2: mroute: eth2 is not an enabled phyint"},
		{"phyint eth1\nphyint eth2\nmroute from eth1 group 10.1.1.1 to eth2", "not within 224.0.0.0/4"},
		{"phyint eth1\nphyint eth2\nmroute from eth1 source 239.1.1.1/33 group 239.1.1.1 to eth2", "source:"},
		{"phyint eth1\nmroute from eth1 group 239.1.1.1 to eth1", "eth1 is both inbound and outbound"},
		{"phyint eth1\nmroute from eth1 group 239.1.1.1 to", "no outbound interface"},
		{"phyint eth1\nmroute eth1 group 239.1.1.1 to eth2", "want from IIF"},
	} {
		_, err := ParseConfig([]byte(tc.conf), "x")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want %q", tc.conf, err, tc.want)
		}
	}
}

func TestParseKey(t *testing.T) {
	k, err := ParseKey([]string{"eth1", "192.0.2.1", "239.192.0.1"})
	if err != nil || k != (Key{In: "eth1", Source: netip.MustParsePrefix("192.0.2.1/32"), Group: netip.MustParsePrefix("239.192.0.1/32")}) {
		t.Errorf("%+v %v", k, err)
	}
	k, err = ParseKey([]string{"eth1", "239.193.0.0/16"})
	if err != nil || k.Source.IsValid() || k.Group != netip.MustParsePrefix("239.193.0.0/16") {
		t.Errorf("(*,G): %+v %v", k, err)
	}
	for _, bad := range [][]string{{"eth1"}, {"eth1", "192.0.2.1"}, {"eth1", "239.1.1.1", "eth2"}} {
		if _, err := ParseKey(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	r, err := ParseRoute([]string{"eth1", "192.0.2.1", "239.192.0.1", "eth2", "eth3"}, false)
	if err != nil || r.String() != "(192.0.2.1, 239.192.0.1) from eth1 to eth2 eth3" {
		t.Errorf("route %v %v", r, err)
	}
}

// frame is an Ethernet frame with a UDP datagram from src to dst with ttl.
func frame(src, dst string, ttl uint8) []byte {
	f := make([]byte, 14+20+8+4)
	binary.BigEndian.PutUint16(f[12:], 0x0800)
	ip := f[14:]
	ip[0], ip[8], ip[9] = 0x45, ttl, 17
	binary.BigEndian.PutUint16(ip[2:], uint16(len(ip)))
	s, d := netip.MustParseAddr(src).As4(), netip.MustParseAddr(dst).As4()
	copy(ip[12:], s[:])
	copy(ip[16:], d[:])
	binary.BigEndian.PutUint16(ip[10:], checksum(ip[:20]))
	return f
}

func TestForward(t *testing.T) {
	c, err := ParseConfig([]byte(conf), "r1.conf")
	if err != nil {
		t.Fatal(err)
	}
	tab := NewTable(c.Routes)
	in := frame("192.0.2.1", "239.192.0.1", 16)
	orig := slices.Clone(in)
	oifs, out := tab.Forward("eth1", in)
	if !slices.Equal(oifs, []string{"eth2", "eth3"}) {
		t.Fatalf("oifs %v", oifs)
	}
	if !slices.Equal(in, orig) {
		t.Error("the frame read was changed")
	}
	ip := out[14:]
	if ip[8] != 15 || checksum(ip[:20]) != 0 {
		t.Errorf("TTL %d, checksum %#04x (want 15, valid)", ip[8], binary.BigEndian.Uint16(ip[10:]))
	}
	if got := out[0:6]; !slices.Equal(got, []byte{0x01, 0x00, 0x5e, 0x40, 0x00, 0x01}) {
		t.Errorf("destination MAC % x, want the group's 01:00:5e:40:00:01", got)
	}
	// Every TTL from 255 down: the incremental checksum is the full one.
	for ttl := 255; ttl > 1; ttl-- {
		_, out := tab.Forward("eth1", frame("192.0.2.1", "239.192.0.1", uint8(ttl)))
		if checksum(out[14:34]) != 0 {
			t.Fatalf("TTL %d: checksum wrong after the decrement", ttl)
		}
	}
	for _, tc := range []struct {
		name, in string
		f        []byte
	}{
		{"another source", "eth1", frame("192.0.2.2", "239.192.0.1", 16)},
		{"wrong interface", "eth2", frame("192.0.2.1", "239.192.0.1", 16)},
		{"link-local group", "eth1", frame("192.0.2.1", "224.0.0.5", 16)},
		{"unicast", "eth1", frame("192.0.2.1", "192.0.2.33", 16)},
		{"TTL 1", "eth1", frame("192.0.2.1", "239.192.0.1", 1)},
		{"short", "eth1", frame("192.0.2.1", "239.192.0.1", 16)[:30]},
	} {
		if oifs, out := tab.Forward(tc.in, tc.f); oifs != nil || out != nil {
			t.Errorf("%s: forwarded to %v", tc.name, oifs)
		}
	}
	bad := frame("192.0.2.1", "239.192.0.1", 16)
	bad[14+10] ^= 0xff
	if oifs, _ := tab.Forward("eth1", bad); oifs != nil {
		t.Error("a bad header checksum was forwarded")
	}
	if oifs, _ := tab.Forward("eth2", frame("198.51.100.10", "239.193.1.1", 8)); !slices.Equal(oifs, []string{"eth3"}) {
		t.Errorf("(*,G): %v", oifs)
	}
	un := tab.Unrouted()
	if un["no route"] != 2 || un["ttl expired"] != 1 || un["bad header checksum"] != 1 {
		t.Errorf("unrouted %v", un)
	}
	var pk uint64
	for _, r := range tab.Routes() {
		pk += r.Packets
	}
	if pk != 1+254+1 {
		t.Errorf("packets counted %d", pk)
	}
}

func TestAddRemove(t *testing.T) {
	tab := NewTable(nil)
	r := Route{In: "eth1", Source: netip.MustParsePrefix("192.0.2.1/32"), Group: netip.MustParsePrefix("239.192.0.1/32"), Out: []string{"eth2"}}
	tab.Add(r)
	if oifs, _ := tab.Forward("eth1", frame("192.0.2.1", "239.192.0.1", 16)); len(oifs) != 1 {
		t.Fatal("not forwarded after Add")
	}
	r.Out = []string{"eth2", "eth3"}
	tab.Add(r)
	if n := len(tab.Routes()); n != 1 {
		t.Errorf("%d routes after replacing one", n)
	}
	if !tab.Remove(r.Key()) || tab.Remove(r.Key()) {
		t.Error("Remove: want true, then false")
	}
	if oifs, _ := tab.Forward("eth1", frame("192.0.2.1", "239.192.0.1", 16)); oifs != nil {
		t.Error("forwarded after Remove")
	}
}

func FuzzForward(f *testing.F) {
	f.Add(frame("192.0.2.1", "239.192.0.1", 16))
	f.Add(frame("192.0.2.1", "224.0.0.1", 1))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, _ := ParseConfig([]byte(conf), "r1.conf")
		tab := NewTable(c.Routes)
		in := slices.Clone(b)
		oifs, out := tab.Forward("eth1", b)
		if !slices.Equal(in, b) {
			t.Fatal("input changed")
		}
		if oifs != nil && (len(out) != len(b) || checksum(out[14:14+int(out[14]&0x0f)*4]) != 0) {
			t.Fatal("forwarded a frame with a bad header checksum")
		}
	})
}
