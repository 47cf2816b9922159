package ikev1

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/getlab/getlab/gateway/internal/exchangetest"
	"github.com/getlab/getlab/gateway/wire/isakmp"
)

// checkSAs compares what both ends derived and checks that a phase-2
// exchange sealed by one opens on the other, both ways.
func checkSAs(t *testing.T, i *Initiator, r *Responder, tr transcript) {
	t.Helper()
	is, rs := i.SA(), r.SA()
	if is == nil || rs == nil {
		t.Fatalf("SAs %v %v after message 6", is, rs)
	}
	if !is.Initiator || rs.Initiator {
		t.Error("Initiator flags wrong")
	}
	for _, c := range []struct {
		name string
		a, b []byte
	}{
		{"SKEYID", is.SKEYID, rs.SKEYID}, {"SKEYID_d", is.SKEYIDd, rs.SKEYIDd},
		{"SKEYID_a", is.SKEYIDa, rs.SKEYIDa}, {"SKEYID_e", is.SKEYIDe, rs.SKEYIDe},
		{"EncKey", is.EncKey, rs.EncKey}, {"LastIV", is.LastIV, rs.LastIV},
	} {
		if !bytes.Equal(c.a, c.b) || len(c.a) == 0 {
			t.Errorf("%s: initiator %x, responder %x", c.name, c.a, c.b)
		}
	}
	if bs := is.Suite.BlockSize(); !bytes.Equal(is.LastIV, tr[6][len(tr[6])-bs:]) {
		t.Error("LastIV is not the last CBC block of message 6")
	}
	if is.Cookies() != rs.Cookies() || is.ICookie == [8]byte{} || is.RCookie == [8]byte{} {
		t.Errorf("cookies %x / %x", is.Cookies(), rs.Cookies())
	}
	if is.Suite != rs.Suite {
		t.Errorf("suites %+v / %+v", is.Suite, rs.Suite)
	}
	if is.PeerID == nil || rs.PeerID == nil || is.LocalID.String() != rs.PeerID.String() || rs.LocalID.String() != is.PeerID.String() {
		t.Errorf("IDs: initiator %v→%v, responder %v→%v", is.LocalID, is.PeerID, rs.LocalID, rs.PeerID)
	}
	if is.Local != gmAddr || is.Peer != ksAddr || rs.Local != ksAddr || rs.Peer != gmAddr {
		t.Error("endpoints wrong")
	}
	if !is.Established.Equal(epoch) || !rs.Established.Equal(epoch) {
		t.Error("Established not from Config.Now")
	}
	if is.DOI != isakmp.DOIGDOI || rs.DOI != isakmp.DOIGDOI {
		t.Errorf("DOI %d %d", is.DOI, rs.DOI)
	}

	// GROUPKEY-PULL shaped traffic: GM → KS, KS → GM on one message ID.
	gx := is.NewExchange(isakmp.ExchangeGroupkeyPull)
	body := isakmp.AppendPayloads(nil, &isakmp.Nonce{Data: []byte("0123456789abcdef")})
	m1 := gx.Seal(isakmp.PayloadNonce, body)
	kx := rs.Exchange(isakmp.ExchangeGroupkeyPull, gx.MessageID)
	got, err := kx.Open(m1, nil)
	if err != nil {
		t.Fatalf("responder cannot open the initiator's phase-2 message: %v", err)
	}
	if n, ok := got.Get(isakmp.PayloadNonce); !ok || string(n.(*isakmp.Nonce).Data) != "0123456789abcdef" {
		t.Errorf("decrypted %s", got)
	}
	m2 := kx.Seal(isakmp.PayloadNonce, isakmp.AppendPayloads(nil, &isakmp.Nonce{Data: []byte("fedcba9876543210")}))
	if _, err := gx.Open(m2, nil); err != nil {
		t.Fatalf("initiator cannot open the responder's phase-2 reply: %v", err)
	}
}

func TestMainModeMatrix(t *testing.T) {
	seed := uint64(100)
	for _, enc := range []string{"aes128", "aes256", "3des"} {
		for _, h := range []string{"sha1", "sha256", "sha384", "sha512"} {
			for _, g := range []int{14, 19, 20} {
				s := mustSuite(t, enc, h, g)
				seed += 2
				t.Run(s.String(), func(t *testing.T) {
					i, r, tr, err := runMainMode(t, config(t, seed, psk, s), config(t, seed+1, psk, s))
					if err != nil {
						t.Fatal(err)
					}
					checkSAs(t, i, r, tr)
					if i.State() != "P1_DONE" || r.State() != "P1_DONE" {
						t.Errorf("states %s %s", i.State(), r.State())
					}
				})
			}
		}
	}
}

