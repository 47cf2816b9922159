package ikev1

import (
	"crypto/ecdh"
	"errors"
	"fmt"
	"io"
	"math/big"
)

// The Diffie-Hellman groups of main mode. MODP groups are computed with
// math/big; ECP groups with crypto/ecdh (constant time).
//
// KE payload encodings (RFC 2409 §5, RFC 5903 §7): a MODP public value is
// g^x mod p big-endian, left-padded with zeros to the octets of p; an ECP
// public value is x | y, each coordinate padded to the coordinate size
// (no 0x04 point-format octet). The shared secret g^xy is, for MODP, padded
// the same way; for ECP, the x coordinate of the shared point (RFC 5903 §7).

// Group is a Diffie-Hellman group main mode can negotiate.
type Group struct {
	// ID is the IANA group number (Group Description attribute).
	ID int
	// Name is the group's name for logs ("modp2048", "ecp256").
	Name string
	// PublicLen is the length of a public value (KE payload body) in octets.
	PublicLen int
	// Weak marks the groups under 2048 bits (2, 5): accepted only with
	// Config.AllowWeakDH.
	Weak bool

	p     *big.Int   // MODP prime
	pm1   *big.Int   // p-1
	curve ecdh.Curve // ECP curve
	// privBits is the MODP private exponent length. A short exponent is
	// enough against discrete logs (RFC 3526 §8 asks for twice the group's
	// strength: 2×160 covers even the 2048-bit group's upper estimate) and
	// makes modular exponentiation several times faster than a full one;
	// OpenSSL does the same for these named groups.
	privBits int
}

// MODP primes: RFC 2409 §6.2 (group 2) and RFC 3526 §2, §3 (groups 5, 14),
// generator 2. Checked as safe primes in the tests.
const (
	modp1024 = "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7EDEE386BFB5A899FA5AE9F24117C4B1FE649286651ECE65381FFFFFFFFFFFFFFFF"
	modp1536 = "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7EDEE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF0598DA48361C55D39A69163FA8FD24CF5F83655D23DCA3AD961C62F356208552BB9ED529077096966D670C354E4ABC9804F1746C08CA237327FFFFFFFFFFFFFFFF"
	modp2048 = "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7EDEE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF0598DA48361C55D39A69163FA8FD24CF5F83655D23DCA3AD961C62F356208552BB9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3BE39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF6955817183995497CEA956AE515D2261898FA051015728E5A8AACAA68FFFFFFFFFFFFFFFF"
)

var groups = map[int]*Group{
	2:  modpGroup(2, "modp1024", modp1024, true),
	5:  modpGroup(5, "modp1536", modp1536, true),
	14: modpGroup(14, "modp2048", modp2048, false),
	19: {ID: 19, Name: "ecp256", PublicLen: 64, curve: ecdh.P256()},
	20: {ID: 20, Name: "ecp384", PublicLen: 96, curve: ecdh.P384()},
}

var bigTwo = big.NewInt(2)

func modpGroup(id int, name, hexPrime string, weak bool) *Group {
	p, ok := new(big.Int).SetString(hexPrime, 16)
	if !ok {
		panic("ikev1: bad MODP prime for group " + name) // a constant above, not input
	}
	return &Group{
		ID: id, Name: name, PublicLen: (p.BitLen() + 7) / 8, Weak: weak,
		p: p, pm1: new(big.Int).Sub(p, big.NewInt(1)), privBits: 320,
	}
}

// LookupGroup returns the Diffie-Hellman group with IANA number id, or an
// error for a group this package does not implement.
func LookupGroup(id int) (*Group, error) {
	if g, ok := groups[id]; ok {
		return g, nil
	}
	return nil, fmt.Errorf("ikev1: unsupported Diffie-Hellman group %d", id)
}

// ErrInvalidPublic is matched (errors.Is) by the error for a peer's public
// value that is not a valid group element.
var ErrInvalidPublic = errors.New("invalid Diffie-Hellman public value")

