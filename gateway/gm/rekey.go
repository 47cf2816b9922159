package gm

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/getlab/getlab/gateway/counter"
	"github.com/getlab/getlab/gateway/gdoi"
	gdoiwire "github.com/getlab/getlab/gateway/wire/gdoi"
	"github.com/getlab/getlab/gateway/wire/isakmp"
)

// rekey handles a GROUPKEY-PUSH (protocols.md §1.5 "GM processing"): find
// the KEK by the header's cookies, decrypt, verify the KS's signature,
// check that the sequence number grows, install the new policy and, when
// the KEK asks for it, acknowledge (RFC 8263). A PUSH that fails any check
// changes nothing: the GM keeps its keys, and the failure is counted and
// logged. It returns the install callbacks to run outside the lock.
func (m *Member) rekey(from netip.AddrPort, h isakmp.Header, pkt []byte) func() {
	g := m.groupByKEK(h.Cookies())
	if g == nil {
		// A KEK this GM does not hold: another group's, one it replaced,
		// or garbage. RFC 6407 says drop; the counter says how often.
		m.opt.Counters.Inc(counter.RekeyUnknownKEK)
		return nil
	}
	name, ks := g.cfg.Name, from.Addr().String()
	kek := g.policy.KEK
	push, err := gdoi.OpenPush(pkt, kek)
	switch {
	case errors.Is(err, gdoi.ErrPushSignature):
		m.refuse(g, counter.RekeyBadSignature, "GM_REKEY_FAIL", "ks", ks, "reason", err.Error())
		return nil
	case err != nil:
		m.refuse(g, counter.RekeyMalformed, "GDOI_REKEY_FAILURE", "ks", ks, "reason", err.Error())
		return nil
	}
	if push.Seq <= g.policy.Seq {
		// A replay, or a retransmission of a PUSH already taken: RFC 6407
		// §4.8 accepts only a larger sequence number (RK-90).
		m.refuse(g, counter.RekeyReplayed, "GDOI_REKEY_SEQ_FAILURE", "seq", fmt.Sprint(push.Seq), "last_seq", fmt.Sprint(g.policy.Seq))
		return nil
	}
	if !m.cfg.GDOI.Has(FeatureGMRemoval) && slices.ContainsFunc(push.Deletes, func(d *isakmp.Delete) bool { return deletesKEK(d, kek) }) {
		// Staged as a GM older than GM removal (GDOI 1.0.3): it ignores
		// the delete message and keeps its SAs, as the seeds say such
		// devices do (RK-62).
		g.policy.Seq = push.Seq
		m.refuse(g, counter.RemovalIgnored, "GM_REKEY_FAIL", "ks", ks, "reason", "GM-removal message ignored: this GM's GDOI features do not include "+FeatureGMRemoval)
		return nil
	}
	me := m.opt.Local.Addr().String()
	m.opt.Events.Emit("GM_RECV_REKEY", "group", name, "ks", ks, "gm", me, "seq", fmt.Sprint(push.Seq))
	g.rekeysReceived++
	m.opt.Counters.Inc(counter.RekeysReceived)
	np, err := m.merge(g, push)
	if err != nil {
		// Signed by the KS, so its sequence number is spent; the GM keeps
		// its keys and re-registers when they run out.
		g.policy.Seq = push.Seq
		m.refuse(g, counter.RekeyInstallFailed, "GM_REKEY_FAIL", "ks", ks, "reason", err.Error())
		return nil
	}
	// Acknowledged only now that the PUSH is verified, fresh and installed
	// (RFC 8263), under the KEK that protected it even when the PUSH
	// replaces or deletes that KEK, and as a reply: to the PUSH's source
	// address and port, from the GDOI socket it (unicast) came in on.
	// ID is the address the GM registers from.
	m.ack(g, kek, from, push.Seq)
	switch removalOf(push.Deletes, kek, np) {
	case removalNow:
		_, teks := m.aged(g)
		rlt := time.Duration(0)
		for _, t := range teks {
			rlt = max(rlt, t.Lifetime)
		}
		g.policy.Seq = push.Seq
		return m.removeNow(g, rlt)
	case removalTransient:
		// The KEK goes at once, the TEKs live on for TEK_SLT at most,
		// and the conventional re-registration timer, jitter included,
		// runs on what is left (RK-60).
		np.KEK = nil
		for i := range np.TEKs {
			np.TEKs[i].Lifetime = min(np.TEKs[i].Lifetime, gdoi.TEKShortened(np.TEKs[i].Lifetime, g.tekCLT))
		}
		m.opt.Events.Emit("GM_RECV_DELETE", "group", name)
	}
	return m.installRekey(g, np)
}

