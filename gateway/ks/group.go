package ks

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"time"

	"github.com/getlab/getlab/gateway/config"
	"github.com/getlab/getlab/gateway/coop"
	"github.com/getlab/getlab/gateway/gdoi"
	gdoiwire "github.com/getlab/getlab/gateway/wire/gdoi"
)

// group is one group the KS serves: its configuration, current keys and
// members.
type group struct {
	cfg *config.Group
	// interop is the group's interop profile (config interop_profile):
	// the KEK it makes and how its messages are laid out.
	interop gdoi.Interop
	signer  *rsa.PrivateKey
	pubDER  []byte

	kek        *gdoi.KEK
	kekCreated time.Time
	// gens are the TEK generations still alive, oldest first: after a
	// rekey the previous one stays until it expires, and GMs that register
	// meanwhile get both (RK-41).
	gens []tekGen
	seq  uint32
	// seqSeen is the highest sequence number a cooperating KS announced
	// (used or reserved): a KS that takes over starts above it.
	seqSeen uint32
	nextSID uint32

	members       map[netip.Addr]*member
	registrations uint64
	rekey         rekeyState

	// epoch is when the group's keys were first made, on this KS's clock
	// (the ANN's pseudotime counts from it).
	epoch time.Time
	// coop is the group's cooperative key server state (nil: the KS
	// serves the group alone); policyDigest what its peers must match;
	// mismatch the COOP_CONFIG_MISMATCH last logged per peer.
	coop         *coop.Node
	policyDigest [32]byte
	mismatch     map[netip.Addr]string
	// generatedKey: the signing key was generated at start (not from the
	// configuration), so the state file keeps it; rekeyNow: the state
	// file's TEKs were for another policy, so the first tick rekeys.
	generatedKey bool
	rekeyNow     bool
	// deny are the deny entries GMs download, taken from the ACL when
	// the newest TEK generation was made (nil: none made yet, the ACL's):
	// a reloaded ACL reaches GMs with the next rekey, its permits and
	// denies together (KS-71).
	deny []gdoi.Selector
	// triggered is the replace mode of the triggered rekey being started
	// (admin.go), deleted the TEK SPIs it deletes; empty otherwise.
	triggered string
	deleted   []uint32
}

// tekGen is one generation of TEKs: made together, expiring together.
type tekGen struct {
	teks    []gdoi.TEK
	created time.Time
}

// KEK parameters come from the interop profile: under rfc AES-256 and
// SHA-256, the seeds' recommended choice (S0 L966-984, App. A "rekey
// algorithm aes 256", "rekey sig-hash algorithm sha256"); under gdoid
// AES-128 (gdoid's GM takes no other AES key length) and SHA-1.
func newGroup(gc *config.Group, id netip.Addr) (*group, error) {
	g := &group{cfg: gc, members: map[netip.Addr]*member{}, policyDigest: policyDigest(gc)}
	var ok bool
	if g.interop, ok = gdoi.InteropByName(gc.InteropProfile); !ok {
		return nil, fmt.Errorf("group %s: unknown interop profile %q", gc.Name, gc.InteropProfile)
	}
	var err error
	g.generatedKey = gc.Rekey.SigningKey.File == "" && gc.Rekey.SigningKey.PEM == ""
	if g.signer, err = signingKey(gc.Rekey.SigningKey); err != nil {
		return nil, fmt.Errorf("group %s: rekey signing key: %w", gc.Name, err)
	}
	if g.pubDER, err = x509.MarshalPKIXPublicKey(&g.signer.PublicKey); err != nil {
		return nil, err
	}
	return g, nil
}

// signingKey loads the RSA key from its PEM file or the PEM given inline
// (PKCS #1 or PKCS #8), so that cooperating KSs can share it (S0 §2.4),
// or generates one.
func signingKey(sk config.SigningKey) (*rsa.PrivateKey, error) {
	data, src := []byte(sk.PEM), "signing_key.pem"
	switch {
	case sk.File != "":
		var err error
		if data, err = os.ReadFile(sk.File); err != nil {
			return nil, err
		}
		src = sk.File
	case sk.PEM == "":
		return rsa.GenerateKey(rand.Reader, sk.Bits)
	}
	k, err := parseRSAPEM(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", src, err)
	}
	return k, nil
}

// parseRSAPEM reads an RSA private key in PEM, PKCS #1 or PKCS #8.
func parseRSAPEM(data []byte) (*rsa.PrivateKey, error) {
	blk, _ := pem.Decode(data)
	if blk == nil {
		return nil, errors.New("no PEM block")
	}
	if k, err := x509.ParsePKCS1PrivateKey(blk.Bytes); err == nil {
		return k, nil
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, err
	}
	rk, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, errors.New("not an RSA key")
	}
	return rk, nil
}

// SigningKeyHash is the SHA-256 of the public key (SPKI DER), hex: lets an
// operator see that cooperating KSs share one key.
func (g *group) signingKeyHash() string {
	s := sha256.Sum256(g.pubDER)
	return hex.EncodeToString(s[:])
}

