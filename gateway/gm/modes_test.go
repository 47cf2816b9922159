package gm

import (
	"io"
	"net/netip"
	"testing"
	"time"

	"github.com/getlab/getlab/gateway/config"
	"github.com/getlab/getlab/gateway/events"
	"github.com/getlab/getlab/gateway/gdoi"
	"github.com/getlab/getlab/gateway/internal/testnet"
	"github.com/getlab/getlab/gateway/phase1"
	gdoiwire "github.com/getlab/getlab/gateway/wire/gdoi"
	"github.com/getlab/getlab/gateway/wire/isakmp"
)

// TestDirectionMigration: receive-only TEKs make a group inbound-only;
// the first symmetric TEKs after them inbound-optional; the next rekey
// both (GM-62). A local override holds until the next rekey (GM-63); a
// passive group stays inbound-optional whatever the KS sends (GM-64).
func TestDirectionMigration(t *testing.T) {
	for _, passive := range []bool{false, true} {
		cfg, err := config.Parse([]byte(testnet.GMYAML(testnet.KS(1).Addr())), "gm.yaml")
		if err != nil {
			t.Fatal(err)
		}
		cfg.Groups[0].Passive = passive
		var told []string
		m, err := New(cfg, Options{Env: phase1.Env{Events: events.New(io.Discard, "text", "error"), Counters: &events.Counters{}, Local: testnet.GM(1),
			Send: func(netip.AddrPort, []byte) {}}, OnDirection: func(_, dir string) { told = append(told, dir) }})
		if err != nil {
			t.Fatal(err)
		}
		g := m.groups[0]
		tek := func(spi uint32, dir gdoiwire.SADir) gdoi.TEK {
			return gdoi.TEK{SPI: spi, Direction: dir, Lifetime: time.Hour}
		}
		step := func(what string, old, p *gdoi.Policy, rekey bool, want string) {
			t.Helper()
			m.followKS(g, old, p, rekey)
			m.directionSet(g)()
			if passive {
				want = config.DirectionInboundOptional
			}
			if got, _ := g.direction(); got != want || told[len(told)-1] != want {
				t.Errorf("passive=%v, %s: direction %s (data plane told %s), want %s", passive, what, got, told[len(told)-1], want)
			}
		}
		p1 := &gdoi.Policy{TEKs: []gdoi.TEK{tek(1, gdoiwire.SADirReceiverOnly)}}
		step("receive-only registration", nil, p1, false, config.DirectionInboundOnly)
		p2 := &gdoi.Policy{TEKs: []gdoi.TEK{tek(1, gdoiwire.SADirReceiverOnly), tek(2, gdoiwire.SADirSymmetric)}}
		step("rekey with symmetric TEKs", p1, p2, true, config.DirectionInboundOptional)
		step("re-registration with the same TEKs", p2, p2, false, config.DirectionInboundOptional)
		if _, err := m.SetDirection("", config.DirectionInboundOnly); err != nil {
			t.Fatal(err)
		}
		if got, by := g.direction(); !passive && (got != config.DirectionInboundOnly || by != directionByLocal) {
			t.Errorf("local override: %s by %s", got, by)
		}
		p3 := &gdoi.Policy{TEKs: []gdoi.TEK{tek(2, gdoiwire.SADirSymmetric), tek(3, gdoiwire.SADirSymmetric)}}
		step("the next rekey", p2, p3, true, config.DirectionBoth)
		if _, err := m.SetDirection("", "sideways"); err == nil {
			t.Error("an unknown direction was taken")
		}
	}
}

// TestRemovalOf tells a GM-removal message from other deletes.
func TestRemovalOf(t *testing.T) {
	kek := &gdoi.KEK{SPI: [16]byte{1, 2, 3}}
	del := deleteKEKPayload(kek.SPI)
	if r := removalOf(del, kek, &gdoi.Policy{TEKs: []gdoi.TEK{{SPI: 9}}}); r != removalTransient {
		t.Errorf("KEK deleted, TEKs left: %v", r)
	}
	if r := removalOf(del, kek, &gdoi.Policy{}); r != removalNow {
		t.Errorf("KEK and every TEK deleted: %v", r)
	}
	if r := removalOf(deleteKEKPayload([16]byte{9}), kek, &gdoi.Policy{}); r != noRemoval {
		t.Errorf("another KEK's delete: %v", r)
	}
	if r := removalOf(nil, kek, &gdoi.Policy{}); r != noRemoval {
		t.Errorf("no delete (replace-now of every TEK): %v", r)
	}
}

func deleteKEKPayload(spi [16]byte) []*isakmp.Delete {
	return []*isakmp.Delete{{DOI: isakmp.DOIGDOI, ProtocolID: isakmp.ProtoISAKMP, SPISize: 16, SPIs: [][]byte{spi[:]}}}
}
