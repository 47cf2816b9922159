package ikev1

import (
	"bytes"
	"testing"

	"github.com/getlab/getlab/gateway/wire/isakmp"
)

// The fuzz targets replay a fixed, deterministic exchange (seeded random
// sources) up to a state chosen by the input's first octet and then feed
// the rest of the input as the next datagram. Whatever comes in: no
// panic, and a reply sent with an error is a plaintext notification.

const fuzzSeedI, fuzzSeedR = 300, 301

func fuzzRef(f *testing.F) transcript {
	s := fuzzSuite()
	_, _, tr, err := runMainMode(f, config(f, fuzzSeedI, psk, s), config(f, fuzzSeedR, psk, s))
	if err != nil {
		f.Fatal(err)
	}
	return tr
}

func fuzzSuite() Suite {
	return Suite{Enc: isakmp.EncAESCBC, KeyBits: 128, Hash: isakmp.HashSHA256, Group: 19, Auth: isakmp.AuthPreSharedKey}
}

func addSeeds(f *testing.F, msgs ...[]byte) {
	for st, m := range msgs {
		f.Add(byte(st), m)
		if len(m) > 40 {
			f.Add(byte(st), m[:len(m)/2])
			bad := bytes.Clone(m)
			bad[len(bad)/2] ^= 0xff
			f.Add(byte(st), bad)
		}
	}
}

func FuzzResponder(f *testing.F) {
	tr := fuzzRef(f)
	addSeeds(f, tr[1], tr[3], tr[5], tr[6])
	f.Fuzz(func(t *testing.T, state byte, pkt []byte) {
		r := NewResponder(config(t, fuzzSeedR, psk, fuzzSuite()), ksAddr, gmAddr)
		for k := 1; k < 2*int(state%4)+1 && k <= 5; k += 2 {
			if _, err := r.Handle(tr[k]); err != nil {
				t.Fatalf("replay of message %d: %v", k, err)
			}
		}
		reply, err := r.Handle(pkt)
		if err != nil && reply != nil {
			if _, ok := ParseNotify(reply); !ok {
				t.Fatalf("error %v with a reply that is not a plaintext notification", err)
			}
		}
		if err == nil && r.State() == "P1_FAILED" {
			t.Fatal("failed without an error")
		}
		// A second delivery of the same datagram never panics either.
		r.Handle(pkt)
	})
}

func FuzzInitiatorHandle(f *testing.F) {
	tr := fuzzRef(f)
	addSeeds(f, tr[2], tr[4], tr[6])
	f.Fuzz(func(t *testing.T, state byte, pkt []byte) {
		i, err := NewInitiator(config(t, fuzzSeedI, psk, fuzzSuite()), gmAddr, ksAddr)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := i.Start(); err != nil {
			t.Fatal(err)
		}
		for k := 2; k < 2*int(state%4)+2 && k <= 6; k += 2 {
			if _, err := i.Handle(tr[k]); err != nil {
				t.Fatalf("replay of message %d: %v", k, err)
			}
		}
		before := i.State()
		reply, err := i.Handle(pkt)
		if err != nil && (reply != nil || i.State() != before) {
			t.Fatalf("error %v with a reply or a state change", err)
		}
		if i.State() == "P1_DONE" && i.SA() == nil {
			t.Fatal("done without an SA")
		}
	})
}
