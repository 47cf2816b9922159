// Package mroute is the bench's static multicast router: it forwards IPv4
// multicast between the interfaces of its node by (S,G) and (*,G) routes
// written in smcroute's configuration syntax, in user space. The kernel
// of the bench's machines is built without multicast routing
// (CONFIG_IP_MROUTE unset: no MRT_INIT, so smcroute, pimd and FRR cannot
// install a route there), the way it lacks netem; a topology's routers
// keep smcroute's files, so the same lab runs smcrouted wherever the
// kernel routes multicast itself.
//
// A packet is forwarded as a kernel multicast router forwards it: only
// from the route's inbound interface, never to link-local groups
// (224.0.0.0/24), TTL decremented and a packet whose TTL would reach 0
// dropped, each fragment on its own (no reassembly: every fragment carries
// the source and group). Unicast is left to the kernel.
package mroute

import (
	"bufio"
	"bytes"
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// Route is one mroute line: packets from Source (any when not valid) to
// Group arriving on In go out of every interface of Out.
type Route struct {
	In     string       `json:"in"`
	Source netip.Prefix `json:"source,omitzero"`
	Group  netip.Prefix `json:"group"`
	Out    []string     `json:"out"`
}

func (r Route) String() string {
	src := "*"
	if r.Source.IsValid() {
		src = prefixString(r.Source)
	}
	return fmt.Sprintf("(%s, %s) from %s to %s", src, prefixString(r.Group), r.In, strings.Join(r.Out, " "))
}

func prefixString(p netip.Prefix) string {
	if p.IsSingleIP() {
		return p.Addr().String()
	}
	return p.String()
}

// Key is what identifies a route for removal: smcroutectl's
// "remove IIF [SOURCE] GROUP".
func (r Route) Key() Key { return Key{In: r.In, Source: r.Source, Group: r.Group} }

// Key identifies a route by its inbound side.
type Key struct {
	In     string       `json:"in"`
	Source netip.Prefix `json:"source,omitzero"`
	Group  netip.Prefix `json:"group"`
}

// Config is a parsed smcroute.conf: the interfaces enabled for multicast
// routing and the static routes.
type Config struct {
	Phyints []string
	Routes  []Route
}

// ParseConfig reads the subset of smcroute.conf (smcroute 2.5) a static
// router needs: "phyint IFNAME enable [ttl-threshold N]" and "mroute from
// IFNAME [source ADDR[/LEN]] group GROUP[/LEN] to IFNAME...". Anything
// else is an error naming its line, so that a file smcrouted reads
// differently is not silently half-understood. A route's interfaces must
// be enabled phyints, as smcrouted -N requires.
func ParseConfig(b []byte, name string) (*Config, error) {
	c := &Config{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for line := 1; sc.Scan(); line++ {
		text := sc.Text()
		if i := strings.IndexByte(text, '#'); i >= 0 {
			text = text[:i]
		}
		f := strings.Fields(text)
		if len(f) == 0 {
			continue
		}
		fail := func(format string, a ...any) error {
			return fmt.Errorf("%s line %d: %s", name, line, fmt.Sprintf(format, a...))
		}
		switch f[0] {
		case "phyint":
			if len(f) < 2 {
				return nil, fail("phyint: no interface")
			}
			rest := f[2:]
			if len(rest) > 0 && rest[0] == "enable" {
				rest = rest[1:]
			}
			if len(rest) == 2 && rest[0] == "ttl-threshold" {
				rest = nil
			}
			if len(rest) != 0 {
				return nil, fail("phyint %s: %q not understood (enable [ttl-threshold N])", f[1], strings.Join(rest, " "))
			}
			if !slices.Contains(c.Phyints, f[1]) {
				c.Phyints = append(c.Phyints, f[1])
			}
		case "mroute":
			r, err := ParseRoute(f[1:], true)
			if err != nil {
				return nil, fail("mroute: %v", err)
			}
			for _, ifname := range append([]string{r.In}, r.Out...) {
				if !slices.Contains(c.Phyints, ifname) {
					return nil, fail("mroute: %s is not an enabled phyint", ifname)
				}
			}
			c.Routes = append(c.Routes, r)
		default:
			return nil, fail("%q is not a directive of a static router (phyint, mroute)", f[0])
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return c, nil
}

// ParseRoute reads a route in either of smcroute's spellings: the
// configuration file's keywords ("from IIF [source S] group G to OIF...",
// keywords true) or smcroutectl's positions ("IIF [S] G OIF...").
func ParseRoute(f []string, keywords bool) (Route, error) {
	var r Route
	if keywords {
		if len(f) < 5 || f[0] != "from" {
			return r, fmt.Errorf("want from IIF [source ADDR] group GROUP to OIF...")
		}
		r.In, f = f[1], f[2:]
		if f[0] == "source" {
			if len(f) < 2 {
				return r, fmt.Errorf("source: no address")
			}
			p, err := parsePrefix(f[1])
			if err != nil {
				return r, fmt.Errorf("source: %w", err)
			}
			r.Source, f = p, f[2:]
		}
		if len(f) < 3 || f[0] != "group" || f[2] != "to" {
			return r, fmt.Errorf("want group GROUP to OIF...")
		}
		g, err := parseGroup(f[1])
		if err != nil {
			return r, err
		}
		r.Group, r.Out = g, f[3:]
	} else {
		k, rest, err := parseKey(f)
		if err != nil {
			return r, err
		}
		r.In, r.Source, r.Group, r.Out = k.In, k.Source, k.Group, rest
	}
	if len(r.Out) == 0 {
		return r, fmt.Errorf("no outbound interface")
	}
	if slices.Contains(r.Out, r.In) {
		return r, fmt.Errorf("%s is both inbound and outbound", r.In)
	}
	return r, nil
}

// ParseKey reads smcroutectl's "IIF [SOURCE] GROUP".
func ParseKey(f []string) (Key, error) {
	k, rest, err := parseKey(f)
	if err == nil && len(rest) > 0 {
		err = fmt.Errorf("%q after the group", strings.Join(rest, " "))
	}
	return k, err
}

func parseKey(f []string) (Key, []string, error) {
	var k Key
	if len(f) < 2 {
		return k, nil, fmt.Errorf("want IIF [SOURCE] GROUP")
	}
	k.In, f = f[0], f[1:]
	// A source comes before the group: the first address that is not
	// multicast is one.
	if p, err := parsePrefix(f[0]); err == nil && !p.Addr().IsMulticast() {
		k.Source, f = p, f[1:]
		if len(f) == 0 {
			return k, nil, fmt.Errorf("no group after source %s", k.Source)
		}
	}
	g, err := parseGroup(f[0])
	if err != nil {
		return k, nil, err
	}
	k.Group = g
	return k, f[1:], nil
}

func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil || !p.Addr().Is4() {
			return netip.Prefix{}, fmt.Errorf("%q is not an IPv4 address or prefix", s)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is4() {
		return netip.Prefix{}, fmt.Errorf("%q is not an IPv4 address or prefix", s)
	}
	return netip.PrefixFrom(a, 32), nil
}

func parseGroup(s string) (netip.Prefix, error) {
	p, err := parsePrefix(s)
	if err != nil {
		return p, fmt.Errorf("group: %w", err)
	}
	if !p.Addr().IsMulticast() || p.Bits() < 4 {
		return p, fmt.Errorf("group %s is not within 224.0.0.0/4", s)
	}
	return p, nil
}
