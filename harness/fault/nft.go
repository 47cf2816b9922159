package fault

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"sync"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/userdata"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// TableName is the nftables table (family inet) that holds every impairment
// in a namespace. It exists only while at least one impairment does.
const TableName = "getlab_fault"

// The table's base chains, all of type filter at priority raw (-300), so a
// drop happens before conntrack sees a locally generated packet.
var baseChains = []struct {
	name string
	hook *nftables.ChainHook
}{
	{"input", nftables.ChainHookInput},
	{"output", nftables.ChainHookOutput},
	{"forward", nftables.ChainHookForward},
}

// Direction says which packets on an interface an impairment affects.
type Direction int

const (
	// Both affects packets arriving and leaving (the zero value).
	Both Direction = iota
	// Ingress affects packets arriving on the interface, whether delivered
	// locally (input hook) or forwarded (forward hook).
	Ingress
	// Egress affects packets leaving by the interface, whether locally
	// generated (output hook) or forwarded (forward hook).
	Egress
)

func (d Direction) String() string {
	switch d {
	case Both:
		return "both"
	case Ingress:
		return "ingress"
	case Egress:
		return "egress"
	}
	return fmt.Sprintf("Direction(%d)", int(d))
}

// Match selects the packets AddDrop drops. Zero fields match anything, so
// Match{} drops every IP packet in, out of and through the namespace.
//
// Every and Percent are applied after all other fields, so they count only
// packets that match. The kernel keeps one counter (Every) or draws one
// random number (Percent) per rule, and a Match becomes one rule per hook it
// touches (see Direction): with Dir Both, arriving and leaving packets are
// counted separately.
type Match struct {
	Iface string    // interface the packet arrives on or leaves by; "" = any
	Dir   Direction // Both (zero), Ingress or Egress

	Src, Dst netip.Prefix // source / destination prefix; the zero Prefix = any; both of one family

	Proto   uint8  // IP protocol (unix.IPPROTO_UDP, ...); 0 = any
	DstPort uint16 // transport destination port; needs Proto TCP, UDP, UDP-Lite or SCTP

	Percent int // drop this percentage (1..100) of matching packets at random (numgen random)
	Every   int // drop the Nth, 2Nth, ... matching packet (numgen inc); 0 = off; excludes Percent
}

func (m Match) validate() error {
	if m.Dir != Both && m.Dir != Ingress && m.Dir != Egress {
		return fmt.Errorf("invalid direction %d", int(m.Dir))
	}
	if len(m.Iface) >= unix.IFNAMSIZ || strings.ContainsRune(m.Iface, 0) {
		return fmt.Errorf("invalid interface name %q", m.Iface)
	}
	for _, p := range []netip.Prefix{m.Src, m.Dst} {
		if p != (netip.Prefix{}) && !p.IsValid() {
			return fmt.Errorf("invalid prefix %v", p)
		}
	}
	if m.Src.IsValid() && m.Dst.IsValid() && m.Src.Addr().Is4() != m.Dst.Addr().Is4() {
		return fmt.Errorf("source %v and destination %v are of different families", m.Src, m.Dst)
	}
	if m.DstPort != 0 {
		switch m.Proto {
		case unix.IPPROTO_TCP, unix.IPPROTO_UDP, unix.IPPROTO_UDPLITE, unix.IPPROTO_SCTP:
		default:
			return fmt.Errorf("destination port %d needs protocol TCP, UDP, UDP-Lite or SCTP, not %d", m.DstPort, m.Proto)
		}
	}
	if m.Percent < 0 || m.Percent > 100 {
		return fmt.Errorf("percent %d outside 1..100", m.Percent)
	}
	if m.Every < 0 {
		return fmt.Errorf("every %d is negative", m.Every)
	}
	if m.Percent != 0 && m.Every != 0 {
		return errors.New("percent and every are exclusive")
	}
	return nil
}

