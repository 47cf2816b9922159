package gm

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
func (m *Member) SetAckType(group string, v uint16) {
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