func TestMainModeWeakDH(t *testing.T) {
	for _, g := range []int{2, 5} {
		for _, enc := range []string{"aes128", "3des"} {
			s := mustSuite(t, enc, "sha1", g)
			t.Run(s.String(), func(t *testing.T) {
				ic, rc := config(t, 0, psk, s), config(t, 0, psk, s)
				if _, err := NewInitiator(ic, gmAddr, ksAddr); err == nil {
					t.Error("initiator proposes a weak group without AllowWeakDH")
				}
				ic.AllowWeakDH = true
				// Responder without AllowWeakDH: NO-PROPOSAL-CHOSEN.
				i, _, tr, err := runMainMode(t, ic, rc)
				if nt, _ := notifyType(err); nt != isakmp.NotifyNoProposalChosen {
					t.Fatalf("err %v, want NO-PROPOSAL-CHOSEN", err)
				}
				if tr[2] == nil {
					t.Fatal("no notification sent")
				}
				_, err = i.Handle(tr[2])
				var ne *NotifyError
				if !errors.As(err, &ne) || !ne.FromPeer || ne.Type != isakmp.NotifyNoProposalChosen {
					t.Fatalf("initiator: %v", err)
				}
				rc.AllowWeakDH = true
				i, r, tr, err := runMainMode(t, ic, rc)
				if err != nil {
					t.Fatal(err)
				}
				checkSAs(t, i, r, tr)
			})
		}
	}
}

// The initiator proposes several suites; the responder takes the first of
// them it accepts, and both end up with that one.
func TestMainModeChoosesFirstAcceptable(t *testing.T) {
	a := mustSuite(t, "aes256", "sha512", 20)
	b := mustSuite(t, "aes128", "sha256", 19)
	c := mustSuite(t, "3des", "sha1", 14)
	i, r, tr, err := runMainMode(t, config(t, 1, psk, a, b, c), config(t, 2, psk, c, b))
	if err != nil {
		t.Fatal(err)
	}
	checkSAs(t, i, r, tr)
	if i.SA().Suite.String() != b.String() {
		t.Errorf("chose %s, want %s", i.SA().Suite, b)
	}
	m, _ := isakmp.ParseMessage(tr[1], nil)
	if got := m.Layout(); got != "SA(P(T,T,T))" {
		t.Errorf("message 1 layout %s", got)
	}
}

func TestMainModeLifetime(t *testing.T) {
	for _, tc := range []struct {
		name       string
		init, resp time.Duration
		want       time.Duration
	}{
		{"initiator shorter", time.Hour, 8 * time.Hour, time.Hour},
		{"responder shorter", 8 * time.Hour, time.Hour, time.Hour},
		{"equal", 2 * time.Hour, 2 * time.Hour, 2 * time.Hour},
		{"defaults", 0, 0, DefaultLifetime},
		{"sub-second rounds up", 1500 * time.Millisecond, time.Hour, 2 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			si, sr := mustSuite(t, "aes128", "sha256", 19), mustSuite(t, "aes128", "sha256", 19)
			si.Lifetime, sr.Lifetime = tc.init, tc.resp
			i, r, tr, err := runMainMode(t, config(t, 3, psk, si), config(t, 4, psk, sr))
			if err != nil {
				t.Fatal(err)
			}
			checkSAs(t, i, r, tr)
			if got := i.SA().Suite.Lifetime; got != tc.want {
				t.Errorf("lifetime %v, want %v", got, tc.want)
			}
		})
	}
}