// String describes the match in a compact nft-like form, used in messages
// and in the rules' comments.
func (m Match) String() string {
	var f []string
	switch {
	case m.Iface != "" && m.Dir == Ingress:
		f = append(f, "in "+m.Iface)
	case m.Iface != "" && m.Dir == Egress:
		f = append(f, "out "+m.Iface)
	case m.Iface != "":
		f = append(f, "on "+m.Iface)
	case m.Dir != Both:
		f = append(f, m.Dir.String())
	}
	if m.Src.IsValid() {
		f = append(f, "from "+m.Src.String())
	}
	if m.Dst.IsValid() {
		f = append(f, "to "+m.Dst.String())
	}
	switch m.Proto {
	case 0:
	case unix.IPPROTO_UDP:
		f = append(f, "udp")
	case unix.IPPROTO_TCP:
		f = append(f, "tcp")
	default:
		f = append(f, fmt.Sprintf("proto %d", m.Proto))
	}
	if m.DstPort != 0 {
		f = append(f, fmt.Sprintf("dport %d", m.DstPort))
	}
	if m.Percent != 0 {
		f = append(f, fmt.Sprintf("%d%%", m.Percent))
	}
	if m.Every != 0 {
		f = append(f, fmt.Sprintf("every %d", m.Every))
	}
	if len(f) == 0 {
		return "all"
	}
	return strings.Join(f, " ")
}

// ruleSpec is one rule before it is sent: its chain and its expressions,
// counter and drop verdict included.
type ruleSpec struct {
	chain string
	exprs []expr.Any
}

// rules turns a validated Match into one rule per hook it touches.
func (m Match) rules() []ruleSpec {
	type hook struct {
		chain string
		key   expr.MetaKey // interface name key; 0 when not matching one
	}
	in := hook{"input", expr.MetaKeyIIFNAME}
	out := hook{"output", expr.MetaKeyOIFNAME}
	fwdIn := hook{"forward", expr.MetaKeyIIFNAME}
	fwdOut := hook{"forward", expr.MetaKeyOIFNAME}
	var hooks []hook
	switch {
	case m.Dir == Ingress:
		hooks = []hook{in, fwdIn}
	case m.Dir == Egress:
		hooks = []hook{out, fwdOut}
	case m.Iface == "":
		hooks = []hook{in, out, {"forward", 0}} // one forward rule: a packet passes it once
	default:
		hooks = []hook{in, out, fwdIn, fwdOut}
	}
	var specs []ruleSpec
	for _, h := range hooks {
		var e []expr.Any
		if m.Iface != "" && h.key != 0 {
			e = append(e,
				&expr.Meta{Key: h.key, Register: 1},
				&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: ifname(m.Iface)})
		}
		e = append(e, m.packetExprs()...)
		specs = append(specs, ruleSpec{chain: h.chain, exprs: e})
	}
	return specs
}

// packetExprs matches addresses, protocol and port, then samples, counts
// and drops. It is everything of a rule but the interface match.
func (m Match) packetExprs() []expr.Any {
	var e []expr.Any
	if m.Src.IsValid() || m.Dst.IsValid() {
		v4 := m.Src.IsValid() && m.Src.Addr().Is4() || m.Dst.IsValid() && m.Dst.Addr().Is4()
		proto := byte(unix.NFPROTO_IPV6)
		if v4 {
			proto = unix.NFPROTO_IPV4
		}
		e = append(e,
			&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{proto}})
		if m.Src.IsValid() {
			e = append(e, prefixExprs(m.Src, true)...)
		}
		if m.Dst.IsValid() {
			e = append(e, prefixExprs(m.Dst, false)...)
		}
	}
	if m.Proto != 0 {
		e = append(e,
			&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{m.Proto}})
	}
	if m.DstPort != 0 {
		e = append(e,
			&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.BigEndian.PutUint16(m.DstPort)})
	}
	switch {
	case m.Percent > 0 && m.Percent < 100:
		// numgen random mod 100 < percent. cmp lt compares bytes with memcmp,
		// so the host-order number goes through byteorder hton first, as nft
		// does it.
		e = append(e,
			&expr.Numgen{Register: 1, Modulus: 100, Type: unix.NFT_NG_RANDOM},
			&expr.Byteorder{SourceRegister: 1, DestRegister: 1, Op: expr.ByteorderHton, Len: 4, Size: 4},
			&expr.Cmp{Op: expr.CmpOpLt, Register: 1, Data: binaryutil.BigEndian.PutUint32(uint32(m.Percent))})
	case m.Every > 1:
		// numgen inc mod N == N-1: the Nth, 2Nth, ... packet.
		e = append(e,
			&expr.Numgen{Register: 1, Modulus: uint32(m.Every), Type: unix.NFT_NG_INCREMENTAL},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.NativeEndian.PutUint32(uint32(m.Every - 1))})
	}
	return append(e, &expr.Counter{}, &expr.Verdict{Kind: expr.VerdictDrop})
}

