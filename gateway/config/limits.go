package config

import (
	"cmp"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Limits bound what a key server spends on peers before (and after) they
// authenticate, so that a flood from the wire cannot starve the GMs that
// register (DESIGN "Conventions": per-source limits on state). KS only;
// the "limits" section of the file, every key optional.
type Limits struct {
	// HalfOpenPerSource caps the main modes one source address may have
	// in the half-open table (before message 5); a source at its cap gets
	// stateless cookies (ks/cookie.go), and one whose cookie comes back
	// replaces its oldest exchange still waiting for message 3.
	HalfOpenPerSource int
	// HalfOpenGlobal caps the half-open main modes of all sources.
	HalfOpenGlobal int
	// CookieThreshold is the number of half-open main modes from which
	// every message 1 is answered with a stateless responder cookie
	// instead of a whole exchange (ks/cookie.go). It is less than
	// HalfOpenGlobal, leaving room for the exchanges whose cookies come
	// back.
	CookieThreshold int
	// HalfOpenTimeout is the protocol time a main mode that has not
	// reached message 5 may go without moving on before its state is
	// dropped. It outlasts one GM retransmission (every 10 s, S0 L3342),
	// so a datagram lost once does not cost the GM its exchange.
	HalfOpenTimeout time.Duration
	// DHWorkers is the number of workers that compute Diffie-Hellman
	// (message 3), off the receive loop; 0 is one per CPU.
	DHWorkers int
	// DHQueue is how many message 3s may wait for a worker.
	DHQueue int
	// DHRate and DHBurst are the per-source token bucket on Diffie-Hellman
	// computations: DHRate per second (wall time: it bounds CPU), bursts of
	// DHBurst.
	DHRate  int
	DHBurst int
	// IKESAsPerPeer caps the phase-1 SAs kept per peer address: the newest
	// replaces the oldest.
	IKESAsPerPeer int
	// IKESAsGlobal caps the phase-1 SAs of all peers: the newest replaces
	// the oldest of all.
	IKESAsGlobal int
}

// LimitDefaults are the limits a KS uses when its file does not set them:
// sized for the seeds' largest deployments (a few thousand GMs per KS)
// with room for every GM to re-register at once.
var LimitDefaults = Limits{
	HalfOpenPerSource: 16,
	HalfOpenGlobal:    10000,
	CookieThreshold:   1000,
	HalfOpenTimeout:   15 * time.Second,
	DHWorkers:         0,
	DHQueue:           256,
	DHRate:            10,
	DHBurst:           20,
	IKESAsPerPeer:     4,
	IKESAsGlobal:      20000,
}

func (c *Config) decodeLimits(d *decoder, n *yaml.Node, path string) {
	l := &c.Limits
	d.fields(n, path, map[string]func(*yaml.Node, string){
		"half_open_per_source": func(n *yaml.Node, p string) { d.intField(n, p, 1, 1<<20, &l.HalfOpenPerSource) },
		"half_open_global":     func(n *yaml.Node, p string) { d.intField(n, p, 1, 1<<22, &l.HalfOpenGlobal) },
		"cookie_threshold":     func(n *yaml.Node, p string) { d.intField(n, p, 0, 1<<22, &l.CookieThreshold) },
		"half_open_timeout":    func(n *yaml.Node, p string) { d.duration(n, p, &l.HalfOpenTimeout) },
		"dh_workers":           func(n *yaml.Node, p string) { d.intField(n, p, 0, 256, &l.DHWorkers) },
		"dh_queue":             func(n *yaml.Node, p string) { d.intField(n, p, 1, 1<<16, &l.DHQueue) },
		"dh_rate_per_source":   func(n *yaml.Node, p string) { d.intField(n, p, 1, 1<<16, &l.DHRate) },
		"dh_burst_per_source":  func(n *yaml.Node, p string) { d.intField(n, p, 1, 1<<16, &l.DHBurst) },
		"ike_sas_per_peer":     func(n *yaml.Node, p string) { d.intField(n, p, 1, 1<<10, &l.IKESAsPerPeer) },
		"ike_sas_global":       func(n *yaml.Node, p string) { d.intField(n, p, 1, 1<<22, &l.IKESAsGlobal) },
	})
}

// applyLimitDefaults fills in the limits the file leaves out (KS only).
func (c *Config) applyLimitDefaults() {
	if c.Role != RoleKS {
		return
	}
	l, def := &c.Limits, LimitDefaults
	set := func(key string, dst *int, v int) {
		if !c.isSet("limits." + key) {
			*dst = v
		}
	}
	set("half_open_per_source", &l.HalfOpenPerSource, def.HalfOpenPerSource)
	set("half_open_global", &l.HalfOpenGlobal, def.HalfOpenGlobal)
	set("cookie_threshold", &l.CookieThreshold, def.CookieThreshold)
	set("dh_workers", &l.DHWorkers, def.DHWorkers)
	set("dh_queue", &l.DHQueue, def.DHQueue)
	set("dh_rate_per_source", &l.DHRate, def.DHRate)
	set("dh_burst_per_source", &l.DHBurst, def.DHBurst)
	set("ike_sas_per_peer", &l.IKESAsPerPeer, def.IKESAsPerPeer)
	set("ike_sas_global", &l.IKESAsGlobal, def.IKESAsGlobal)
	l.HalfOpenTimeout = cmp.Or(l.HalfOpenTimeout, def.HalfOpenTimeout)
}

func (v *validator) limits() {
	c := v.c
	if !v.onlyFor(RoleKS, "limits") {
		return
	}
	l := &c.Limits
	if l.HalfOpenPerSource > l.HalfOpenGlobal {
		v.errorf("limits.half_open_per_source", "%d is more than limits.half_open_global %d: one source could fill the table", l.HalfOpenPerSource, l.HalfOpenGlobal)
	}
	if l.CookieThreshold >= l.HalfOpenGlobal {
		v.errorf("limits.cookie_threshold", "%d is not less than limits.half_open_global %d: the table would be full before cookies are used, with no room for the exchanges whose cookies come back", l.CookieThreshold, l.HalfOpenGlobal)
	}
	// A GM retransmits every 10 s (S0 L3342): a shorter timeout gives a
	// lost datagram no second chance.
	if l.HalfOpenTimeout <= 10*time.Second {
		v.warnf("limits.half_open_timeout", "%v is not longer than a GM's 10 s retransmission interval: one lost datagram costs the GM its main mode", l.HalfOpenTimeout)
	} else if l.HalfOpenTimeout > 120*time.Second {
		v.errorf("limits.half_open_timeout", "%v is longer than the 120 s an exchange may take", l.HalfOpenTimeout)
	}
	if l.DHBurst < l.DHRate {
		v.warnf("limits.dh_burst_per_source", "%d is less than limits.dh_rate_per_source %d: the rate cannot be reached", l.DHBurst, l.DHRate)
	}
	if l.IKESAsPerPeer > l.IKESAsGlobal {
		v.errorf("limits.ike_sas_per_peer", "%d is more than limits.ike_sas_global %d", l.IKESAsPerPeer, l.IKESAsGlobal)
	}
}

// String shows the limits as --check prints them.
func (l Limits) String() string {
	workers := fmt.Sprint(l.DHWorkers)
	if l.DHWorkers == 0 {
		workers = "1 per CPU"
	}
	return fmt.Sprintf("half-open %d per source, %d in all, stateless cookies at a source's cap and from %d in all, timeout %v; DH %d/s per source (burst %d), %s workers, queue %d; IKE SAs %d per peer, %d in all",
		l.HalfOpenPerSource, l.HalfOpenGlobal, l.CookieThreshold, l.HalfOpenTimeout, l.DHRate, l.DHBurst, workers, l.DHQueue, l.IKESAsPerPeer, l.IKESAsGlobal)
}

// decodeIdentities reads a pre-shared key's identity: one phase-1
// identity or a list of them.
func decodeIdentities(d *decoder, n *yaml.Node, path string, dst *[]string) {
	one := func(n *yaml.Node, p string) {
		if s, ok := d.scalar(n, p); ok {
			*dst = append(*dst, s)
		}
	}
	if n.Kind == yaml.SequenceNode {
		d.list(n, path, one)
		return
	}
	one(n, path)
}

// pskIdentities checks the identities named by the pre-shared keys: each an
// address, a host name (ID_FQDN) or user@host (ID_USER_FQDN), and each
// bound to one key only.
func (v *validator) pskIdentities() {
	seen := map[string]string{}
	for i, k := range v.c.IKE.PreSharedKeys {
		for j, id := range k.Identities {
			p := index(index("ike.pre_shared_keys", i)+".identity", j)
			if len(k.Identities) == 1 {
				p = index("ike.pre_shared_keys", i) + ".identity"
			}
			if id == "" || strings.ContainsAny(id, " \t/") {
				v.errorf(p, "%q is not an address, host name or user@host", id)
				continue
			}
			norm := NormalizeIdentity(id)
			if other, dup := seen[norm]; dup {
				v.errorf(p, "%s is also the identity of %s", id, other)
				continue
			}
			seen[norm] = index("ike.pre_shared_keys", i)
		}
	}
}

// NormalizeIdentity is the form identities are compared in: addresses
// canonical, names in lower case (DNS names are case-insensitive).
func NormalizeIdentity(id string) string {
	if a, err := netip.ParseAddr(id); err == nil {
		return a.Unmap().String()
	}
	return strings.ToLower(id)
}

// KeyEntryFor returns the pre-shared key entry used for peer: the per-peer
// entry if there is one, else the wildcard entry.
func (ike *IKE) KeyEntryFor(peer netip.Addr) (*PSK, bool) {
	var wild *PSK
	for i := range ike.PreSharedKeys {
		k := &ike.PreSharedKeys[i]
		if k.Wildcard {
			if wild == nil {
				wild = k
			}
			continue
		}
		if k.Peer == peer.Unmap() {
			return k, true
		}
	}
	return wild, wild != nil
}
