package mroute

import (
	"encoding/binary"
	"maps"
	"net"
	"net/netip"
	"slices"
	"sync"
)

// Table is the router's routes and what each has forwarded, safe for
// concurrent use: the interfaces' readers look routes up while the
// control socket adds and removes them.
type Table struct {
	mu     sync.RWMutex
	routes []*entry
	// Unrouted counts multicast packets no route took, by reason.
	unrouted map[string]uint64
}

type entry struct {
	Route
	packets, octets uint64
}

// RouteStats is a route with its counters, as the control socket shows it.
type RouteStats struct {
	Route
	Packets uint64 `json:"packets"`
	Octets  uint64 `json:"octets"`
}

// NewTable holds routes, in order.
func NewTable(routes []Route) *Table {
	t := &Table{unrouted: map[string]uint64{}}
	for _, r := range routes {
		t.Add(r)
	}
	return t
}

// Add installs r, replacing a route of the same key (smcroutectl add).
func (t *Table) Add(r Route) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for i, e := range t.routes {
		if e.Key() == r.Key() {
			t.routes[i] = &entry{Route: r}
			return
		}
	}
	t.routes = append(t.routes, &entry{Route: r})
}

// Remove deletes the route of key k and says whether there was one.
func (t *Table) Remove(k Key) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := len(t.routes)
	t.routes = slices.DeleteFunc(t.routes, func(e *entry) bool { return e.Key() == k })
	return len(t.routes) < n
}

// Routes are the routes with their counters.
func (t *Table) Routes() []RouteStats {
	t.mu.RLock()
	defer t.mu.RUnlock()
	out := make([]RouteStats, 0, len(t.routes))
	for _, e := range t.routes {
		out = append(out, RouteStats{Route: e.Route, Packets: e.packets, Octets: e.octets})
	}
	return out
}

// Unrouted are the counts of multicast packets not forwarded, by reason.
func (t *Table) Unrouted() map[string]uint64 {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return maps.Clone(t.unrouted)
}

// Forward decides what to do with a frame that arrived on interface in:
// the interfaces it goes out of (nil: none) and the frame to send,
// rewritten as a router forwards it (TTL decremented, header checksum
// updated; the Ethernet source is the outbound interface's and is set by
// the caller). frame is not changed: out is a copy. Only IPv4 multicast
// with a valid header is routed.
func (t *Table) Forward(in string, frame []byte) (oifs []string, out []byte) {
	const ethLen = 14
	if len(frame) < ethLen+20 || binary.BigEndian.Uint16(frame[12:14]) != 0x0800 {
		return nil, nil
	}
	ip := frame[ethLen:]
	ihl := int(ip[0]&0x0f) * 4
	if ip[0]>>4 != 4 || ihl < 20 || len(ip) < ihl {
		return nil, nil
	}
	dst := netip.AddrFrom4([4]byte(ip[16:20]))
	if !dst.IsMulticast() {
		return nil, nil
	}
	reason := ""
	switch {
	case dst.IsLinkLocalMulticast():
		return nil, nil // never routed (224.0.0.0/24: IGMP, PIM, OSPF...)
	case checksum(ip[:ihl]) != 0:
		reason = "bad header checksum"
	case ip[8] <= 1:
		reason = "ttl expired"
	}
	src := netip.AddrFrom4([4]byte(ip[12:16]))
	t.mu.Lock()
	defer t.mu.Unlock()
	if reason != "" {
		t.unrouted[reason]++
		return nil, nil
	}
	for _, e := range t.routes {
		if e.In != in || !e.Group.Contains(dst) || (e.Source.IsValid() && !e.Source.Contains(src)) {
			continue
		}
		e.packets++
		e.octets += uint64(len(ip))
		out = slices.Clone(frame)
		oip := out[ethLen:]
		oip[8]--
		// RFC 1624: TTL is the high octet of its 16-bit word.
		sum := uint32(^binary.BigEndian.Uint16(oip[10:12])) + uint32(^uint16(0x0100))
		sum = (sum & 0xffff) + sum>>16
		sum = (sum & 0xffff) + sum>>16
		binary.BigEndian.PutUint16(oip[10:12], ^uint16(sum))
		// The group's MAC address (RFC 1112 §6.4): 01:00:5e and its low
		// 23 bits.
		g := dst.As4()
		copy(out[0:6], net.HardwareAddr{0x01, 0x00, 0x5e, g[1] & 0x7f, g[2], g[3]})
		return e.Out, out
	}
	t.unrouted["no route"]++
	return nil, nil
}

// checksum is the Internet checksum of b (0 when b holds a valid one).
func checksum(b []byte) uint16 {
	var sum uint32
	for i := 0; i+1 < len(b); i += 2 {
		sum += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	if len(b)%2 == 1 {
		sum += uint32(b[len(b)-1]) << 8
	}
	for sum > 0xffff {
		sum = (sum & 0xffff) + sum>>16
	}
	return ^uint16(sum)
}
