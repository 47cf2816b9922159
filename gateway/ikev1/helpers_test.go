package ikev1

import (
	"encoding/hex"
	"errors"
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/getlab/getlab/gateway/wire/isakmp"
)

var (
	gmAddr = netip.MustParseAddrPort("192.0.2.10:848")
	ksAddr = netip.MustParseAddrPort("192.0.2.1:848")
	psk    = []byte("getlab-test-psk")
	epoch  = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
)

// hx decodes hex, ignoring white space.
func hx(s string) []byte {
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		panic(err)
	}
	return b
}

// seeded is a deterministic random source, so that exchanges (and fuzz
// runs) are reproducible.
func seeded(seed uint64) *rand.ChaCha8 {
	var s [32]byte
	for i := range 8 {
		s[i] = byte(seed >> (8 * i))
	}
	return rand.NewChaCha8(s)
}

func mustSuite(t testing.TB, enc, hash string, group int) Suite {
	t.Helper()
	s, err := ParseSuite(enc, hash, group, 8*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// config returns a configuration with one suite, a static PSK and a fixed
// clock; seed 0 uses crypto/rand.
func config(t testing.TB, seed uint64, key []byte, suites ...Suite) *Config {
	cfg := &Config{
		Suites: suites,
		Auth:   StaticPSK(key),
		Now:    func() time.Time { return epoch },
	}
	if seed != 0 {
		cfg.Rand = seeded(seed)
	}
	return cfg
}

// transcript holds the six messages of a main mode.
type transcript [7][]byte // index = message number

// runMainMode drives an initiator and a responder to completion (or to the
// first error) and returns the messages exchanged.
func runMainMode(t testing.TB, ic, rc *Config) (*Initiator, *Responder, transcript, error) {
	t.Helper()
	var tr transcript
	i, err := NewInitiator(ic, gmAddr, ksAddr)
	if err != nil {
		return nil, nil, tr, err
	}
	r := NewResponder(rc, ksAddr, gmAddr)
	if tr[1], err = i.Start(); err != nil {
		return i, r, tr, err
	}
	for n := 1; n <= 5; n += 2 {
		if tr[n+1], err = r.Handle(tr[n]); err != nil {
			return i, r, tr, err
		}
		if n == 5 {
			break
		}
		if tr[n+2], err = i.Handle(tr[n+1]); err != nil {
			return i, r, tr, err
		}
	}
	reply, err := i.Handle(tr[6])
	if err != nil {
		return i, r, tr, err
	}
	if reply != nil {
		t.Fatalf("initiator replied %x to message 6", reply)
	}
	return i, r, tr, nil
}

func notifyType(err error) (isakmp.NotifyType, bool) {
	var ne *NotifyError
	if errors.As(err, &ne) {
		return ne.Type, true
	}
	return 0, false
}