// A responder's transform with a longer lifetime than proposed is refused.
func TestInitiatorRefusesLongerLifetime(t *testing.T) {
	s := mustSuite(t, "aes128", "sha256", 19)
	s.Lifetime = time.Hour
	i, err := NewInitiator(config(t, 5, psk, s), gmAddr, ksAddr)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := i.Start(); err != nil {
		t.Fatal(err)
	}
	long := s
	long.Lifetime = 2 * time.Hour
	var x exchange
	x.icky, x.rcky = i.x.icky, [8]byte{1}
	msg2 := x.plain(&isakmp.SA{DOI: isakmp.DOIGDOI, Proposals: []isakmp.Proposal{{Number: 1, ProtocolID: isakmp.ProtoISAKMP, Transforms: []isakmp.Transform{long.transform(1)}}}})
	if _, err := i.Handle(msg2); err == nil {
		t.Fatal("longer lifetime accepted")
	} else if nt, _ := notifyType(err); nt != isakmp.NotifyNoProposalChosen {
		t.Errorf("err %v", err)
	}
	if i.State() != "P1_MM1_SENT" {
		t.Errorf("state %s after a refused message 2", i.State())
	}
}

func TestMainModeNoProposalChosen(t *testing.T) {
	for _, tc := range []struct {
		name string
		i, r Suite
	}{
		{"encryption", mustSuite(t, "aes128", "sha256", 19), mustSuite(t, "aes256", "sha256", 19)},
		{"hash", mustSuite(t, "aes128", "sha256", 19), mustSuite(t, "aes128", "sha1", 19)},
		{"group", mustSuite(t, "aes128", "sha256", 19), mustSuite(t, "aes128", "sha256", 20)},
		{"auth", mustSuite(t, "aes128", "sha256", 19), func() Suite {
			s := mustSuite(t, "aes128", "sha256", 19)
			s.Auth = isakmp.AuthRSASig
			return s
		}()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			i, r, tr, err := runMainMode(t, config(t, 6, psk, tc.i), config(t, 7, psk, tc.r))
			var ne *NotifyError
			if !errors.As(err, &ne) || ne.Type != isakmp.NotifyNoProposalChosen || ne.FromPeer {
				t.Fatalf("responder: %v", err)
			}
			n, ok := ParseNotify(tr[2])
			if !ok || n.MessageType != isakmp.NotifyNoProposalChosen || n.ProtocolID != isakmp.ProtoISAKMP || n.DOI != isakmp.DOIGDOI {
				t.Fatalf("reply %x is not a NO-PROPOSAL-CHOSEN notification", tr[2])
			}
			h, _, _ := isakmp.ParseHeader(tr[2])
			if c := h.Cookies(); !bytes.Equal(n.SPI, c[:]) || h.ICookie != i.x.icky || h.RCookie == [8]byte{} || h.MessageID == 0 || h.Flags != 0 {
				t.Errorf("notification header %+v, SPI %x", h, n.SPI)
			}
			_, err = i.Handle(tr[2])
			if !errors.As(err, &ne) || ne.Type != isakmp.NotifyNoProposalChosen || !ne.FromPeer {
				t.Fatalf("initiator: %v", err)
			}
			if r.State() != "P1_FAILED" {
				t.Errorf("responder state %s", r.State())
			}
			if _, err := r.Handle(tr[1]); err == nil {
				t.Error("failed responder accepted another message")
			}
		})
	}
}

func TestMainModeWrongPSK(t *testing.T) {
	// Several seeds: the garbage a wrong key decrypts to differs, and
	// either notify type is right.
	for seed := uint64(20); seed < 30; seed++ {
		s := mustSuite(t, "aes128", "sha256", 19)
		i, r, tr, err := runMainMode(t, config(t, seed, psk, s), config(t, seed+100, []byte("another key"), s))
		nt, ok := notifyType(err)
		if !ok || (nt != isakmp.NotifyAuthenticationFailed && nt != isakmp.NotifyPayloadMalformed) {
			t.Fatalf("responder: %v", err)
		}
		if r.SA() != nil || tr[6] == nil {
			t.Fatal("no notification, or an SA")
		}
		if n, ok := ParseNotify(tr[6]); !ok || n.MessageType != nt {
			t.Fatalf("reply is not a %s notification", nt)
		}
		if tr[6][19]&byte(isakmp.FlagEncryption) != 0 {
			t.Error("failure notification is encrypted")
		}
		_, err = i.Handle(tr[6])
		var ne *NotifyError
		if !errors.As(err, &ne) || ne.Type != nt || !ne.FromPeer {
			t.Fatalf("initiator: %v", err)
		}
		if i.SA() != nil {
			t.Fatal("initiator established")
		}
	}
}