// ack acknowledges PUSH seq, received from from under kek, when the KS
// asks for it with a type this GM knows; another type is logged once per
// KEK and never acknowledged (the GM stays registered: the KS should not
// take a GM that never acknowledged for gone).
func (m *Member) ack(g *group, kek *gdoi.KEK, from netip.AddrPort, seq uint32) {
	if kek.Ack == 0 {
		return
	}
	if !gdoi.AckSupported(kek.Ack) {
		m.opt.Counters.Inc(counter.RekeyAckUnsupported)
		if g.ackRefused != kek.SPI {
			g.ackRefused = kek.SPI
			m.opt.Events.Emit("GM_ACK_UNSUPPORTED", "group", g.cfg.Name, "ks", from.Addr().String(), "type", fmt.Sprint(kek.Ack))
		}
		return
	}
	pkt, err := gdoi.SealAck(kek, seq, m.opt.Local.Addr())
	if err != nil {
		m.opt.Counters.Inc(counter.RekeyAckFailures)
		m.opt.Events.Logf("error", "group %s: acknowledgement of rekey %d: %v", g.cfg.Name, seq, err)
		return
	}
	m.opt.Send(from, pkt)
	g.acksSent++
	m.opt.Counters.Inc(counter.RekeyAcksSent)
}

// refuse counts and logs a PUSH the GM did not take.
func (m *Member) refuse(g *group, c counter.Name, event string, fields ...string) {
	g.rekeysRejected++
	m.opt.Counters.Inc(c)
	m.opt.Events.Emit(event, append([]string{"group", g.cfg.Name}, fields...)...)
}

// groupByKEK is the registered group whose KEK has the cookie pair c.
func (m *Member) groupByKEK(c [16]byte) *group {
	for _, g := range m.groups {
		if g.policy != nil && g.policy.KEK != nil && g.policy.KEK.SPI == c {
			return g
		}
	}
	return nil
}

// merge builds the policy a PUSH leaves the GM with: the PUSH's SA and KD,
// plus what a PUSH does not carry — the GM's Sender-IDs (given at
// registration only), and, when it has no SAK, the current KEK. A unicast
// PUSH names no rekey destination (the KS signs one copy for every GM):
// the GM keeps its own.
func (m *Member) merge(g *group, push *gdoi.Push) (*gdoi.Policy, error) {
	old := g.policy
	if push.SA == nil {
		np := *old
		np.Seq = push.Seq
		np.KEK, np.TEKs = m.aged(g)
		np.TEKs = deleteTEKs(np.TEKs, push.Deletes)
		np.Deleted = deletedTEKs(push.Deletes)
		return &np, nil
	}
	// Whatever the profile, a KEK rekey's key packet may come under the
	// new SPI (RFC 6407) or the old one (gdoid).
	np, err := gdoi.ParsePolicyWith(g.cfg.ID, push.SA, push.KD, &gdoiwire.SEQ{Seq: push.Seq},
		gdoi.ParseOptions{Wire: g.interop.Wire, CurrentKEK: &old.KEK.SPI})
	if err != nil {
		return nil, err
	}
	np.SIDs, np.SIDBits = old.SIDs, old.SIDBits
	if len(push.SA.SATs()) == 0 {
		// A KEK-only rekey (gdoid's): the TEKs and deny entries stay.
		_, np.TEKs = m.aged(g)
		np.Deny = old.Deny
	}
	np.TEKs = deleteTEKs(np.TEKs, push.Deletes)
	np.Deleted = deletedTEKs(push.Deletes)
	if np.KEK == nil {
		np.KEK, _ = m.aged(g)
	} else if !np.KEK.Dst.Addr().IsMulticast() {
		np.KEK.Dst = m.opt.Local
	}
	return np, nil
}

// deleteTEKs drops the TEKs a signed PUSH's Delete payloads name (4-octet
// ESP SPIs, RFC 6407 §4.2: gdoid's KS sends one when it stops, listing
// every TEK it made).
func deleteTEKs(teks []gdoi.TEK, dels []*isakmp.Delete) []gdoi.TEK {
	for _, d := range dels {
		if d.ProtocolID != uint8(gdoiwire.TEKProtoESP) || d.SPISize != 4 {
			continue
		}
		teks = slices.DeleteFunc(teks, func(t gdoi.TEK) bool {
			return slices.ContainsFunc(d.SPIs, func(spi []byte) bool {
				return len(spi) == 4 && binary.BigEndian.Uint32(spi) == t.SPI
			})
		})
	}
	return teks
}

