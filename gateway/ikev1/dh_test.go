package ikev1

import (
	"bytes"
	"crypto/ecdh"
	"errors"
	"io"
	"math/big"
	"testing"
)

// generate is a key pair of group g from r; a failure fails the test.
func generate(t *testing.T, g *Group, r io.Reader) *DHKey {
	t.Helper()
	k, err := g.GenerateKey(r)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// The MODP primes are typed in by hand: check they are the safe primes of
// the RFCs' sizes (a typo would almost surely break primality).
func TestMODPPrimesAreSafe(t *testing.T) {
	for _, id := range []int{2, 5, 14} {
		g, _ := LookupGroup(id)
		q := new(big.Int).Rsh(g.p, 1)
		if !g.p.ProbablyPrime(20) || !q.ProbablyPrime(20) {
			t.Errorf("group %d: p or (p-1)/2 is not prime", id)
		}
		if want := map[int]int{2: 1024, 5: 1536, 14: 2048}[id]; g.p.BitLen() != want || g.PublicLen != want/8 {
			t.Errorf("group %d: %d bits, public %d octets", id, g.p.BitLen(), g.PublicLen)
		}
		// RFC 2409/3526: the top and bottom 64 bits are all ones.
		lo := new(big.Int).And(g.p, new(big.Int).SetUint64(^uint64(0)))
		if lo.Uint64() != ^uint64(0) || g.p.Bytes()[7] != 0xff || g.p.Bytes()[8] != 0xc9 {
			t.Errorf("group %d: not an RFC 3526 style prime", id)
		}
	}
}

func TestDHAgreement(t *testing.T) {
	r := seeded(1)
	for _, id := range []int{2, 5, 14, 19, 20} {
		g, err := LookupGroup(id)
		if err != nil {
			t.Fatal(err)
		}
		a, b := generate(t, g, r), generate(t, g, r)
		if len(a.Public) != g.PublicLen {
			t.Errorf("%s: public %d octets", g.Name, len(a.Public))
		}
		za, err := a.SharedSecret(b.Public)
		if err != nil {
			t.Fatal(err)
		}
		zb, err := b.SharedSecret(a.Public)
		if err != nil {
			t.Fatal(err)
		}
		want := g.PublicLen
		if g.curve != nil {
			want = g.PublicLen / 2 // the x coordinate
		}
		if !bytes.Equal(za, zb) || len(za) != want {
			t.Errorf("%s: secrets differ or have the wrong length (%d, want %d)", g.Name, len(za), want)
		}
	}
	if _, err := LookupGroup(1); err == nil {
		t.Error("group 1 accepted")
	}
}

// A MODP value with leading zero octets is padded to the group size, both
// as public value and as shared secret.
func TestMODPPadding(t *testing.T) {
	g, _ := LookupGroup(14)
	k, err := g.GenerateKey(seeded(2))
	if err != nil {
		t.Fatal(err)
	}
	small := make([]byte, g.PublicLen)
	small[len(small)-1] = 3 // y = 3: valid, and g^xy mod p is short only by chance
	z, err := k.SharedSecret(small)
	if err != nil {
		t.Fatal(err)
	}
	want := new(big.Int).Exp(big.NewInt(3), k.x, g.p).FillBytes(make([]byte, g.PublicLen))
	if !bytes.Equal(z, want) {
		t.Error("shared secret is not 3^x mod p padded")
	}
}

func TestDHRejectsInvalidPublic(t *testing.T) {
	for _, id := range []int{2, 5, 14} {
		g, _ := LookupGroup(id)
		k, _ := g.GenerateKey(seeded(3))
		pm1 := new(big.Int).Sub(g.p, big.NewInt(1))
		bad := map[string][]byte{
			"zero":   make([]byte, g.PublicLen),
			"one":    big.NewInt(1).FillBytes(make([]byte, g.PublicLen)),
			"p-1":    pm1.FillBytes(make([]byte, g.PublicLen)),
			"p":      g.p.FillBytes(make([]byte, g.PublicLen)),
			"ones":   bytes.Repeat([]byte{0xff}, g.PublicLen),
			"short":  k.Public[1:],
			"long":   append([]byte{0}, k.Public...),
			"empty":  nil,
			"65 ECP": make([]byte, 65),
		}
		for name, v := range bad {
			if _, err := k.SharedSecret(v); !errors.Is(err, ErrInvalidPublic) {
				t.Errorf("group %d: %s: err %v", id, name, err)
			}
		}
	}
	for _, id := range []int{19, 20} {
		g, _ := LookupGroup(id)
		k, _ := g.GenerateKey(seeded(4))
		offCurve := bytes.Clone(k.Public)
		offCurve[len(offCurve)-1] ^= 1
		bad := map[string][]byte{
			"zero (infinity)": make([]byte, g.PublicLen),
			"off curve":       offCurve,
			"with 04 prefix":  append([]byte{4}, k.Public...),
			"x only":          k.Public[:g.PublicLen/2],
			"empty":           nil,
		}
		for name, v := range bad {
			if _, err := k.SharedSecret(v); !errors.Is(err, ErrInvalidPublic) {
				t.Errorf("group %d: %s: err %v", id, name, err)
			}
		}
	}
}

// RFC 5903 §8.1 (256-bit random ECP group): the KE payload is x|y without
// the point-format octet, and g^ir is the x coordinate.
func TestECP256RFC5903Vector(t *testing.T) {
	i := hx("C88F01F5 10D9AC3F 70A292DA A2316DE5 44E9AAB8 AFE84049 C62A9C57 862D1433")
	gi := hx(`DAD0B653 94221CF9 B051E1FE CA5787D0 98DFE637 FC90B9EF 945D0C37 72581180
		5271A046 1CDB8252 D61F1C45 6FA3E59A B1F45B33 ACCF5F58 389E0577 B8990BB3`)
	r := hx("C6EF9C5D 78AE012A 011164AC B397CE20 88685D8F 06BF9BE0 B283AB46 476BEE53")
	gr := hx(`D12DFB52 89C8D4F8 1208B702 70398C34 2296970A 0BCCB74C 736FC755 4494BF63
		56FBF3CA 366CC23E 8157854C 13C58D6A AC23F046 ADA30F83 53E74F33 039872AB`)
	gir := hx("D6840F6B 42F6EDAF D13116E0 E1256520 2FEF8E9E CE7DCE03 812464D0 4B9442DE")

	g, _ := LookupGroup(19)
	ki, err := g.GenerateKey(bytes.NewReader(i))
	if err != nil {
		t.Fatal(err)
	}
	kr, err := g.GenerateKey(bytes.NewReader(r))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ki.Public, gi) || !bytes.Equal(kr.Public, gr) {
		t.Fatalf("public values differ from RFC 5903:\n%x\n%x", ki.Public, kr.Public)
	}
	for _, z := range [][]byte{must(ki.SharedSecret(gr)), must(kr.SharedSecret(gi))} {
		if !bytes.Equal(z, gir) {
			t.Errorf("g^ir = %x, want %x", z, gir)
		}
	}
	// The same through crypto/ecdh's own encoding, as a cross-check of the
	// x|y framing.
	p, _ := ecdh.P256().NewPrivateKey(i)
	if !bytes.Equal(p.PublicKey().Bytes()[1:], gi) {
		t.Error("crypto/ecdh disagrees with the vector")
	}
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}
