package impl

import (
	"fmt"
	"strings"
	"testing"

	"github.com/getlab/getlab/harness/scenario"
	"github.com/getlab/getlab/harness/testbuild"
)

// A staged clock skew renders on getvpnd as timers.clock on that node
// only (an offset left out as 0s), getvpnd --check takes it without a
// warning, and an implementation without clock-skew refuses it, naming
// the capability.
func TestClockSkewRenders(t *testing.T) {
	bin, gv, wire := getvpndAndWire(t)
	s := scenario.Default()
	s.KeyServers[0].Clock = &scenario.ClockSkew{Offset: "1h"}
	s.GroupMembers[0].Clock = &scenario.ClockSkew{DriftPPM: 100}
	s.GroupMembers[1].Clock = &scenario.ClockSkew{Offset: "-90s", DriftPPM: -250.5}
	for _, c := range []struct {
		role   Role
		node   string
		offset string
		drift  float64
	}{
		{KS, "ks1", "1h", 0},
		{GM, "gm1", "0s", 100},
		{GM, "gm2", "-90s", -250.5},
	} {
		cfg := renderYAML(t, gv, c.role, s, c.node)
		if got := at(cfg, "timers.clock.offset"); got != c.offset {
			t.Errorf("%s: timers.clock.offset %v, want %s", c.node, got, c.offset)
		}
		if got := norm(at(cfg, "timers.clock.drift_ppm")); got != c.drift {
			t.Errorf("%s: timers.clock.drift_ppm %v, want %v", c.node, got, c.drift)
		}
		checksClean(t, bin, gv, c.role, s, c.node)
	}
	for role, node := range map[Role]string{KS: "ks1", GM: "gm1"} {
		if out, _ := gv.Render(role, scenario.Default(), node); strings.Contains(string(out), "clock") {
			t.Errorf("the default scenario renders a clock on %s:\n%s", node, out)
		}
	}

	if !gv.Offers(ClockSkew) || wire.Offers(ClockSkew) {
		t.Errorf("clock-skew offered: getvpnd %v, getvpnd-wire %v", gv.Offers(ClockSkew), wire.Offers(ClockSkew))
	}
	for _, c := range []struct {
		role       Role
		node, want string
	}{
		{KS, "ks1", `getvpnd-wire: ks ks1: clock offset "1h" drift 0 ppm: the implementation does not offer clock-skew`},
		{GM, "gm2", `getvpnd-wire: gm gm2: clock offset "-90s" drift -250.5 ppm: the implementation does not offer clock-skew`},
	} {
		if _, err := wire.Render(c.role, s, c.node); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("want %q, got %v", c.want, err)
		}
	}
}

// getvpndAndWire are the binaries' folder and the implementations a
// capability test compares: getvpnd, which offers the capability, and
// getvpnd-wire, which does not.
func getvpndAndWire(t *testing.T) (bin string, gv, wire *Impl) {
	t.Helper()
	bin, err := testbuild.Bin()
	if err != nil {
		t.Fatal(err)
	}
	r := registry(t)
	gv, _ = r.Get("getvpnd")
	wire, _ = r.Get("getvpnd-wire")
	return bin, gv, wire
}

// A GM's tcp_mss renders on getvpnd as data_plane.tcp_mss on that GM only,
// alone (the data_plane section then holds it alone) or beside df_bit;
// getvpnd --check takes it without a warning; an implementation without
// tcp-mss refuses it, naming the capability.
func TestTCPMSSRenders(t *testing.T) {
	bin, gv, wire := getvpndAndWire(t)
	s := scenario.Default()
	s.GroupMembers[0].TCPMSS = 1360
	s.GroupMembers[1].TCPMSS = 1400
	s.GroupMembers[1].DFBit = "clear"
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		node  string
		mss   float64
		dfBit any
	}{
		{"gm1", 1360, nil},
		{"gm2", 1400, "clear"},
	} {
		cfg := renderYAML(t, gv, GM, s, c.node)
		if got := at(cfg, "data_plane.tcp_mss"); got != c.mss {
			t.Errorf("%s: data_plane.tcp_mss %v, want %v", c.node, got, c.mss)
		}
		if got := at(cfg, "data_plane.df_bit"); got != c.dfBit {
			t.Errorf("%s: data_plane.df_bit %v, want %v", c.node, got, c.dfBit)
		}
		checksClean(t, bin, gv, GM, s, c.node)
	}
	if out, _ := gv.Render(GM, scenario.Default(), "gm1"); strings.Contains(string(out), "tcp_mss") {
		t.Errorf("the default scenario renders tcp_mss:\n%s", out)
	}

	if !gv.Offers(TCPMSS) || wire.Offers(TCPMSS) {
		t.Errorf("tcp-mss offered: getvpnd %v, getvpnd-wire %v", gv.Offers(TCPMSS), wire.Offers(TCPMSS))
	}
	want := "getvpnd-wire: gm gm1: tcp_mss 1360: the implementation does not offer tcp-mss"
	if _, err := wire.Render(GM, s, "gm1"); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("want %q, got %v", want, err)
	}
}

// A GM's multicast_lan renders on getvpnd as data_plane.multicast.lan,
// getvpnd --check takes it without a warning, and an implementation
// without multicast-data refuses it.
func TestMulticastDataRenders(t *testing.T) {
	bin, gv, wire := getvpndAndWire(t)
	s := scenario.Default()
	s.GroupMembers[0].MulticastLAN = []string{"eth2"}
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	cfg := renderYAML(t, gv, GM, s, "gm1")
	if got := fmt.Sprint(at(cfg, "data_plane.multicast.lan")); got != "[eth2]" {
		t.Errorf("data_plane.multicast.lan %s, want [eth2]", got)
	}
	checksClean(t, bin, gv, GM, s, "gm1")
	if out, _ := gv.Render(GM, s, "gm2"); strings.Contains(string(out), "multicast:") {
		t.Errorf("gm2 renders multicast:\n%s", out)
	}
	want := "getvpnd-wire: gm gm1: multicast_lan [eth2]: the implementation does not offer multicast-data"
	if _, err := wire.Render(GM, s, "gm1"); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("want %q, got %v", want, err)
	}
	s.GroupMembers[0].MulticastLAN = []string{"eth1"}
	if err := s.Validate(); err == nil || !strings.Contains(err.Error(), "multicast_lan[0]") {
		t.Errorf("the registration interface as a LAN: %v", err)
	}
}