// An initiator that cannot verify message 6 (here: a responder with
// another key, forced past message 5) reports AUTHENTICATION-FAILED and
// sends nothing.
func TestInitiatorWrongPSKOnMessage6(t *testing.T) {
	s := mustSuite(t, "aes128", "sha256", 19)
	ic := config(t, 31, psk, s)
	i, err := NewInitiator(ic, gmAddr, ksAddr)
	if err != nil {
		t.Fatal(err)
	}
	r := NewResponder(config(t, 32, psk, s), ksAddr, gmAddr)
	m1, _ := i.Start()
	m2, _ := r.Handle(m1)
	m3, _ := i.Handle(m2)
	m4, _ := r.Handle(m3)
	m5, _ := i.Handle(m4)
	m6, err := r.Handle(m5)
	if err != nil {
		t.Fatal(err)
	}
	// Message 6 is IDir (12 octets) and HASH_R (36): three AES blocks, no
	// padding, so garbling the last block garbles HASH_R.
	bad := bytes.Clone(m6)
	bad[len(bad)-1] ^= 0x80
	reply, err := i.Handle(bad)
	if nt, _ := notifyType(err); nt != isakmp.NotifyAuthenticationFailed || reply != nil {
		t.Fatalf("err %v reply %x", err, reply)
	}
	// The real message 6 still completes: the failure did not move state.
	if _, err := i.Handle(m6); err != nil || i.SA() == nil {
		t.Fatalf("after a bad message 6: %v", err)
	}

	// And a message 6 encrypted under other keys entirely.
	i2, _ := NewInitiator(config(t, 33, psk, s), gmAddr, ksAddr)
	r2 := NewResponder(config(t, 34, []byte("other"), s), ksAddr, gmAddr)
	m1, _ = i2.Start()
	m2, _ = r2.Handle(m1)
	m3, _ = i2.Handle(m2)
	m4, _ = r2.Handle(m3)
	i2.Handle(m4)
	// Forge a message 6 with the responder's (wrong) keys.
	forged := r2.x.seal(r2.x.localID, &isakmp.Hash{Data: make([]byte, 32)})
	if _, err := i2.Handle(forged); err == nil {
		t.Fatal("forged message 6 accepted")
	} else if nt, _ := notifyType(err); nt != isakmp.NotifyAuthenticationFailed {
		t.Fatalf("err %v", err)
	}
}

func TestMainModeRetransmissions(t *testing.T) {
	s := mustSuite(t, "aes128", "sha256", 19)
	i, err := NewInitiator(config(t, 40, psk, s), gmAddr, ksAddr)
	if err != nil {
		t.Fatal(err)
	}
	r := NewResponder(config(t, 41, psk, s), ksAddr, gmAddr)
	m1, _ := i.Start()
	if !bytes.Equal(i.LastSent(), m1) {
		t.Error("LastSent is not message 1")
	}
	m2, _ := r.Handle(m1)
	again, err := r.Handle(m1)
	if err != nil || !bytes.Equal(again, m2) {
		t.Fatalf("retransmitted message 1: %v", err)
	}
	m3, _ := i.Handle(m2)
	if again, err := i.Handle(m2); err != nil || !bytes.Equal(again, m3) {
		t.Fatalf("initiator on a repeated message 2: %v", err)
	}
	m4, _ := r.Handle(m3)
	if again, err := r.Handle(m3); err != nil || !bytes.Equal(again, m4) || r.State() != "P1_MM4_SENT" {
		t.Fatalf("retransmitted message 3: %v %s", err, r.State())
	}
	m5, _ := i.Handle(m4)
	m6, _ := r.Handle(m5)
	if again, err := r.Handle(m5); err != nil || !bytes.Equal(again, m6) || !bytes.Equal(r.LastSent(), m6) {
		t.Fatalf("retransmitted message 5: %v", err)
	}
	if _, err := i.Handle(m6); err != nil {
		t.Fatal(err)
	}
	if again, err := i.Handle(m6); err != nil || again != nil {
		t.Fatalf("repeated message 6: %x %v", again, err)
	}
	// A late copy of an earlier message is no retransmission of the last
	// one and no new message either: ignored, the SA intact.
	sa := r.SA()
	if again, err := r.Handle(m1); err != nil || again != nil || r.SA() != sa || sa == nil {
		t.Errorf("old message 1 after completion: %x, %v", again, err)
	}
	if _, err := i.Start(); err == nil {
		t.Error("Start twice")
	}
}

