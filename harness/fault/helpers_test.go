package fault

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"net"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/getlab/getlab/harness/nsdo"
	"github.com/google/nftables"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

func needRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root for network namespaces")
	}
}

// newNS creates a named namespace glft-XXXXXXXX with lo up and returns its
// path; t.Cleanup deletes it (and the veth ends inside with it).
func newNS(t testing.TB) string {
	t.Helper()
	var b [4]byte
	rand.Read(b[:])
	name := "glft-" + hex.EncodeToString(b[:])
	if _, err := nsdo.CreateNamed(name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := netns.DeleteNamed(name); err != nil {
			t.Errorf("delete namespace %s: %v", name, err)
		}
	})
	return "/run/netns/" + name
}

// withHandle runs fn with an rtnetlink handle in the namespace at path.
func withHandle(t testing.TB, path string, fn func(*netlink.Handle) error) {
	t.Helper()
	h, err := routeHandle(path)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if err := fn(h); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// wire connects nsA and nsB with a veth pair named ifA/ifB, gives each end
// its addresses (without IPv6 duplicate address detection) and sets both up.
func wire(t testing.TB, nsA, ifA string, addrsA []string, nsB, ifB string, addrsB []string) {
	t.Helper()
	nb, err := netns.GetFromPath(nsB)
	if err != nil {
		t.Fatal(err)
	}
	defer nb.Close()
	withHandle(t, nsA, func(h *netlink.Handle) error {
		return h.LinkAdd(&netlink.Veth{
			LinkAttrs:     netlink.LinkAttrs{Name: ifA},
			PeerName:      ifB,
			PeerNamespace: netlink.NsFd(int(nb)),
		})
	})
	setup := func(path, iface string, addrs []string) {
		withHandle(t, path, func(h *netlink.Handle) error {
			l, err := h.LinkByName(iface)
			if err != nil {
				return err
			}
			for _, a := range addrs {
				addr, err := netlink.ParseAddr(a)
				if err != nil {
					return err
				}
				addr.Flags = unix.IFA_F_NODAD
				if err := h.AddrAdd(l, addr); err != nil {
					return err
				}
			}
			return h.LinkSetUp(l)
		})
	}
	setup(nsA, ifA, addrsA)
	setup(nsB, ifB, addrsB)
}

// addRoute adds a route to dst via gw in the namespace at path.
func addRoute(t testing.TB, path, dst, gw string) {
	t.Helper()
	_, ipnet, err := net.ParseCIDR(dst)
	if err != nil {
		t.Fatal(err)
	}
	withHandle(t, path, func(h *netlink.Handle) error {
		return h.RouteAdd(&netlink.Route{Dst: ipnet, Gw: net.ParseIP(gw)})
	})
}

// sysctl sets /proc/sys/KEY (slash form) to val in the namespace at path.
func sysctl(t testing.TB, path, key, val string) {
	t.Helper()
	err := nsdo.Do(path, func() error {
		return os.WriteFile("/proc/sys/"+key, []byte(val+"\n"), 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// newNS4 is newNS with IPv6 disabled, so no router solicitation or MLD
// report of the kernel's own lands in a drop counter a test checks exactly.
func newNS4(t testing.TB) string {
	t.Helper()
	path := newNS(t)
	sysctl(t, path, "net/ipv6/conf/all/disable_ipv6", "1")
	sysctl(t, path, "net/ipv6/conf/default/disable_ipv6", "1")
	return path
}

// receiver is a UDP socket in a namespace that counts distinct numbered
// datagrams.
type receiver struct {
	conn *net.UDPConn
	port int
}

func listen(t testing.TB, path string, addr netip.Addr) *receiver {
	t.Helper()
	var conn *net.UDPConn
	err := nsdo.Do(path, func() error {
		var err error
		conn, err = net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(addr, 0)))
		return err
	})
	if err != nil {
		t.Fatalf("listen in %s on %v: %v", path, addr, err)
	}
	t.Cleanup(func() { conn.Close() })
	// Big enough for a whole burst, so the socket never drops and every
	// missing datagram is the impairment's.
	rc, err := conn.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	rc.Control(func(fd uintptr) {
		if err := unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 16<<20); err != nil {
			t.Errorf("SO_RCVBUFFORCE: %v", err)
		}
	})
	return &receiver{conn: conn, port: conn.LocalAddr().(*net.UDPAddr).Port}
}

// send sends n datagrams numbered 0..n-1 from the namespace at path to
// dst:port. Send errors (unreachable network) count as losses.
func send(t testing.TB, path string, dst netip.Addr, port, n int) {
	t.Helper()
	var conn *net.UDPConn
	err := nsdo.Do(path, func() error {
		var err error
		conn, err = net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(netip.AddrPortFrom(dst, uint16(port))))
		return err
	})
	if err != nil {
		t.Fatalf("dial from %s to %v: %v", path, dst, err)
	}
	defer conn.Close()
	buf := make([]byte, 64)
	for i := range n {
		binary.BigEndian.PutUint32(buf, uint32(i))
		conn.Write(buf)
	}
}

// collect reads until no datagram arrived for quiet, or all of 0..n-1 did,
// and returns the distinct numbers seen.
func (r *receiver) collect(n int, quiet time.Duration) int {
	seen := map[uint32]bool{}
	buf := make([]byte, 2048)
	for {
		r.conn.SetReadDeadline(time.Now().Add(quiet))
		m, err := r.conn.Read(buf)
		if err != nil {
			return len(seen)
		}
		if m >= 4 {
			if i := binary.BigEndian.Uint32(buf); int(i) < n {
				seen[i] = true
			}
		}
		if len(seen) == n {
			return n
		}
	}
}

// probe sends n datagrams from srcNS to a fresh receiver on dst in dstNS and
// returns how many arrived.
func probe(t testing.TB, srcNS, dstNS string, dst netip.Addr, n int) int {
	t.Helper()
	r := listen(t, dstNS, dst)
	send(t, srcNS, dst, r.port, n)
	got := r.collect(n, 150*time.Millisecond)
	r.conn.Close()
	return got
}

// eventually probes until all n arrive or the timeout passes, returning
// how long it took.
func eventually(t testing.TB, srcNS, dstNS string, dst netip.Addr, n int, timeout time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		if got := probe(t, srcNS, dstNS, dst, n); got == n {
			return time.Since(start)
		} else if time.Since(start) > timeout {
			t.Fatalf("%s -> %v: %d of %d delivered after %v", srcNS, dst, got, n, timeout)
		}
	}
}

// hasTable reports whether the namespace at path holds a getlab_fault table.
func hasTable(t testing.TB, path string) bool {
	t.Helper()
	c, done, err := dial(path)
	if err != nil {
		t.Fatal(err)
	}
	defer done()
	tables, err := c.ListTablesOfFamily(nftables.TableFamilyUnspecified)
	if err != nil {
		t.Fatal(err)
	}
	for _, tb := range tables {
		if tb.Name == TableName {
			return true
		}
	}
	return false
}

func addr(s string) netip.Addr { return netip.MustParseAddr(s) }
