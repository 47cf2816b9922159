package gm

import (
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/getlab/getlab/gateway/config"
	"github.com/getlab/getlab/gateway/gdoi"
	gdoiwire "github.com/getlab/getlab/gateway/wire/gdoi"
	"github.com/getlab/getlab/gateway/wire/isakmp"
)

// SA direction modes and the operator's actions on a GM (S0 §4.4, §3.16;
// seed-features GM-60…GM-64, RK-60…RK-62, KS-53).

// FeatureGMRemoval is the seeds' name of the GM-removal feature (S0
// §3.16.1.3: "show crypto gdoi feature gm-removal"), GDOI 1.0.3.
const FeatureGMRemoval = "gm-removal"

// Who set a group's direction (show.GMGroup.DirectionBy).
const (
	directionByKS      = "ks"
	directionByPassive = "passive"
	directionByLocal   = "local"
)

// direction is the group's SA direction mode now, and what set it.
func (g *group) direction() (dir, by string) {
	switch {
	case g.cfg.Passive:
		return config.DirectionInboundOptional, directionByPassive
	case g.localDir != "":
		return g.localDir, directionByLocal
	case g.ksDir != "":
		return g.ksDir, directionByKS
	}
	return config.DirectionBoth, directionByKS
}

// followKS moves the KS-given direction on after policy p was installed
// from the KS, by a registration or (rekey) a PUSH: receiver-only TEKs
// make it inbound-only (the KS's "sa receive-only"); the first symmetric
// TEKs after that make it inbound-optional — accept clear from GMs that
// have not got them yet, encrypt already — and the next rekey makes it
// both ("the GM automatically transitions from Receive-Only through
// Passive-Mode to Conformant-Mode", S0 §4.4.4, GM-62). A rekey also ends a
// local direction override (GM-63). Only TEKs new in p count: the TEKs a
// GM already had say nothing new.
func (m *Member) followKS(g *group, old, p *gdoi.Policy, rekey bool) {
	var fresh []gdoi.TEK
	for _, t := range p.TEKs {
		if old == nil || !slices.ContainsFunc(old.TEKs, func(o gdoi.TEK) bool { return o.SPI == t.SPI }) {
			fresh = append(fresh, t)
		}
	}
	receiveOnly := len(fresh) > 0 && !slices.ContainsFunc(fresh, func(t gdoi.TEK) bool { return t.Direction != gdoiwire.SADirReceiverOnly })
	prev := g.ksDir
	switch {
	case receiveOnly:
		g.ksDir = config.DirectionInboundOnly
		if prev != config.DirectionInboundOnly {
			m.opt.Events.Emit("GM_SA_INGRESS", "group", g.cfg.Name, "ks", g.ks.String())
		}
	case prev == config.DirectionInboundOnly && len(fresh) > 0:
		g.ksDir = config.DirectionInboundOptional
	case prev == config.DirectionInboundOptional && rekey:
		g.ksDir = config.DirectionBoth
		m.opt.Events.Emit("GM_CONV_SA_DUPLEX", "group", g.cfg.Name)
	case prev == "":
		g.ksDir = config.DirectionBoth
	}
	if rekey {
		g.localDir = ""
	}
}

// SetDirection is "crypto gdoi gm [group G] ipsec direction {both | inbound
// only | inbound optional}" (GM-63): the direction of every group, or the
// one named, until the next rekey from the KS sets it again. A passive
// group keeps its passive mode. It returns the groups changed.
func (m *Member) SetDirection(name, dir string) ([]string, error) {
	switch dir {
	case config.DirectionBoth, config.DirectionInboundOnly, config.DirectionInboundOptional:
	default:
		return nil, &AdminError{fmt.Sprintf("direction %q is not %s, %s or %s", dir, config.DirectionBoth, config.DirectionInboundOnly, config.DirectionInboundOptional)}
	}
	var after []func()
	done, err := m.eachGroup(name, func(g *group) {
		if g.cfg.Passive {
			return
		}
		g.localDir = dir
		if dir == config.DirectionBoth {
			m.opt.Events.Emit("GM_CONV_SA_DUPLEX_LOCAL", "group", g.cfg.Name)
		}
		after = append(after, m.directionSet(g))
	})
	for _, f := range after {
		f()
	}
	return done, err
}

// directionSet returns the call that tells the data plane g's direction.
func (m *Member) directionSet(g *group) func() {
	dir, _ := g.direction()
	name := g.cfg.Name
	return func() {
		if m.opt.OnDirection != nil {
			m.opt.OnDirection(name, dir)
		}
	}
}