// A network that delays or duplicates datagrams delivers late copies of
// earlier messages in the middle of an exchange (the wire of the impair
// suite showed one: a KS's retransmitted message 2, reaching the GM after
// its message 4, failed the GM's main mode as "message 6 not encrypted").
// Each side ignores them and completes.
func TestMainModeLateCopies(t *testing.T) {
	s := mustSuite(t, "aes128", "sha256", 19)
	i, err := NewInitiator(config(t, 42, psk, s), gmAddr, ksAddr)
	if err != nil {
		t.Fatal(err)
	}
	r := NewResponder(config(t, 43, psk, s), ksAddr, gmAddr)
	m1, _ := i.Start()
	m2, _ := r.Handle(m1)
	m3, _ := i.Handle(m2)
	m4, _ := r.Handle(m3)
	if again, err := r.Handle(bytes.Clone(m1)); err != nil || again != nil {
		t.Fatalf("responder, message 1 late: %x %v", again, err)
	}
	m5, err := i.Handle(m4)
	if err != nil {
		t.Fatal(err)
	}
	if again, err := i.Handle(bytes.Clone(m2)); err != nil || again != nil {
		t.Fatalf("initiator, message 2 late: %x %v", again, err)
	}
	m6, err := r.Handle(m5)
	if err != nil {
		t.Fatal(err)
	}
	if again, err := r.Handle(bytes.Clone(m3)); err != nil || again != nil {
		t.Fatalf("responder, message 3 late: %x %v", again, err)
	}
	if _, err := i.Handle(m6); err != nil || i.SA() == nil || r.SA() == nil {
		t.Fatalf("main mode did not complete after late copies: %v", err)
	}
}

// Responders of other implementations may answer with DOI 1 and the IPsec
// situation: the responder echoes what it got.
func TestMainModeDOIIPsec(t *testing.T) {
	s := mustSuite(t, "aes128", "sha1", 14)
	ic := config(t, 50, psk, s)
	ic.DOI = isakmp.DOIIPsec
	i, r, tr, err := runMainMode(t, ic, config(t, 51, psk, s))
	if err != nil {
		t.Fatal(err)
	}
	if i.SA().DOI != isakmp.DOIIPsec || r.SA().DOI != isakmp.DOIIPsec {
		t.Error("DOI not echoed")
	}
	m, _ := isakmp.ParseMessage(tr[2], nil)
	sa, _ := m.Get(isakmp.PayloadSA)
	if sa.(*isakmp.SA).Situation != isakmp.SitIdentityOnly {
		t.Error("situation not echoed")
	}
}

func TestMainModeDPDVendorID(t *testing.T) {
	s := mustSuite(t, "aes128", "sha256", 19)
	for _, tc := range []struct{ i, r bool }{{true, true}, {true, false}, {false, true}, {false, false}} {
		ic, rc := config(t, 60, psk, s), config(t, 61, psk, s)
		ic.DPD, rc.DPD = tc.i, tc.r
		i, r, tr, err := runMainMode(t, ic, rc)
		if err != nil {
			t.Fatal(err)
		}
		if i.SA().PeerDPD != tc.r || r.SA().PeerDPD != tc.i {
			t.Errorf("%+v: PeerDPD %v %v", tc, i.SA().PeerDPD, r.SA().PeerDPD)
		}
		if tc.i && !bytes.Contains(tr[1], DPDVendorID[:]) || tc.r && !bytes.Contains(tr[2], DPDVendorID[:]) {
			t.Errorf("%+v: vendor ID missing", tc)
		}
	}
}

