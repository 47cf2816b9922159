package coop

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"time"

	"github.com/getlab/getlab/gateway/wire/gdoi"
	"github.com/getlab/getlab/gateway/wire/isakmp"
)

// Decoder is the isakmp.Decoder of announcements: in exchange 240 it
// decodes ANN and MEMBERS, and SA and KD in their GDOI form (as in
// GROUPKEY-PULL message 4); everything else goes to
// isakmp.DefaultDecoder.
var Decoder isakmp.Decoder = isakmp.DecoderFunc(func(ctx isakmp.DecodeContext, t isakmp.PayloadType, b []byte) (isakmp.Payload, error) {
	if ctx.Exchange == Exchange {
		switch t {
		case PayloadANN:
			a, _, err := ParseANN(b)
			return a, err
		case PayloadMembers:
			m, _, err := ParseMembers(b)
			return m, err
		case isakmp.PayloadSA, isakmp.PayloadKD:
			ctx.Exchange = isakmp.ExchangeGroupkeyPull
			return gdoi.Decoder{}.DecodePayload(ctx, t, b)
		}
	}
	return isakmp.DefaultDecoder.DecodePayload(ctx, t, b)
})

// The numbers: a private-use exchange type and payload types (RFC 2408
// §3.1), named in package isakmp so that every display shows them.
const (
	Exchange       = isakmp.ExchangeCOOPAnnounce
	PayloadANN     = isakmp.PayloadCOOPANN
	PayloadMembers = isakmp.PayloadCOOPMembers
)

// Flags are the ANN's flags.
type Flags uint8

// ANN flags.
const (
	FlagReplyRequest Flags = 0x01
	FlagReply        Flags = 0x02
	FlagPrimary      Flags = 0x04
	FlagPolicy       Flags = 0x08
	FlagElecting     Flags = 0x10
)

// Has reports whether every flag of g is set in f.
func (f Flags) Has(g Flags) bool { return f&g == g }

// Version is a COOP protocol version.
type Version struct{ Major, Minor, Patch uint8 }

// Current is the version a coop.Node announces when its configuration
// names none (the daemon's is its GDOI version, config gdoi_version).
var Current = Version{1, 0, 0}

func (v Version) String() string { return fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Patch) }

// Compatible reports whether KSs of versions v and w may cooperate: the
// same major and minor version (CO-60).
func (v Version) Compatible(w Version) bool { return v.Major == w.Major && v.Minor == w.Minor }

// Generation is one generation of TEKs in an ANN: how many of the SA's
// TEKs, in order, belong to it, and its age.
type Generation struct {
	TEKs int
	Age  time.Duration
}

// ANN is the announcement payload.
type ANN struct {
	Version     Version
	Flags       Flags
	Priority    uint8
	Group       uint32
	Seq         uint32
	Antireplay  uint64
	Pseudotime  time.Duration
	KEKAge      time.Duration
	SigningKey  [32]byte
	Policy      [32]byte
	Generations []Generation
}

const (
	annFixed = 108
	genLen   = 12
	// MaxGenerations bounds the TEK generations an ANN may list: a KS
	// keeps two or three (the current one and those not yet expired).
	MaxGenerations = 16
)

// Type returns PayloadANN.
func (*ANN) Type() isakmp.PayloadType { return PayloadANN }

// Append appends the body.
func (a *ANN) Append(b []byte) []byte {
	b = append(b, a.Version.Major, a.Version.Minor, a.Version.Patch, byte(a.Flags), a.Priority, 0, 0, 0)
	b = binary.BigEndian.AppendUint32(b, a.Group)
	b = binary.BigEndian.AppendUint32(b, a.Seq)
	b = binary.BigEndian.AppendUint64(b, a.Antireplay)
	b = binary.BigEndian.AppendUint64(b, millis(a.Pseudotime))
	b = binary.BigEndian.AppendUint64(b, millis(a.KEKAge))
	b = append(b, a.SigningKey[:]...)
	b = append(b, a.Policy[:]...)
	b = binary.BigEndian.AppendUint16(b, uint16(len(a.Generations)))
	b = append(b, 0, 0)
	for _, g := range a.Generations {
		b = binary.BigEndian.AppendUint16(b, uint16(g.TEKs))
		b = append(b, 0, 0)
		b = binary.BigEndian.AppendUint64(b, millis(g.Age))
	}
	return b
}

// Check reports what the wire form cannot carry.
func (a *ANN) Check() error {
	if len(a.Generations) > MaxGenerations {
		return fmt.Errorf("coop: %d TEK generations, at most %d", len(a.Generations), MaxGenerations)
	}
	for _, g := range a.Generations {
		if g.TEKs < 0 || g.TEKs > 0xffff {
			return fmt.Errorf("coop: a generation of %d TEKs", g.TEKs)
		}
	}
	return nil
}

