package ikev1

import (
	"fmt"
	"math"
	"time"

	"github.com/getlab/getlab/gateway/wire/isakmp"
)

// Phase-1 proposals: how a Suite becomes a transform of the message-1 SA
// payload and back (RFC 2409 appendix A attribute classes).

// DefaultLifetime is the lifetime of a suite whose Lifetime is zero: one
// day, Cisco's ISAKMP policy default.
const DefaultLifetime = 24 * time.Hour

// maxLifeSeconds bounds lifetimes read from the wire so that they fit a
// time.Duration (about 292 years).
const maxLifeSeconds = uint64(math.MaxInt64 / int64(time.Second))

// lifetime is the suite's lifetime with the default applied.
func (s Suite) lifetime() time.Duration {
	if s.Lifetime <= 0 {
		return DefaultLifetime
	}
	return s.Lifetime
}

// lifetimeSeconds is the Life Duration attribute value: whole seconds,
// rounded up so that a sub-second lifetime is not sent as "0".
func (s Suite) lifetimeSeconds() uint64 {
	l := s.lifetime()
	n := uint64(l / time.Second)
	if l%time.Second != 0 && n < maxLifeSeconds {
		n++
	}
	return n
}

// check reports a suite this package cannot negotiate.
func (s Suite) check(allowWeakDH bool) error {
	switch {
	case s.Enc == isakmp.EncAESCBC && (s.KeyBits == 128 || s.KeyBits == 192 || s.KeyBits == 256):
	case s.Enc == isakmp.Enc3DESCBC && s.KeyBits == 192:
	default:
		return fmt.Errorf("unsupported encryption %d with %d-bit key", s.Enc, s.KeyBits)
	}
	if _, err := s.NewHash(); err != nil {
		return err
	}
	g, err := LookupGroup(s.Group)
	if err != nil {
		return err
	}
	if g.Weak && !allowWeakDH {
		return fmt.Errorf("group %d (%s) is weak and AllowWeakDH is off", g.ID, g.Name)
	}
	return nil
}

// sameAlgorithms reports whether two suites agree on everything but the
// lifetime.
func (s Suite) sameAlgorithms(o Suite) bool {
	return s.Enc == o.Enc && s.KeyBits == o.KeyBits && s.Hash == o.Hash && s.Group == o.Group && s.Auth == o.Auth
}

// transform encodes the suite as transform number num: encryption, key
// length (AES only), hash, authentication method, group, life type
// seconds and life duration, the order Cisco and isakmpd send them in.
func (s Suite) transform(num uint8) isakmp.Transform {
	attrs := isakmp.Attributes{isakmp.BasicAttr(isakmp.AttrEncryptionAlgorithm, s.Enc)}
	if s.Enc == isakmp.EncAESCBC {
		attrs = append(attrs, isakmp.BasicAttr(isakmp.AttrKeyLength, uint16(s.KeyBits)))
	}
	attrs = append(attrs,
		isakmp.BasicAttr(isakmp.AttrHashAlgorithm, s.Hash),
		isakmp.BasicAttr(isakmp.AttrAuthMethod, s.Auth),
		isakmp.BasicAttr(isakmp.AttrGroupDescription, uint16(s.Group)),
		isakmp.BasicAttr(isakmp.AttrLifeType, isakmp.LifeSeconds),
		isakmp.UintAttr(isakmp.AttrLifeDuration, s.lifetimeSeconds()),
	)
	return isakmp.Transform{Number: num, ID: isakmp.TransformKeyIKE, Attributes: attrs}
}