func TestMainModeIdentities(t *testing.T) {
	s := mustSuite(t, "aes128", "sha256", 19)
	ic, rc := config(t, 70, psk, s), config(t, 71, psk, s)
	ic.LocalID = isakmp.NewFQDNID("gm1.example")
	rc.LocalID = isakmp.NewKeyID([]byte("ks"))
	var seen *isakmp.ID
	rc.AcceptPeerID = func(peer netip.AddrPort, id *isakmp.ID) error {
		seen = id
		return nil
	}
	i, r, tr, err := runMainMode(t, ic, rc)
	if err != nil {
		t.Fatal(err)
	}
	checkSAs(t, i, r, tr)
	if seen == nil || seen.String() != ic.LocalID.String() {
		t.Errorf("AcceptPeerID saw %v", seen)
	}

	rc.AcceptPeerID = func(netip.AddrPort, *isakmp.ID) error { return errors.New("not a member") }
	_, _, tr, err = runMainMode(t, config(t, 72, psk, s), rc)
	if nt, _ := notifyType(err); nt != isakmp.NotifyInvalidIDInformation {
		t.Fatalf("refused identity: %v", err)
	}
	if n, ok := ParseNotify(tr[6]); !ok || n.MessageType != isakmp.NotifyInvalidIDInformation {
		t.Error("no INVALID-ID-INFORMATION notification")
	}

	// A subnet is not a phase-1 identity.
	ic.LocalID = isakmp.NewPrefixID(netip.MustParsePrefix("10.0.0.0/8"))
	rc.AcceptPeerID = nil
	_, _, _, err = runMainMode(t, ic, rc)
	if nt, _ := notifyType(err); nt != isakmp.NotifyInvalidIDInformation {
		t.Fatalf("subnet identity: %v", err)
	}
}

// The responder picks the pre-shared key by the initiator's address; a
// peer without one is refused on message 1, as IOS does, with
// NO-PROPOSAL-CHOSEN.
func TestPSKLookupByAddress(t *testing.T) {
	s := mustSuite(t, "aes128", "sha256", 19)
	keys := map[netip.Addr][]byte{gmAddr.Addr(): []byte("gm key")}
	var asked []netip.Addr
	rc := config(t, 80, nil, s)
	rc.Auth = PSKAuth(func(a netip.Addr) ([]byte, bool) {
		asked = append(asked, a)
		k, ok := keys[a]
		return k, ok
	})
	if _, _, _, err := runMainMode(t, config(t, 81, []byte("gm key"), s), rc); err != nil {
		t.Fatal(err)
	}
	if len(asked) == 0 {
		t.Error("no lookup")
	}
	for _, a := range asked {
		if a != gmAddr.Addr() {
			t.Errorf("lookups %v", asked)
		}
	}
	delete(keys, gmAddr.Addr())
	_, _, tr, err := runMainMode(t, config(t, 82, []byte("gm key"), s), rc)
	if nt, _ := notifyType(err); nt != isakmp.NotifyNoProposalChosen || !errors.Is(err, ErrNoPreSharedKey) || tr[2] == nil || tr[3] != nil {
		t.Fatalf("unknown peer: %v", err)
	}
	if n, ok := ParseNotify(tr[2]); !ok || n.MessageType != isakmp.NotifyNoProposalChosen {
		t.Error("no NO-PROPOSAL-CHOSEN notification")
	}
}

// A peer whose key is gone by message 3 is refused before the responder
// computes Diffie-Hellman.
func TestNoKeyNoDH(t *testing.T) {
	s := mustSuite(t, "aes128", "sha256", 14)
	have := true
	rc := config(t, 83, nil, s)
	rc.Auth = PSKAuth(func(netip.Addr) ([]byte, bool) { return psk, have })
	dh := 0
	rc.OnDH = func() { dh++ }
	if _, _, _, err := runMainMode(t, config(t, 84, psk, s), rc); err != nil || dh != 1 {
		t.Fatalf("with a key: %v, %d DH", err, dh)
	}
	i, err := NewInitiator(config(t, 85, psk, s), gmAddr, ksAddr)
	if err != nil {
		t.Fatal(err)
	}
	r := NewResponder(rc, ksAddr, gmAddr)
	m1, _ := i.Start()
	m3 := exchangetest.Run(t, m1, r.Handle, i.Handle)[2]
	have = false
	m4, err := r.Handle(m3)
	if nt, _ := notifyType(err); nt != isakmp.NotifyAuthenticationFailed || !errors.Is(err, ErrNoPreSharedKey) {
		t.Fatalf("message 3 without a key: %v", err)
	}
	if n, ok := ParseNotify(m4); !ok || n.MessageType != isakmp.NotifyAuthenticationFailed {
		t.Error("no AUTHENTICATION-FAILED notification")
	}
	if dh != 1 {
		t.Errorf("%d DH computations, want none for the keyless message 3", dh-1)
	}
}