// refresh makes sure the group has a KEK and TEKs that have not expired at
// now (elapsed protocol time is wall time divided by the scale), and drops
// TEK generations that have. Scheduled GROUPKEY-PUSH rekeys replace the
// keys before they expire; a KS that finds them expired anyway (its first
// start, or lifetimes too short for the rekey lead) makes new ones.
func (g *group) refresh(now time.Time, scaled func(time.Duration) time.Duration, identity netip.Addr) error {
	if !g.makesKeys() {
		// A secondary's keys are the primary's: it only forgets those
		// that expired.
		g.prune(now, scaled)
		if g.kek == nil || len(g.gens) == 0 {
			return fmt.Errorf("group %s: no keys from the primary", g.cfg.Name)
		}
		return nil
	}
	if g.kek == nil || now.Sub(g.kekCreated) >= scaled(g.kekLife()) {
		g.kek, g.kekCreated = g.newKEK(identity), now
	}
	g.prune(now, scaled)
	if len(g.gens) == 0 {
		if err := g.addTEKs(now); err != nil {
			return err
		}
	}
	return nil
}

// prune drops the TEK generations that expired by now.
func (g *group) prune(now time.Time, scaled func(time.Duration) time.Duration) {
	live := g.gens[:0]
	for _, gen := range g.gens {
		if now.Sub(gen.created) < scaled(g.cfg.TEKLifetime) {
			live = append(live, gen)
		}
	}
	g.gens = live
}

// newKEK makes a KEK with a fresh SPI, key and IV, asking GMs to
// acknowledge every rekey as rekey.ack says (RFC 8263).
func (g *group) newKEK(identity netip.Addr) *gdoi.KEK {
	ip := g.interop
	k := &gdoi.KEK{
		Algorithm: ip.KEKAlgorithm, KeyBits: ip.KEKKeyBits,
		Key: random(ip.KEKKeyBits / 8), IV: random(gdoi.KEKBlockSize(ip.KEKAlgorithm)),
		Lifetime: g.cfg.KEKLifetime,
		SigHash:  ip.SigHash, SigAlg: gdoiwire.SigAlgRSA, SigKeyBits: g.signer.N.BitLen(),
		PublicKey: g.pubDER, Src: identity,
		Ack: g.ackType(),
	}
	copy(k.SPI[:], random(16))
	return k
}

func (g *group) unicast() bool { return g.cfg.Rekey.Transport != "multicast" }

// ackType is the KEK_ACK_REQUESTED value of rekey.ack, 0 for none and
// under an interop profile whose GMs refuse the attribute (gdoid).
func (g *group) ackType() gdoiwire.AckType {
	if g.interop.NoAckRequest {
		return 0
	}
	switch g.cfg.Rekey.Ack {
	case config.AckSHA256:
		return gdoiwire.AckKEKSHA256
	case config.AckSHA512:
		return gdoiwire.AckKEKSHA512
	}
	return 0
}

// acks reports whether the group's GMs acknowledge rekeys.
func (g *group) acks() bool { return g.ackType() != 0 }

// rekeyDst is where the group's rekeys go: the multicast address, or
// (unicast) the GM at gm on its GDOI port.
func (g *group) rekeyDst(gm netip.Addr) netip.AddrPort {
	if !g.unicast() {
		return netip.AddrPortFrom(g.cfg.Rekey.Address, g.cfg.Rekey.Port)
	}
	port := g.cfg.Rekey.Port // set only by tests: config refuses it for unicast
	if port == 0 {
		port = 848
	}
	return netip.AddrPortFrom(gm, port)
}

// addTEKs starts a new TEK generation at now.
func (g *group) addTEKs(now time.Time) error {
	teks, err := g.newTEKs()
	if err != nil {
		return err
	}
	g.gens = append(g.gens, tekGen{teks: teks, created: now})
	if extra := len(g.gens) - maxTEKGenerations; extra > 0 {
		g.gens = slices.Delete(g.gens, 0, extra)
	}
	g.deny = g.configuredDeny()
	return nil
}

// maxTEKGenerations bounds the generations a group keeps, oldest dropped
// first. Scheduled rekeys keep two alive (the new and, until it expires,
// the previous one); rekeys triggered faster than TEKs expire would make
// every PUSH and PULL larger until no datagram can hold one (64 KB: an
// operator's rekey loop, or a benchmark's) and every GM stops hearing
// from its KS. A GM still holding a dropped generation keeps it until it
// expires; it is no longer sent.
const maxTEKGenerations = 4

// newest is the latest TEK generation.
func (g *group) newest() *tekGen { return &g.gens[len(g.gens)-1] }

