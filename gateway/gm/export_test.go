package gm

import (
	"net/netip"

	"github.com/getlab/getlab/gateway/gdoi"
	gdoiwire "github.com/getlab/getlab/gateway/wire/gdoi"
)

// InstallForTest makes p group's policy as a completed registration with ks
// would (the offline interop tests register from a capture).
func (m *Member) InstallForTest(group string, ks netip.AddrPort, p *gdoi.Policy) {
	m.mu.Lock()
	var run func()
	for _, g := range m.groups {
		if g.cfg.Name == group {
			g.a = &attempt{ks: ks}
			run = m.install(g, p)
		}
	}
	m.mu.Unlock()
	if run != nil {
		run()
	}
}

// PolicyForTest is group's current policy.
func (m *Member) PolicyForTest(group string) *gdoi.Policy {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, g := range m.groups {
		if g.cfg.Name == group {
			return g.policy
		}
	}
	return nil
}

// ReregisterNow runs group's scheduled re-registration now, as its timer
// would.
func (m *Member) ReregisterNow(group string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, g := range m.groups {
		if g.cfg.Name == group {
			g.stopTimer()
			m.reregister(g)
		}
	}
}

// SetAckType makes group's KEK ask for acknowledgements of type v, as if
// the KS had sent that KEK_ACK_REQUESTED value.
func (m *Member) SetAckType(group string, v gdoiwire.AckType) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, g := range m.groups {
		if g.cfg.Name == group {
			k := *g.policy.KEK
			k.Ack = v
			np := *g.policy
			np.KEK = &k
			g.policy = &np
		}
	}
}