// transformSuite decodes a phase-1 transform. hasLife reports whether it
// carried a lifetime in seconds (Lifetime is zero otherwise). A transform
// with an attribute this package does not implement (a PRF, a custom
// group, an unknown class) is an error: RFC 2408 §4.2 has a responder
// reject what it does not understand rather than ignore it. A lifetime in
// kilobytes is accepted and not enforced.
func transformSuite(t *isakmp.Transform) (s Suite, hasLife bool, err error) {
	if t.ID != isakmp.TransformKeyIKE {
		return Suite{}, false, fmt.Errorf("transform ID %d, want KEY_IKE", t.ID)
	}
	seen := map[uint16]bool{}
	lifeType := uint16(0)
	for _, a := range t.Attributes {
		v, ok := a.Uint()
		if !ok {
			return Suite{}, false, fmt.Errorf("attribute %s is not an integer", isakmp.IKEAttrName(a.Type))
		}
		if a.Type != isakmp.AttrLifeType && a.Type != isakmp.AttrLifeDuration {
			if seen[a.Type] {
				return Suite{}, false, fmt.Errorf("attribute %s repeated", isakmp.IKEAttrName(a.Type))
			}
			seen[a.Type] = true
		}
		small := func() (uint16, error) {
			if v > math.MaxUint16 {
				return 0, fmt.Errorf("attribute %s value %d out of range", isakmp.IKEAttrName(a.Type), v)
			}
			return uint16(v), nil
		}
		switch a.Type {
		case isakmp.AttrEncryptionAlgorithm:
			if s.Enc, err = small(); err != nil {
				return Suite{}, false, err
			}
		case isakmp.AttrKeyLength:
			if v > 1024 {
				return Suite{}, false, fmt.Errorf("key length %d", v)
			}
			s.KeyBits = int(v)
		case isakmp.AttrHashAlgorithm:
			if s.Hash, err = small(); err != nil {
				return Suite{}, false, err
			}
		case isakmp.AttrAuthMethod:
			if s.Auth, err = small(); err != nil {
				return Suite{}, false, err
			}
		case isakmp.AttrGroupDescription:
			if v > math.MaxUint16 {
				return Suite{}, false, fmt.Errorf("group %d", v)
			}
			s.Group = int(v)
		case isakmp.AttrLifeType:
			if v != uint64(isakmp.LifeSeconds) && v != uint64(isakmp.LifeKilobytes) {
				return Suite{}, false, fmt.Errorf("life type %d", v)
			}
			lifeType = uint16(v)
		case isakmp.AttrLifeDuration:
			switch lifeType {
			case isakmp.LifeSeconds:
				if v == 0 {
					return Suite{}, false, fmt.Errorf("life duration 0 seconds")
				}
				s.Lifetime = time.Duration(min(v, maxLifeSeconds)) * time.Second
				hasLife = true
			case isakmp.LifeKilobytes:
			default:
				return Suite{}, false, fmt.Errorf("life duration without a life type")
			}
			lifeType = 0
		default:
			return Suite{}, false, fmt.Errorf("attribute %s not supported", isakmp.IKEAttrName(a.Type))
		}
	}
	switch {
	case !seen[isakmp.AttrEncryptionAlgorithm]:
		return Suite{}, false, fmt.Errorf("no encryption algorithm")
	case !seen[isakmp.AttrHashAlgorithm]:
		return Suite{}, false, fmt.Errorf("no hash algorithm")
	case !seen[isakmp.AttrAuthMethod]:
		return Suite{}, false, fmt.Errorf("no authentication method")
	case !seen[isakmp.AttrGroupDescription]:
		return Suite{}, false, fmt.Errorf("no group description")
	}
	// 3DES has a fixed key; RFC 2409 appendix A lets the key length be
	// left out for it, while AES needs it (RFC 3602 §5).
	if s.Enc == isakmp.Enc3DESCBC && s.KeyBits == 0 {
		s.KeyBits = 192
	}
	return s, hasLife, nil
}

// choose is the responder's choice (RFC 2409 §5: exactly one transform is
// returned): the first of the initiator's transforms, in its order, whose
// algorithms equal those of one of the local suites that the
// authenticator and the DH policy allow. The lifetime is the initiator's
// when it is at most the local suite's, else the local suite's own, which
// the reply then carries (the simple form of RFC 2407 §4.5.4's rule; no
// RESPONDER-LIFETIME notify). A transform without a lifetime gets the local
// one.
func choose(cfg *Config, p *isakmp.Proposal) (isakmp.Transform, Suite, error) {
	var reasons []string
	for i := range p.Transforms {
		t := &p.Transforms[i]
		s, hasLife, err := transformSuite(t)
		if err != nil {
			reasons = append(reasons, fmt.Sprintf("transform %d: %v", t.Number, err))
			continue
		}
		var match *Suite
		for j := range cfg.Suites {
			l := cfg.Suites[j]
			if l.Auth == cfg.Auth.Method() && l.check(cfg.AllowWeakDH) == nil && l.sameAlgorithms(s) {
				match = &l
				break
			}
		}
		if match == nil {
			why := "no local suite matches"
			if g, err := LookupGroup(s.Group); err == nil && g.Weak && !cfg.AllowWeakDH {
				why = fmt.Sprintf("group %d is weak and AllowWeakDH is off", s.Group)
			}
			reasons = append(reasons, fmt.Sprintf("transform %d (%s, auth %d): %s", t.Number, s, s.Auth, why))
			continue
		}
		if !hasLife || s.Lifetime > match.lifetime() {
			s.Lifetime = match.lifetime()
		}
		// Both ends keep the lifetime as the wire carries it.
		s.Lifetime = time.Duration(s.lifetimeSeconds()) * time.Second
		return s.transform(t.Number), s, nil
	}
	if len(reasons) == 0 {
		return isakmp.Transform{}, Suite{}, fmt.Errorf("no transforms")
	}
	return isakmp.Transform{}, Suite{}, fmt.Errorf("no acceptable transform: %s", joinReasons(reasons))
}

func joinReasons(rs []string) string {
	const limit = 4 // keep log lines readable with long proposals
	out := ""
	for i, r := range rs {
		if i == limit {
			return out + fmt.Sprintf("; and %d more", len(rs)-limit)
		}
		if i > 0 {
			out += "; "
		}
		out += r
	}
	return out
}