// prefixExprs loads the source or destination address from the network
// header, masks it when p is shorter than a host address, and compares.
func prefixExprs(p netip.Prefix, src bool) []expr.Any {
	p = p.Masked()
	addr := p.Addr().AsSlice()
	var off uint32
	switch {
	case p.Addr().Is4() && src:
		off = 12
	case p.Addr().Is4():
		off = 16
	case src:
		off = 8
	default:
		off = 24
	}
	n := uint32(len(addr))
	e := []expr.Any{&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: off, Len: n}}
	if p.Bits() < len(addr)*8 {
		mask := make([]byte, n)
		for i := 0; i < p.Bits(); i++ {
			mask[i/8] |= 0x80 >> (i % 8)
		}
		e = append(e, &expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: n, Mask: mask, Xor: make([]byte, n)})
	}
	return append(e, &expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: addr})
}

// ifname is the 16-byte, zero-padded form meta iifname/oifname compare to.
func ifname(name string) []byte {
	b := make([]byte, unix.IFNAMSIZ)
	copy(b, name)
	return b
}

// Impairment is a set of drop rules in one or more namespaces, installed by
// AddLoss, AddDrop or Partition and in force until Remove.
type Impairment struct {
	desc string

	mu      sync.Mutex
	parts   []part // namespaces that still hold rules of this impairment
	dropped uint64 // packets dropped by rules already removed
}

// part is the share of an impairment in one namespace: the rules there
// whose comment carries id.
type part struct {
	netNS string
	id    string
}

// String describes the impairment, e.g. "loss 30% on gm1 eth1 ingress".
func (i *Impairment) String() string { return i.desc }

// Remove deletes the impairment's rules, and the getlab_fault table of each
// namespace where they were the last ones. It is idempotent; a namespace
// that no longer exists counts as cleaned. After a partial failure, calling
// it again retries the namespaces that failed.
func (i *Impairment) Remove() error {
	i.mu.Lock()
	defer i.mu.Unlock()
	var errs []error
	var left []part
	for _, p := range i.parts {
		n, err := p.remove()
		i.dropped += n
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", nsLabel(p.netNS), err))
			left = append(left, p)
		}
	}
	i.parts = left
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("fault: remove %s: %w", i.desc, err)
	}
	return nil
}

// Dropped reports how many packets the impairment has dropped so far, read
// from its rules' counters. After Remove it reports the final count.
func (i *Impairment) Dropped() (uint64, error) {
	i.mu.Lock()
	defer i.mu.Unlock()
	total := i.dropped
	for _, p := range i.parts {
		n, err := p.count()
		if err != nil {
			return 0, fmt.Errorf("fault: dropped %s: %s: %w", i.desc, nsLabel(p.netNS), err)
		}
		total += n
	}
	return total, nil
}

