package fault

import (
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// pair is two IPv4-only namespaces joined by eth1 <-> eth1, 198.51.100.1
// and .2.
func pair(t *testing.T) (a, b string) {
	a, b = newNS4(t), newNS4(t)
	wire(t, a, "eth1", []string{"198.51.100.1/30"}, b, "eth1", []string{"198.51.100.2/30"})
	return a, b
}

func TestLinkDownUp(t *testing.T) {
	needRoot(t)
	a, b := pair(t)
	dst := addr("198.51.100.2")
	eventually(t, a, b, dst, 10, 3*time.Second)

	if err := LinkDown(b, "eth1"); err != nil {
		t.Fatal(err)
	}
	if got := probe(t, a, b, dst, 100); got != 0 {
		t.Errorf("link down: %d of 100 delivered", got)
	}
	if err := LinkUp(b, "eth1"); err != nil {
		t.Fatal(err)
	}
	took := eventually(t, a, b, dst, 100, 5*time.Second)
	t.Logf("delivery restored %v after link up", took.Round(time.Millisecond))
}

func TestSetMTU(t *testing.T) {
	needRoot(t)
	a, _ := pair(t)
	if err := SetMTU(a, "eth1", 1280); err != nil {
		t.Fatal(err)
	}
	withHandle(t, a, func(h *netlink.Handle) error {
		l, err := h.LinkByName("eth1")
		if err != nil {
			return err
		}
		if l.Attrs().MTU != 1280 {
			t.Errorf("MTU read back %d, want 1280", l.Attrs().MTU)
		}
		return nil
	})
}

func TestErrors(t *testing.T) {
	needRoot(t)
	a, b := pair(t)
	name := nsLabel(a)
	for _, c := range []struct {
		err  error
		want string
	}{
		{SetMTU(a, "eth1", 10), "fault: mtu on " + name + " eth1: mtu 10 outside 68..65535"},
		{SetMTU(a, "eth9", 1400), `fault: mtu on ` + name + ` eth9: no interface "eth9" in namespace`},
		{LinkDown(a, "eth9"), `fault: link down on ` + name + ` eth9: no interface "eth9"`},
		{LinkUp("/run/netns/glft-missing", "eth1"), "fault: link up on glft-missing eth1: open namespace"},
		{errOf(AddLoss(a, "eth1", 0, Both)), "fault: loss on " + name + " eth1: percent 0 outside 1..100"},
		{errOf(AddLoss(a, "eth1", 101, Both)), "percent 101 outside 1..100"},
		{errOf(AddLoss(a, "eth9", 30, Egress)), `fault: loss on ` + name + ` eth9: no interface "eth9"`},
		{errOf(AddLoss(a, "eth1", 30, Direction(7))), "invalid direction 7"},
		{errOf(AddDrop(a, Match{DstPort: 848})), "destination port 848 needs protocol"},
		{errOf(AddDrop(a, Match{Percent: 10, Every: 2})), "exclusive"},
		{errOf(AddDrop(a, Match{Src: netip.MustParsePrefix("198.51.100.0/24"), Dst: netip.MustParsePrefix("2001:db8::/32")})), "different families"},
		{errOf(Partition([]Node{{"a", a}}, nil)), "both sides need at least one node"},
		{errOf(Partition([]Node{{"a", a}}, []Node{{"b", b}, {"a2", a}})), "node a2 is on both sides"},
	} {
		if c.err == nil || !strings.Contains(c.err.Error(), c.want) {
			t.Errorf("error %v, want one containing %q", c.err, c.want)
		}
	}
	if hasTable(t, a) {
		t.Error("failed calls left a getlab_fault table")
	}
}

func errOf(_ *Impairment, err error) error { return err }

func TestLoss(t *testing.T) {
	needRoot(t)
	a, b := pair(t)
	dst := addr("198.51.100.2")
	eventually(t, a, b, dst, 10, 3*time.Second)

	for _, dir := range []Direction{Ingress, Egress} {
		t.Run(dir.String(), func(t *testing.T) {
			// Ingress on the receiver's eth1, egress on the sender's.
			ns := b
			if dir == Egress {
				ns = a
			}
			imp, err := AddLoss(ns, "eth1", 30, dir)
			if err != nil {
				t.Fatal(err)
			}
			const n = 2000
			got := probe(t, a, b, dst, n)
			dropped, err := imp.Dropped()
			if err != nil {
				t.Fatal(err)
			}
			missed := n - got
			t.Logf("%v: %d of %d missed (%.1f%%), Dropped() = %d", imp, missed, n, 100*float64(missed)/n, dropped)
			if missed < n*20/100 || missed > n*40/100 {
				t.Errorf("missed %d of %d, want 20..40%%", missed, n)
			}
			if dropped != uint64(missed) {
				t.Errorf("Dropped() = %d, receiver missed %d", dropped, missed)
			}
			if err := imp.Remove(); err != nil {
				t.Fatal(err)
			}
			if err := imp.Remove(); err != nil {
				t.Fatalf("second Remove: %v", err)
			}
			if d, err := imp.Dropped(); err != nil || d != dropped {
				t.Errorf("Dropped() after Remove = %d, %v; want %d", d, err, dropped)
			}
			if hasTable(t, ns) {
				t.Error("getlab_fault table left after Remove")
			}
			if got := probe(t, a, b, dst, n); got != n {
				t.Errorf("after Remove: %d of %d delivered", got, n)
			}
		})
	}
}

// TestDropForwarded runs a -- r -- b with r routing, and checks that
// impairments on the router's interfaces hit forwarded traffic, that
// targeted drops hit only their packets, and that impairments in one
// namespace come and go independently.
func TestDropForwarded(t *testing.T) {
	needRoot(t)
	a, r, b := newNS4(t), newNS4(t), newNS4(t)
	wire(t, a, "eth1", []string{"198.51.100.1/30"}, r, "eth1", []string{"198.51.100.2/30"})
	wire(t, r, "eth2", []string{"198.51.100.5/30"}, b, "eth1", []string{"198.51.100.6/30"})
	addRoute(t, a, "198.51.100.4/30", "198.51.100.2")
	addRoute(t, b, "198.51.100.0/30", "198.51.100.5")
	sysctl(t, r, "net/ipv4/ip_forward", "1")
	dst := addr("198.51.100.6")
	eventually(t, a, b, dst, 10, 3*time.Second)

	// 100% loss leaving the router's eth2: nothing gets through.
	loss, err := AddLoss(r, "eth2", 100, Egress)
	if err != nil {
		t.Fatal(err)
	}
	if got := probe(t, a, b, dst, 200); got != 0 {
		t.Errorf("100%% egress loss on router: %d of 200 delivered", got)
	}
	if d, _ := loss.Dropped(); d != 200 {
		t.Errorf("Dropped() = %d, want 200", d)
	}
	if err := loss.Remove(); err != nil {
		t.Fatal(err)
	}

	// Every 5th UDP datagram to one port, arriving on the router's eth1.
	rx1, rx2 := listen(t, b, dst), listen(t, b, dst)
	every, err := AddDrop(r, Match{Iface: "eth1", Dir: Ingress, Proto: unix.IPPROTO_UDP, DstPort: uint16(rx1.port), Every: 5})
	if err != nil {
		t.Fatal(err)
	}
	send(t, a, dst, rx1.port, 100)
	send(t, a, dst, rx2.port, 100)
	if got1, got2 := rx1.collect(100, 150*time.Millisecond), rx2.collect(100, 150*time.Millisecond); got1 != 80 || got2 != 100 {
		t.Errorf("every 5th to port %d: delivered %d and %d (other port) of 100, want 80 and 100", rx1.port, got1, got2)
	}
	if d, _ := every.Dropped(); d != 20 {
		t.Errorf("%v: Dropped() = %d, want 20", every, d)
	}

	// A second impairment in the same namespace: all UDP to rx2.
	all, err := AddDrop(r, Match{Dst: netip.PrefixFrom(dst, 32), Proto: unix.IPPROTO_UDP, DstPort: uint16(rx2.port)})
	if err != nil {
		t.Fatal(err)
	}
	send(t, a, dst, rx1.port, 100)
	send(t, a, dst, rx2.port, 100)
	if got1, got2 := rx1.collect(100, 150*time.Millisecond), rx2.collect(100, 150*time.Millisecond); got1 != 80 || got2 != 0 {
		t.Errorf("both impairments: delivered %d and %d of 100, want 80 and 0", got1, got2)
	}

	// Removing the first leaves the second (and the table) in place.
	if err := every.Remove(); err != nil {
		t.Fatal(err)
	}
	if !hasTable(t, r) {
		t.Fatal("table gone while an impairment remains")
	}
	send(t, a, dst, rx1.port, 100)
	send(t, a, dst, rx2.port, 100)
	if got1, got2 := rx1.collect(100, 150*time.Millisecond), rx2.collect(100, 150*time.Millisecond); got1 != 100 || got2 != 0 {
		t.Errorf("after removing the first: delivered %d and %d of 100, want 100 and 0", got1, got2)
	}
	if d, _ := all.Dropped(); d != 200 {
		t.Errorf("%v: Dropped() = %d, want 200", all, d)
	}
	if err := all.Remove(); err != nil {
		t.Fatal(err)
	}
	if hasTable(t, r) {
		t.Error("getlab_fault table left after the last Remove")
	}
	send(t, a, dst, rx2.port, 100)
	if got := rx2.collect(100, 150*time.Millisecond); got != 100 {
		t.Errorf("after removing both: %d of 100 delivered", got)
	}
}

// TestPartition runs a triangle a, b, c (one /30 and one /64 per link) and
// cuts a from b.
func TestPartition(t *testing.T) {
	needRoot(t)
	a, b, c := newNS(t), newNS(t), newNS(t)
	wire(t, a, "eth1", []string{"198.51.100.1/30", "2001:db8:1::1/64"}, b, "eth1", []string{"198.51.100.2/30", "2001:db8:1::2/64"})
	wire(t, a, "eth2", []string{"198.51.100.5/30", "2001:db8:2::1/64"}, c, "eth1", []string{"198.51.100.6/30", "2001:db8:2::2/64"})
	wire(t, b, "eth2", []string{"198.51.100.9/30", "2001:db8:3::1/64"}, c, "eth2", []string{"198.51.100.10/30", "2001:db8:3::2/64"})
	type path struct {
		from, to string
		dst      netip.Addr
		name     string
	}
	cut := []path{
		{a, b, addr("198.51.100.2"), "a->b v4"},
		{b, a, addr("198.51.100.1"), "b->a v4"},
		{a, b, addr("2001:db8:1::2"), "a->b v6"},
		{b, a, addr("2001:db8:1::1"), "b->a v6"},
	}
	open := []path{
		{c, a, addr("198.51.100.5"), "c->a v4"},
		{c, b, addr("198.51.100.9"), "c->b v4"},
		{a, c, addr("198.51.100.6"), "a->c v4"},
		{b, c, addr("2001:db8:3::2"), "b->c v6"},
		{c, a, addr("2001:db8:2::1"), "c->a v6"},
	}
	for _, p := range append(cut, open...) {
		eventually(t, p.from, p.to, p.dst, 10, 3*time.Second)
	}

	imp, err := Partition([]Node{{"a", a}}, []Node{{"b", b}})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range cut {
		if got := probe(t, p.from, p.to, p.dst, 100); got != 0 {
			t.Errorf("partitioned %s: %d of 100 delivered", p.name, got)
		}
	}
	for _, p := range open {
		if got := probe(t, p.from, p.to, p.dst, 100); got != 100 {
			t.Errorf("third node %s: %d of 100 delivered", p.name, got)
		}
	}
	d, err := imp.Dropped()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%v: Dropped() = %d", imp, d)
	if d != 400 {
		t.Errorf("Dropped() = %d, want 400", d)
	}
	if err := imp.Remove(); err != nil {
		t.Fatal(err)
	}
	for _, ns := range []string{a, b, c} {
		if hasTable(t, ns) {
			t.Errorf("%s: getlab_fault table left after Remove", ns)
		}
	}
	for _, p := range cut {
		if got := probe(t, p.from, p.to, p.dst, 100); got != 100 {
			t.Errorf("healed %s: %d of 100 delivered", p.name, got)
		}
	}
}

// TestConcurrent adds and removes impairments from many goroutines, in
// several namespaces and several at once in each.
func TestConcurrent(t *testing.T) {
	needRoot(t)
	const nsCount, perNS, rounds = 3, 3, 5
	var wg sync.WaitGroup
	errc := make(chan error, nsCount*perNS*rounds)
	var spaces []string
	for range nsCount {
		spaces = append(spaces, newNS(t))
	}
	for _, ns := range spaces {
		for g := range perNS {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range rounds {
					imp, err := AddLoss(ns, "lo", 10+g+i, Both)
					if err != nil {
						errc <- err
						return
					}
					if _, err := imp.Dropped(); err != nil {
						errc <- err
					}
					if err := imp.Remove(); err != nil {
						errc <- err
					}
				}
			}()
		}
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Error(err)
	}
	for _, ns := range spaces {
		if hasTable(t, ns) {
			t.Errorf("%s: table left", ns)
		}
	}
}

// BenchmarkAddLossRemove measures AddLoss+Remove alone in a namespace (the
// table and its hooks are created and deleted each time) and next to a
// standing impairment (the table stays).
func BenchmarkAddLossRemove(b *testing.B) {
	needRoot(b)
	ns := newNS(b)
	run := func(b *testing.B) {
		for b.Loop() {
			imp, err := AddLoss(ns, "lo", 30, Both)
			if err != nil {
				b.Fatal(err)
			}
			if err := imp.Remove(); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("alone", run)
	standing, err := AddDrop(ns, Match{Proto: unix.IPPROTO_UDP, DstPort: 9})
	if err != nil {
		b.Fatal(err)
	}
	defer standing.Remove()
	b.Run("table-kept", run)
}

func ExampleAddLoss() {
	imp, err := AddLoss("/run/netns/gm1", "eth1", 30, Ingress)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer imp.Remove()
	// ... run traffic ...
	n, _ := imp.Dropped()
	fmt.Println(imp, "dropped", n)
}
