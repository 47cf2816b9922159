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