// AddLoss drops percent (1..100) of the IP packets leaving and/or arriving
// on iface in the namespace at netNS, chosen at random (nftables numgen
// random), until Remove. Forwarded packets count: on a router, a loss on
// eth1 affects transit traffic through eth1 too. Every IP packet is
// subject to it, ICMPv6 neighbour discovery included; ARP is not (it is not
// IP).
func AddLoss(netNS, iface string, percent int, dir Direction) (*Impairment, error) {
	desc := fmt.Sprintf("loss %d%% on %s %s %s", percent, nsLabel(netNS), iface, dir)
	wrap := func(err error) error {
		return fmt.Errorf("fault: loss on %s %s: %w", nsLabel(netNS), iface, err)
	}
	if percent < 1 || percent > 100 {
		return nil, wrap(fmt.Errorf("percent %d outside 1..100", percent))
	}
	if iface == "" {
		return nil, wrap(errors.New("no interface name"))
	}
	m := Match{Iface: iface, Dir: dir, Percent: percent}
	if err := m.validate(); err != nil {
		return nil, wrap(err)
	}
	if err := checkIface(netNS, iface); err != nil {
		return nil, wrap(err)
	}
	imp, err := install(desc, map[string][]ruleSpec{netNS: m.rules()})
	if err != nil {
		return nil, wrap(err)
	}
	return imp, nil
}

// AddDrop drops the packets that match m in the namespace at netNS until
// Remove. A named interface must exist at call time.
func AddDrop(netNS string, m Match) (*Impairment, error) {
	desc := fmt.Sprintf("drop %s on %s", m, nsLabel(netNS))
	wrap := func(err error) error {
		return fmt.Errorf("fault: drop %s on %s: %w", m, nsLabel(netNS), err)
	}
	if err := m.validate(); err != nil {
		return nil, wrap(err)
	}
	if m.Iface != "" {
		if err := checkIface(netNS, m.Iface); err != nil {
			return nil, wrap(err)
		}
	}
	imp, err := install(desc, map[string][]ruleSpec{netNS: m.rules()})
	if err != nil {
		return nil, wrap(err)
	}
	return imp, nil
}

// install adds the rules of a new impairment, namespace by namespace; if a
// namespace fails, those already done are removed again.
func install(desc string, specs map[string][]ruleSpec) (*Impairment, error) {
	id, err := newID()
	if err != nil {
		return nil, err
	}
	imp := &Impairment{desc: desc}
	for netNS, rs := range specs {
		p := part{netNS: netNS, id: id}
		if err := p.add(desc, rs); err != nil {
			err = fmt.Errorf("%s: %w", nsLabel(netNS), err)
			if rerr := imp.Remove(); rerr != nil {
				err = errors.Join(err, rerr)
			}
			return nil, err
		}
		imp.parts = append(imp.parts, p)
	}
	return imp, nil
}