// deletedTEKs are the ESP SPIs a PUSH's Delete payloads name.
func deletedTEKs(dels []*isakmp.Delete) []uint32 {
	var spis []uint32
	for _, d := range dels {
		if d.ProtocolID != uint8(gdoiwire.TEKProtoESP) || d.SPISize != 4 {
			continue
		}
		for _, spi := range d.SPIs {
			if len(spi) == 4 {
				spis = append(spis, binary.BigEndian.Uint32(spi))
			}
		}
	}
	return spis
}

// aged returns copies of the current KEK and TEKs with their lifetimes
// counted from now.
func (m *Member) aged(g *group) (*gdoi.KEK, []gdoi.TEK) {
	el := m.protocolSince(g.installedAt)
	var kek *gdoi.KEK
	if g.policy.KEK != nil {
		k := *g.policy.KEK
		k.Lifetime -= el
		kek = &k
	}
	teks := slices.Clone(g.policy.TEKs)
	for i := range teks {
		teks[i].Lifetime -= el
	}
	return kek, teks
}

// installRekey makes a rekeyed policy current: the seeds' SA_KEK_UPDATED
// (for a new KEK) and SA_TEK_UPDATED (for new TEKs) events, and a new
// re-registration point.
func (m *Member) installRekey(g *group, np *gdoi.Policy) func() {
	old := g.policy
	name := g.cfg.Name
	if np.KEK != nil && (old.KEK == nil || np.KEK.SPI != old.KEK.SPI) {
		g.previousKEK, g.kekFirstLife = old.KEK, np.KEK.Lifetime
		m.opt.Events.Emit("SA_KEK_UPDATED", "group", name, "spi", fmt.Sprintf("%x", np.KEK.SPI))
	}
	m.transportEvent(g, old, np)
	var fresh []string
	for _, t := range np.TEKs {
		if !slices.ContainsFunc(old.TEKs, func(o gdoi.TEK) bool { return o.SPI == t.SPI }) {
			fresh = append(fresh, fmt.Sprintf("0x%08x", t.SPI))
		}
	}
	if len(fresh) > 0 {
		m.opt.Events.Emit("SA_TEK_UPDATED", "group", name, "spi", strings.Join(fresh, " "))
	}
	now := m.clk.Now()
	g.policy, g.installedAt, g.lastRekey = np, now, now
	g.oldKS = false
	m.followKS(g, old, np, true)
	if g.a != nil {
		// A re-registration was under way (its timer fired before this
		// rekey came): the rekey makes it moot.
		g.a, g.state = nil, stateRegistered
		m.opt.Counters.Inc(counter.ReregistrationsCancelled)
	}
	m.opt.KeyLog.Policy(name, np)
	m.scheduleReregistration(g, np)
	return m.installed(g, np)
}

// transportEvent logs GM_REKEY_TRANS_2_UNI or _2_MULTI when the rekey
// transport changes (or at the first registration).
func (m *Member) transportEvent(g *group, old, np *gdoi.Policy) {
	if np.KEK == nil {
		return
	}
	multicast := np.KEK.Dst.Addr().IsMulticast()
	if old != nil && old.KEK != nil && old.KEK.Dst.Addr().IsMulticast() == multicast {
		return
	}
	if multicast {
		m.opt.Events.Emit("GM_REKEY_TRANS_2_MULTI", "group", g.cfg.Name)
	} else {
		m.opt.Events.Emit("GM_REKEY_TRANS_2_UNI", "group", g.cfg.Name)
	}
}

// installed returns what to run outside the lock once policy p is
// current: join the multicast rekey group, feed the data plane.
func (m *Member) installed(g *group, p *gdoi.Policy) func() {
	name := g.cfg.Name
	var join netip.AddrPort
	if p.KEK != nil && p.KEK.Dst.Addr().IsMulticast() {
		join = p.KEK.Dst
	}
	for _, t := range p.TEKs {
		g.tekCLT = max(g.tekCLT, t.Lifetime)
	}
	direction := m.directionSet(g)
	return func() {
		direction()
		if join.IsValid() && m.opt.JoinGroup != nil {
			if err := m.opt.JoinGroup(join); err != nil {
				m.opt.Counters.Inc(counter.MulticastJoinFailures)
				m.opt.Events.Logf("error", "group %s: joining rekey group %s: %v", name, join, err)
			}
		}
		if m.opt.OnInstall != nil {
			m.opt.OnInstall(name, p)
		}
	}
}