// A responder resumed from HalfOpen after message 2 completes main mode
// as the original would have.
func TestResumeResponder(t *testing.T) {
	s := mustSuite(t, "aes128", "sha256", 19)
	rc := config(t, 86, psk, s)
	i, err := NewInitiator(config(t, 87, psk, s, mustSuite(t, "aes256", "sha256", 19)), gmAddr, ksAddr)
	if err != nil {
		t.Fatal(err)
	}
	r := NewResponder(rc, ksAddr, gmAddr)
	if _, ok := r.HalfOpen(); ok {
		t.Error("half open before message 1")
	}
	var seen []HalfOpen
	r.SetResponderCookieFunc(func(h HalfOpen) [8]byte {
		seen = append(seen, h)
		return [8]byte{1, 2, 3, 4, 5, 6, 7, 8}
	})
	m1, _ := i.Start()
	m2, err := r.Handle(m1)
	if err != nil {
		t.Fatal(err)
	}
	h, ok := r.HalfOpen()
	if !ok || h.RCookie != [8]byte{1, 2, 3, 4, 5, 6, 7, 8} || len(h.SAiB) == 0 {
		t.Fatalf("half open %+v %v", h, ok)
	}
	if hm2, _, _ := isakmp.ParseHeader(m2); hm2.RCookie != h.RCookie {
		t.Errorf("message 2 has CKY-R %x, want the cookie function's", hm2.RCookie)
	}
	// The cookie function saw what message 1 determined.
	if len(seen) != 1 || seen[0].RCookie != ([8]byte{}) || seen[0].ICookie != h.ICookie || seen[0].Suite != h.Suite ||
		seen[0].DOI != h.DOI || seen[0].PeerDPD != h.PeerDPD || !bytes.Equal(seen[0].SAiB, h.SAiB) {
		t.Fatalf("cookie function called with %+v, want %+v", seen, h)
	}
	r = ResumeResponder(rc, ksAddr, gmAddr, h)
	pkt, err := i.Handle(m2)
	for n := 3; err == nil && i.SA() == nil; n += 2 {
		var reply []byte
		if reply, err = r.Handle(pkt); err != nil {
			t.Fatalf("message %d: %v", n, err)
		}
		pkt, err = i.Handle(reply)
	}
	if err != nil {
		t.Fatal(err)
	}
	if r.SA() == nil || !bytes.Equal(r.SA().SKEYIDe, i.SA().SKEYIDe) || i.SA().Suite != s {
		t.Error("resumed exchange does not agree with the initiator")
	}
}

// A responder with Authorize refuses an identity the key is not bound to
// with AUTHENTICATION-FAILED, after HASH_I verified.
func TestPSKAuthorize(t *testing.T) {
	s := mustSuite(t, "aes128", "sha256", 19)
	rc := config(t, 88, nil, s)
	var got []string
	rc.Auth = &PSK{
		Lookup: func(netip.Addr) ([]byte, bool) { return psk, true },
		Authorize: func(peer netip.Addr, id *isakmp.ID) error {
			a, _ := id.Addr()
			got = append(got, peer.String()+" "+a.String())
			if a != peer {
				return errors.New("not yours")
			}
			return nil
		},
	}
	if _, _, _, err := runMainMode(t, config(t, 89, psk, s), rc); err != nil {
		t.Fatal(err)
	}
	ic := config(t, 90, psk, s)
	ic.LocalID = isakmp.NewAddrID(netip.MustParseAddr("192.0.2.99"))
	_, _, tr, err := runMainMode(t, ic, rc)
	if nt, _ := notifyType(err); nt != isakmp.NotifyAuthenticationFailed || !errors.Is(err, ErrUnauthorizedIdentity) {
		t.Fatalf("claimed identity: %v", err)
	}
	if n, ok := ParseNotify(tr[6]); !ok || n.MessageType != isakmp.NotifyAuthenticationFailed {
		t.Error("no AUTHENTICATION-FAILED notification")
	}
	want := []string{gmAddr.Addr().String() + " " + gmAddr.Addr().String(), gmAddr.Addr().String() + " 192.0.2.99"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("Authorize calls %v, want %v", got, want)
	}
}