// AdminError is an operator action refused (the control socket answers
// 409).
type AdminError struct{ Msg string }

func (e *AdminError) Error() string { return e.Msg }

// Refused marks the error as the operator's request refused.
func (e *AdminError) Refused() {}

// eachGroup runs fn under the lock on every group, or the one named.
func (m *Member) eachGroup(name string, fn func(*group)) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var done []string
	for _, g := range m.groups {
		if name == "" || g.cfg.Name == name {
			fn(g)
			done = append(done, g.cfg.Name)
		}
	}
	if len(done) == 0 {
		return nil, &AdminError{fmt.Sprintf("ERROR: no group %s on this GM", name)}
	}
	return done, nil
}

// Clear is "clear crypto gdoi [group G]" on a GM (KS-53, S0 §5): the
// downloaded policy and keys are deleted, the data plane left as before
// the first registration (fail-close armed again where it is configured),
// and the GM registers again as the first time, with a new main mode.
func (m *Member) Clear(name string) ([]string, error) {
	var after []func()
	done, err := m.eachGroup(name, func(g *group) {
		m.opt.Events.Emit("GM_CLEAR_REGISTER", "group", g.cfg.Name)
		if g.ks.IsValid() {
			m.p1.DropPeer(netip.AddrPortFrom(g.ks, m.cfg.Listen.Port))
		}
		after = append(after, m.withdraw(g))
		g.state, g.a, g.pass = stateRegistering, nil, 0
		m.startAttempt(g, 0)
	})
	for _, f := range after {
		f()
	}
	return done, err
}

// withdraw deletes g's policy, keys and direction, and returns the call
// that removes them from the data plane.
func (m *Member) withdraw(g *group) func() {
	g.policy, g.previousKEK, g.a = nil, nil, nil
	g.ksDir, g.localDir = "", ""
	g.reregAt, g.reregKEK = time.Time{}, false
	g.stopTimer()
	name := g.cfg.Name
	return func() {
		if m.opt.OnWithdraw != nil {
			m.opt.OnWithdraw(name)
		}
	}
}

// removal is what a PUSH's Delete payloads do to g: a GM-removal message
// deletes the KEK (RK-60), and the immediate one every TEK with it
// (RK-61). replaceNow-style deletes of old TEKs beside new ones are not a
// removal.
type removal int

const (
	noRemoval removal = iota
	removalTransient
	removalNow
)

// removalOf reads a PUSH's Delete payloads against the policy it leaves
// (np, the TEKs after the deletes).
func removalOf(dels []*isakmp.Delete, kek *gdoi.KEK, np *gdoi.Policy) removal {
	if kek == nil || !slices.ContainsFunc(dels, func(d *isakmp.Delete) bool { return deletesKEK(d, kek) }) {
		return noRemoval
	}
	if len(np.TEKs) == 0 {
		return removalNow
	}
	return removalTransient
}

// deletesKEK reports whether d deletes kek: protocol ISAKMP, the KEK's
// 16-octet cookie pair as SPI (RFC 6407 §5.6 with RFC 2408's SPI size).
func deletesKEK(d *isakmp.Delete, kek *gdoi.KEK) bool {
	if d.ProtocolID != isakmp.ProtoISAKMP || d.SPISize != 16 {
		return false
	}
	return slices.ContainsFunc(d.SPIs, func(spi []byte) bool { return len(spi) == 16 && [16]byte(spi) == kek.SPI })
}

// removeNow applies an immediate GM removal to g: every key and the policy
// go (the data plane fails open, or closed where fail-close is
// configured), and the GM registers again at a random time within
// ImmediateReregistrationBound. rlt is the longest remaining TEK lifetime
// before the removal.
func (m *Member) removeNow(g *group, rlt time.Duration) func() {
	bound := gdoi.ImmediateReregistrationBound(rlt, g.tekCLT)
	delay := max(time.Duration(m.opt.Rand()*float64(bound)), time.Second)
	m.opt.Events.Emit("GM_RECV_DELETE_IMMEDIATE", "group", g.cfg.Name, "delay", fmt.Sprint(int(delay.Seconds())))
	withdrawn := m.withdraw(g)
	g.state = stateRegistering
	g.reregAt = m.clk.After(m.clk.Now(), delay)
	m.after(g, delay, func() {
		g.pass = 0
		m.startAttempt(g, 0)
	})
	return withdrawn
}