// ParseANN parses an ANN payload body.
func ParseANN(b []byte) (*ANN, int, error) {
	if len(b) < annFixed {
		return nil, 0, isakmp.Errorf(isakmp.ErrLength, "ANN body is %d octets, want at least %d", len(b), annFixed)
	}
	a := &ANN{
		Version:  Version{b[0], b[1], b[2]},
		Flags:    Flags(b[3]),
		Priority: b[4],
		Group:    binary.BigEndian.Uint32(b[8:]),
		Seq:      binary.BigEndian.Uint32(b[12:]),
	}
	a.Antireplay = binary.BigEndian.Uint64(b[16:])
	a.Pseudotime = fromMillis(binary.BigEndian.Uint64(b[24:]))
	a.KEKAge = fromMillis(binary.BigEndian.Uint64(b[32:]))
	copy(a.SigningKey[:], b[40:72])
	copy(a.Policy[:], b[72:104])
	n := int(binary.BigEndian.Uint16(b[104:]))
	if n > MaxGenerations {
		return nil, 0, isakmp.Errorf(isakmp.ErrUnsupported, "ANN lists %d TEK generations, at most %d", n, MaxGenerations)
	}
	if want := annFixed + n*genLen; len(b) != want {
		return nil, 0, isakmp.Errorf(isakmp.ErrLength, "ANN body is %d octets, %d generations need %d", len(b), n, want)
	}
	for i := range n {
		g := b[annFixed+i*genLen:]
		a.Generations = append(a.Generations, Generation{TEKs: int(binary.BigEndian.Uint16(g)), Age: fromMillis(binary.BigEndian.Uint64(g[4:]))})
	}
	return a, len(b), nil
}

// Member is one group member in a MEMBERS payload.
type Member struct {
	Address       netip.Addr // IPv4
	Local         bool       // the sender registered it
	Registrations uint16
	// Since is the time since it last registered, whole seconds.
	Since time.Duration
}

// MemberLen is the octets one member takes.
const MemberLen = 12

// Members is the MEMBERS payload.
type Members struct{ List []Member }

// Type returns PayloadMembers.
func (*Members) Type() isakmp.PayloadType { return PayloadMembers }

// Append appends the body; a member without an IPv4 address is written
// as 0.0.0.0 (Check refuses it).
func (m *Members) Append(b []byte) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(m.List)))
	for _, e := range m.List {
		var f byte
		if e.Local {
			f |= 0x01
		}
		b = append(b, f, 0)
		b = binary.BigEndian.AppendUint16(b, e.Registrations)
		b = binary.BigEndian.AppendUint32(b, uint32(min(e.Since/time.Second, 1<<32-1)))
		a := e.Address.Unmap()
		if !a.Is4() {
			a = netip.IPv4Unspecified()
		}
		v := a.As4()
		b = append(b, v[:]...)
	}
	return b
}

// Check refuses members the payload cannot carry.
func (m *Members) Check() error {
	for _, e := range m.List {
		if !e.Address.Unmap().Is4() {
			return fmt.Errorf("coop: member %s is not an IPv4 address", e.Address)
		}
	}
	return nil
}

// ParseMembers parses a MEMBERS payload body.
func ParseMembers(b []byte) (*Members, int, error) {
	if len(b) < 4 {
		return nil, 0, isakmp.Errorf(isakmp.ErrLength, "MEMBERS body is %d octets, want at least 4", len(b))
	}
	n := binary.BigEndian.Uint32(b)
	if rest := uint64(len(b) - 4); rest != uint64(n)*MemberLen {
		return nil, 0, isakmp.Errorf(isakmp.ErrLength, "MEMBERS body has %d octets for %d members, want %d", rest, n, uint64(n)*MemberLen)
	}
	m := &Members{List: make([]Member, 0, n)}
	for i := range int(n) {
		e := b[4+i*MemberLen:]
		m.List = append(m.List, Member{
			Local:         e[0]&0x01 != 0,
			Registrations: binary.BigEndian.Uint16(e[2:]),
			Since:         time.Duration(binary.BigEndian.Uint32(e[4:])) * time.Second,
			Address:       netip.AddrFrom4([4]byte(e[8:12])),
		})
	}
	return m, len(b), nil
}

func millis(d time.Duration) uint64 {
	if d < 0 {
		return 0
	}
	return uint64(d / time.Millisecond)
}

func fromMillis(v uint64) time.Duration {
	const most = uint64(1<<63-1) / uint64(time.Millisecond)
	return time.Duration(min(v, most)) * time.Millisecond
}