func TestConfigErrors(t *testing.T) {
	s := mustSuite(t, "aes128", "sha256", 19)
	bad := map[string]*Config{
		"nil":        nil,
		"no suites":  {Auth: StaticPSK(psk)},
		"no auth":    {Suites: []Suite{s}},
		"nonce":      {Suites: []Suite{s}, Auth: StaticPSK(psk), NonceLen: 4},
		"doi":        {Suites: []Suite{s}, Auth: StaticPSK(psk), DOI: 7},
		"enc":        {Suites: []Suite{{Enc: 99, KeyBits: 128, Hash: isakmp.HashSHA1, Group: 14, Auth: 1}}, Auth: StaticPSK(psk)},
		"group":      {Suites: []Suite{{Enc: isakmp.EncAESCBC, KeyBits: 128, Hash: isakmp.HashSHA1, Group: 21, Auth: 1}}, Auth: StaticPSK(psk)},
		"auth match": {Suites: []Suite{{Enc: isakmp.EncAESCBC, KeyBits: 128, Hash: isakmp.HashSHA1, Group: 14, Auth: 3}}, Auth: StaticPSK(psk)},
	}
	for name, cfg := range bad {
		if _, err := NewInitiator(cfg, gmAddr, ksAddr); err == nil {
			t.Errorf("%s: NewInitiator accepted", name)
		}
	}
	r := NewResponder(nil, ksAddr, gmAddr)
	if _, err := r.Handle(make([]byte, 28)); err == nil {
		t.Error("responder without config handled a message")
	}
	if _, err := NewInitiator(config(t, 0, psk, s), netip.AddrPort{}, ksAddr); err == nil {
		t.Error("initiator without any identity")
	}
}

// Every message of the exchange, truncated at every length and with every
// octet flipped, is refused with an error (never a panic), and the
// exchange still completes afterwards where the receiver keeps its state
// (the initiator; a responder told the peer and stopped).
func TestMainModeGarbled(t *testing.T) {
	s := mustSuite(t, "aes128", "sha256", 19)
	_, _, ref, err := runMainMode(t, config(t, 90, psk, s), config(t, 91, psk, s))
	if err != nil {
		t.Fatal(err)
	}
	// fresh returns an initiator and responder replayed up to (and not
	// including) message n.
	fresh := func(n int) (*Initiator, *Responder) {
		i, _ := NewInitiator(config(t, 90, psk, s), gmAddr, ksAddr)
		r := NewResponder(config(t, 91, psk, s), ksAddr, gmAddr)
		i.Start()
		for k := 1; k < n; k++ {
			var err error
			if k%2 == 1 {
				_, err = r.Handle(ref[k])
			} else {
				_, err = i.Handle(ref[k])
			}
			if err != nil {
				t.Fatalf("replay of message %d: %v", k, err)
			}
		}
		return i, r
	}
	variants := func(msg []byte) [][]byte {
		var vs [][]byte
		for l := 0; l < len(msg); l++ {
			vs = append(vs, msg[:l])
		}
		for k := range msg {
			if k < 16 || (k >= 17 && k < 20) {
				continue // cookies, version: refused earlier, no need to try them all
			}
			v := bytes.Clone(msg)
			v[k] ^= 0x5a
			vs = append(vs, v)
		}
		return vs
	}
	for n := 1; n <= 6; n++ {
		t.Run(fmt.Sprintf("msg%d", n), func(t *testing.T) {
			accepted := 0
			i, r := fresh(n)
			for _, v := range variants(ref[n]) {
				var err error
				if n%2 == 1 {
					_, err = r.Handle(v)
					if r.State() == "P1_FAILED" || err == nil {
						i, r = fresh(n)
					}
				} else {
					_, err = i.Handle(v)
					if err == nil {
						i, r = fresh(n)
					}
				}
				if err == nil {
					accepted++
				}
			}
			// Flips in the transforms' lifetime value, in the
			// nonce/KE data or in padding are legitimate messages.
			t.Logf("message %d: %d of the variants accepted", n, accepted)
			// The genuine message still works on a receiver that kept its
			// state.
			if n%2 == 0 {
				if _, err := i.Handle(ref[n]); err != nil {
					t.Fatalf("genuine message %d after garbage: %v", n, err)
				}
			}
		})
	}
}

func BenchmarkMainMode(b *testing.B) {
	for _, g := range []int{19, 14} {
		b.Run(fmt.Sprintf("group%d", g), func(b *testing.B) {
			s := mustSuite(b, "aes128", "sha256", g)
			ic, rc := config(b, 0, psk, s), config(b, 0, psk, s)
			b.ReportAllocs()
			n := 0
			for b.Loop() {
				if _, _, _, err := runMainMode(b, ic, rc); err != nil {
					b.Fatal(err)
				}
				n++
			}
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "handshakes/s")
		})
	}
}
