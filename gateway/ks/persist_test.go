package ks

import (
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/getlab/getlab/gateway/config"
	"github.com/getlab/getlab/gateway/events"
	"github.com/getlab/getlab/gateway/internal/testnet"
	"github.com/getlab/getlab/gateway/phase1"
)

// statefulKS is the test KS keeping its state in dir, with a generated
// signing key and the ACL edited by edit.
func statefulKS(t *testing.T, dir string, clk func() time.Time, edit func(string) string) *Server {
	t.Helper()
	y := strings.Replace(testnet.KSYAML(19), `state_file: ""`, "state_file: "+filepath.Join(dir, "ks-state.json"), 1) + ksGroupYAML
	if edit != nil {
		y = edit(y)
	}
	cfg, err := config.Parse([]byte(y), "ks.yaml")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := New(cfg, Options{Env: phase1.Env{Events: events.New(io.Discard, "text", "error"), Counters: &events.Counters{},
		Local: testnet.KS(1), Now: clk, Send: func(netip.AddrPort, []byte) {}}})
	if err != nil {
		t.Fatal(err)
	}
	return srv
}

type keyState struct {
	kek     [16]byte
	teks    []uint32
	seq     uint32
	members int
	pub     string
}

func keysOf(s *Server) keyState {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.sortedGroups()[0]
	k := keyState{kek: g.kek.SPI, seq: g.seq, members: len(g.members), pub: string(g.pubDER)}
	for _, gen := range g.gens {
		for _, t := range gen.teks {
			k.teks = append(k.teks, t.SPI)
		}
	}
	return k
}

// TestStateSurvivesRestart: a KS serving its group alone restarts with
// the KEK, TEKs, generated signing key, members and a sequence number no
// lower than any it may have sent, so its GMs keep taking its rekeys.
func TestStateSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	clk := newClock()
	a := statefulKS(t, dir, clk.Now, nil)
	a.mu.Lock()
	g := a.sortedGroups()[0]
	gm := testnet.GM(1).Addr()
	g.members[gm] = &member{address: gm, identity: gm.String(), local: true, registeredAt: clk.Now(), registrations: 1}
	a.saveSoon(g)
	a.startRound(g, clk.Now(), false, true) // a rekey: one PUSH sent, retransmissions to come
	a.mu.Unlock()
	before := keysOf(a)
	fi, err := os.Stat(filepath.Join(dir, "ks-state.json"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("state file mode %v, want 0600 (it holds keys)", fi.Mode().Perm())
	}
	clk.Advance(30 * time.Second)
	b := statefulKS(t, dir, clk.Now, nil)
	after := keysOf(b)
	if after.kek != before.kek || fmt.Sprint(after.teks) != fmt.Sprint(before.teks) || after.pub != before.pub {
		t.Errorf("keys after the restart %x %v differ from before %x %v (or the signing key changed)", after.kek[:4], after.teks, before.kek[:4], before.teks)
	}
	if want := before.seq + uint32(g.cfg.Rekey.RetransmitCount); after.seq < want {
		t.Errorf("sequence number after the restart %d, want at least %d (the round's retransmissions)", after.seq, want)
	}
	if after.members != 1 {
		t.Errorf("%d members after the restart, want 1", after.members)
	}
	if len(before.teks) != 4 {
		t.Fatalf("before the restart %d TEKs, want 4 (two generations)", len(before.teks))
	}
}

// TestStatePolicyChanged: with another ACL the KS keeps its KEK and
// sequence number but not the TEKs, and rekeys at its first tick.
func TestStatePolicyChanged(t *testing.T) {
	dir := t.TempDir()
	clk := newClock()
	before := keysOf(statefulKS(t, dir, clk.Now, nil))
	b := statefulKS(t, dir, clk.Now, func(y string) string {
		return strings.Replace(y, "10.2.0.0/16}", "10.3.0.0/16}", 1)
	})
	after := keysOf(b)
	if after.kek != before.kek {
		t.Errorf("the KEK changed with the policy")
	}
	if len(after.teks) == 0 || after.teks[0] == before.teks[0] {
		t.Errorf("TEKs %v kept across a policy change (were %v)", after.teks, before.teks)
	}
	b.Timeout(clk.Now())
	if b.sortedGroups()[0].rekey.scheduled != 1 {
		t.Errorf("no rekey at the first tick after a policy change")
	}
}

// TestStateUnreadable: a state file that does not parse is logged and
// ignored; the KS starts with new keys and overwrites it.
func TestStateUnreadable(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "ks-state.json")
	if err := os.WriteFile(p, []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	clk := newClock()
	s := statefulKS(t, dir, clk.Now, nil)
	clk.Advance(2 * time.Second)
	s.Timeout(clk.Now())
	data, err := os.ReadFile(p)
	if err != nil || !strings.Contains(string(data), `"version": 1`) {
		t.Errorf("state file not rewritten: %v %.40q", err, data)
	}
}