// newTEKs makes one TEK per permit entry of the ACL (S0 §1.2.1: "each
// permit entry results in a pair of SAs"; KS-12), each with the entry's
// transform (config.Group.TransformOf: its own, else the group's first).
// GDOI negotiates no TEK transform: the KS dictates it, as gdoid's KS
// configures a TEK_Suite per TEK.
func (g *group) newTEKs() ([]gdoi.TEK, error) {
	var teks []gdoi.TEK
	for _, ace := range g.cfg.ACL {
		if !ace.Permit {
			continue
		}
		tr := g.cfg.TransformOf(ace)
		if err := tr.Validate(); err != nil {
			return nil, fmt.Errorf("permit entry %q: %w", ace, err)
		}
		t := gdoi.TEK{
			SPI: spi(), Transform: tr, Selector: selectorOf(ace),
			Lifetime: g.cfg.TEKLifetime, EncKey: random(tr.EncKeyLen()),
			AddrPreserve: gdoiwire.AddrPreserveSrcDst, Direction: g.direction(),
		}
		if n := tr.AuthKeyLen(); n > 0 {
			t.AuthKey = random(n)
		}
		teks = append(teks, t)
	}
	return teks, nil
}

// direction is the SA_DIRECTION of the TEKs the group makes now:
// receiver-only under "sa receive-only" (GM-62), else symmetric.
func (g *group) direction() gdoiwire.SADir {
	if g.cfg.ReceiveOnly {
		return gdoiwire.SADirReceiverOnly
	}
	return gdoiwire.SADirSymmetric
}

// configuredDeny are the deny entries of the configured ACL that GMs
// download (none without deny_download).
func (g *group) configuredDeny() []gdoi.Selector {
	if !g.cfg.DenyDownload {
		return []gdoi.Selector{}
	}
	out := []gdoi.Selector{}
	for _, ace := range g.cfg.ACL {
		if !ace.Permit {
			out = append(out, selectorOf(ace))
		}
	}
	return out
}

// policy returns the policy one GM gets at registration: the current keys
// with their remaining lifetimes, the rekey destination for that GM, the
// sequence number and, for counter-mode TEKs, a Sender-ID of its own.
func (g *group) policy(elapsed func(time.Time) time.Duration, gm netip.Addr) *gdoi.Policy {
	dst := g.rekeyDst(gm)
	p := g.groupPolicy(elapsed, dst)
	counterMode := false
	for _, t := range p.TEKs {
		counterMode = counterMode || t.Transform.Combined()
	}
	if counterMode {
		// RFC 6054 §3: every sender of a counter-mode group SA needs a
		// Sender-ID of its own so that IVs never repeat across GMs. The
		// 16-bit space wraps after 65535 registrations: a GM that
		// re-registers gets a new one, so live GMs rarely collide.
		g.nextSID = g.nextSID%0xffff + 1
		p.SIDs, p.SIDBits = []uint32{g.nextSID}, 16
	}
	return p
}

// groupPolicy is what every GM gets: the KEK (rekeys to dst) and every live
// TEK with its remaining lifetime, the deny entries and the sequence
// number.
func (g *group) groupPolicy(elapsed func(time.Time) time.Duration, dst netip.AddrPort) *gdoi.Policy {
	kek := *g.kek
	kek.Lifetime = remaining(g.cfg.KEKLifetime, elapsed(g.kekCreated))
	if g.interop.KEKLifetimeFull {
		kek.Lifetime = g.cfg.KEKLifetime // gdoid: the full period (fact 13)
	}
	kek.Dst = dst
	p := &gdoi.Policy{GroupID: g.cfg.ID, KEK: &kek, Seq: g.seq, Deny: g.deny}
	if g.deny == nil {
		p.Deny = g.configuredDeny()
	}
	for _, gen := range g.gens {
		for _, t := range gen.teks {
			t.Lifetime = remaining(g.cfg.TEKLifetime, elapsed(gen.created))
			p.TEKs = append(p.TEKs, t)
		}
	}
	return p
}

func remaining(life, elapsed time.Duration) time.Duration {
	if r := life - elapsed; r > time.Second {
		return r
	}
	return time.Second
}

// selectorOf is the selector a SAT carries for an ACL entry.
func selectorOf(ace config.ACE) gdoi.Selector {
	return gdoi.Selector{
		Protocol: ace.Protocol, Src: anyPrefix(ace.Source), Dst: anyPrefix(ace.Destination),
		SrcPort: onePort(ace.SourcePort), DstPort: onePort(ace.DestinationPort),
	}
}

func anyPrefix(p netip.Prefix) netip.Prefix {
	if p.IsValid() {
		return p
	}
	return netip.PrefixFrom(netip.IPv4Unspecified(), 0)
}

// onePort is the port a SAT selector can carry: a single port, or 0 (any)
// for a range — GDOI selectors have no ranges.
func onePort(r config.PortRange) uint16 {
	if r.Lo == r.Hi {
		return r.Lo
	}
	return 0
}

func random(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// spi returns a random TEK SPI above the reserved range 0-255 (RFC 4303
// §2.1).
func spi() uint32 {
	for {
		v := binary.BigEndian.Uint32(random(4))
		if v > 255 {
			return v
		}
	}
}