// newID returns a random identifier that tells an impairment's rules apart
// from others', even those of another process.
func newID() (string, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("impairment id: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// comment is the user data of p's rules: an nft comment "getlab_fault ID
// DESC", cut to nft's 127-byte limit.
func (p part) comment(desc string) []byte {
	c := TableName + " " + p.id + " " + desc
	if len(c) > 127 {
		c = c[:127]
	}
	return userdata.AppendString(nil, userdata.TypeComment, c)
}

// mine reports whether r is one of p's rules.
func (p part) mine(r *nftables.Rule) bool {
	c, ok := userdata.GetString(r.UserData, userdata.TypeComment)
	if !ok {
		return false
	}
	f := strings.Fields(c)
	return len(f) >= 2 && f[0] == TableName && f[1] == p.id
}

// add creates the table and base chains if missing and adds the rules, all
// in one netlink batch, so the namespace never sees half an impairment.
func (p part) add(desc string, specs []ruleSpec) error {
	unlock := lockNS(p.netNS)
	defer unlock()
	c, done, err := dial(p.netNS)
	if err != nil {
		return err
	}
	defer done()
	t := c.AddTable(&nftables.Table{Name: TableName, Family: nftables.TableFamilyINet})
	chains := map[string]*nftables.Chain{}
	for _, bc := range baseChains {
		chains[bc.name] = c.AddChain(&nftables.Chain{
			Name:     bc.name,
			Table:    t,
			Hooknum:  bc.hook,
			Priority: nftables.ChainPriorityRaw,
			Type:     nftables.ChainTypeFilter,
		})
	}
	ud := p.comment(desc)
	for _, s := range specs {
		c.AddRule(&nftables.Rule{Table: t, Chain: chains[s.chain], Exprs: s.exprs, UserData: ud})
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("nftables: %w", err)
	}
	return nil
}

// remove deletes p's rules, and the table if nothing else is left in it,
// returning the packets they had dropped.
func (p part) remove() (uint64, error) {
	unlock := lockNS(p.netNS)
	defer unlock()
	c, done, err := dial(p.netNS)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil // the namespace is gone, and its rules with it
	}
	if err != nil {
		return 0, err
	}
	defer done()
	t, all, err := listRules(c)
	if err != nil || t == nil {
		return 0, err
	}
	var n uint64
	var others int
	for _, r := range all {
		if !p.mine(r) {
			others++
			continue
		}
		n += dropped(r)
		if err := c.DelRule(r); err != nil {
			return 0, err
		}
	}
	if others == 0 {
		c.DelTable(t)
	}
	if err := c.Flush(); err != nil {
		return 0, fmt.Errorf("nftables: %w", err)
	}
	return n, nil
}

// count sums the counters of p's rules.
func (p part) count() (uint64, error) {
	c, done, err := dial(p.netNS)
	if err != nil {
		return 0, err
	}
	defer done()
	_, all, err := listRules(c)
	if err != nil {
		return 0, err
	}
	var n uint64
	var found bool
	for _, r := range all {
		if p.mine(r) {
			found = true
			n += dropped(r)
		}
	}
	if !found {
		return 0, errors.New("rules not found (table removed behind our back?)")
	}
	return n, nil
}

// dropped reads the packet counter of one rule.
func dropped(r *nftables.Rule) uint64 {
	var n uint64
	for _, e := range r.Exprs {
		if c, ok := e.(*expr.Counter); ok {
			n += c.Packets
		}
	}
	return n
}

// listRules returns the getlab_fault table and every rule in its base
// chains, or a nil table if there is none.
func listRules(c *nftables.Conn) (*nftables.Table, []*nftables.Rule, error) {
	t, err := c.ListTableOfFamily(TableName, nftables.TableFamilyINet)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("nftables: list table: %w", err)
	}
	var all []*nftables.Rule
	for _, bc := range baseChains {
		rs, err := c.GetRules(t, &nftables.Chain{Name: bc.name, Table: t})
		if err != nil {
			return nil, nil, fmt.Errorf("nftables: list chain %s: %w", bc.name, err)
		}
		all = append(all, rs...)
	}
	return t, all, nil
}

// dial opens an nftables connection in the namespace at netNS. The
// namespace is entered by file descriptor only while the netlink socket is
// created; no goroutine of the caller changes namespace.
func dial(netNS string) (*nftables.Conn, func(), error) {
	ns, err := netns.GetFromPath(netNS)
	if err != nil {
		return nil, nil, fmt.Errorf("open namespace: %w", err)
	}
	c, err := nftables.New(nftables.WithNetNSFd(int(ns)), nftables.AsLasting())
	if err != nil {
		ns.Close()
		return nil, nil, fmt.Errorf("nftables in namespace: %w", err)
	}
	return c, func() {
		c.CloseLasting()
		ns.Close()
	}, nil
}

// nsKey identifies a namespace whatever path names it.
type nsKey struct{ dev, ino uint64 }

// nsIdentity is a key equal for two paths naming the same namespace (the
// path itself if it cannot be read).
func nsIdentity(netNS string) any {
	var st unix.Stat_t
	if unix.Stat(netNS, &st) == nil {
		return nsKey{uint64(st.Dev), st.Ino}
	}
	return netNS
}

var nsLocks = struct {
	sync.Mutex
	m map[any]*sync.Mutex
}{m: map[any]*sync.Mutex{}}

// lockNS serialises this process's changes to one namespace's table, so
// that a Remove that deletes the table cannot race an add into it. Calls
// for different namespaces run in parallel.
func lockNS(netNS string) (unlock func()) {
	key := nsIdentity(netNS)
	nsLocks.Lock()
	mu := nsLocks.m[key]
	if mu == nil {
		mu = new(sync.Mutex)
		nsLocks.m[key] = mu
	}
	nsLocks.Unlock()
	mu.Lock()
	return mu.Unlock
}