// DHKey is one side's ephemeral Diffie-Hellman key pair.
type DHKey struct {
	Group *Group
	// Public is the KE payload body.
	Public []byte

	x  *big.Int // MODP private exponent
	ec *ecdh.PrivateKey
}

// GenerateKey makes a fresh key pair with randomness from r. Private values
// are read from r directly (not through crypto/ecdh's GenerateKey, which
// ignores its reader since Go 1.26), so a deterministic r gives
// reproducible exchanges in tests and fuzzing.
func (g *Group) GenerateKey(r io.Reader) (*DHKey, error) {
	if g.curve != nil {
		buf := make([]byte, g.PublicLen/2)
		// Rejection sampling: NewPrivateKey refuses zero and values ≥ the
		// curve order, which for P-256/P-384 almost never happens.
		for range 64 {
			if _, err := io.ReadFull(r, buf); err != nil {
				return nil, fmt.Errorf("ikev1: %s key: %w", g.Name, err)
			}
			k, err := g.curve.NewPrivateKey(buf)
			if err != nil {
				continue
			}
			pub := k.PublicKey().Bytes() // 0x04 | x | y
			return &DHKey{Group: g, Public: pub[1:], ec: k}, nil
		}
		return nil, fmt.Errorf("ikev1: %s key: no valid scalar from the random source", g.Name)
	}
	buf := make([]byte, g.privBits/8)
	if _, err := io.ReadFull(r, buf); err != nil {
		return nil, fmt.Errorf("ikev1: %s key: %w", g.Name, err)
	}
	buf[0] |= 0x80 // full-length exponent, never 0 or 1
	x := new(big.Int).SetBytes(buf)
	y := new(big.Int).Exp(bigTwo, x, g.p)
	return &DHKey{Group: g, Public: y.FillBytes(make([]byte, g.PublicLen)), x: x}, nil
}

// CheckPublic reports whether peer is a valid public value of the group: the
// right length, and for MODP 1 < y < p-1 (the groups' primes are safe, so
// this leaves no small subgroup to confine the secret to), for ECP a point
// on the curve other than infinity.
func (g *Group) CheckPublic(peer []byte) error {
	if len(peer) != g.PublicLen {
		return fmt.Errorf("%w: %s public value of %d octets, want %d", ErrInvalidPublic, g.Name, len(peer), g.PublicLen)
	}
	if g.curve != nil {
		if _, err := g.curve.NewPublicKey(append([]byte{4}, peer...)); err != nil {
			return fmt.Errorf("%w: %s point not on the curve", ErrInvalidPublic, g.Name)
		}
		return nil
	}
	y := new(big.Int).SetBytes(peer)
	if y.Cmp(bigTwo) < 0 || y.Cmp(g.pm1) >= 0 {
		return fmt.Errorf("%w: %s value outside 2..p-2", ErrInvalidPublic, g.Name)
	}
	return nil
}

// SharedSecret computes g^xy from the peer's public value, after checking
// it with CheckPublic.
func (k *DHKey) SharedSecret(peer []byte) ([]byte, error) {
	g := k.Group
	if g.curve != nil {
		// NewPublicKey checks the point, once: CheckPublic would decode
		// it a second time.
		if len(peer) != g.PublicLen {
			return nil, fmt.Errorf("%w: %s public value of %d octets, want %d", ErrInvalidPublic, g.Name, len(peer), g.PublicLen)
		}
		pub, err := g.curve.NewPublicKey(append([]byte{4}, peer...))
		if err != nil {
			return nil, fmt.Errorf("%w: %s point not on the curve", ErrInvalidPublic, g.Name)
		}
		z, err := k.ec.ECDH(pub)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrInvalidPublic, g.Name, err)
		}
		return z, nil
	}
	if err := g.CheckPublic(peer); err != nil {
		return nil, err
	}
	z := new(big.Int).Exp(new(big.Int).SetBytes(peer), k.x, g.p)
	return z.FillBytes(make([]byte, g.PublicLen)), nil
}
