package ks

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"time"

	"github.com/getlab/getlab/gateway/gdoi"
)

// A KS that serves a group alone keeps the group's state in a file
// (config state_file), so that after a restart its GMs keep taking its
// rekeys: without it a KS makes a new KEK and signing key, and every GM
// silently drops its rekeys until it registers again (the seeds' KS
// reload). What is kept: the KEK and TEK generations with their creation
// times, the sequence number (with the retransmissions the rekey in
// progress may still use), the Sender-ID counter, the members and a
// generated signing key. Cooperating KSs keep nothing: their peers hold
// the group's state (coop.go).
//
// The file holds keys: it is written 0600, to a temporary file renamed
// over the old one, so that a crash leaves the old state or the new, never
// half of one. It is written at once when the keys or the sequence number
// change (a rekey), and within a second of a registration.

// stateVersion is the layout of the state file.
const stateVersion = 1

type savedState struct {
	Version int          `json:"version"`
	Saved   time.Time    `json:"saved"`
	Groups  []savedGroup `json:"groups"`
}

type savedGroup struct {
	ID   uint32 `json:"id"`
	Name string `json:"name"`
	// Policy is the group's policy digest: keys made for another policy
	// are not taken back.
	Policy string `json:"policy"`
	// SigningKey is a generated signing key (PKCS #1 PEM); a key from the
	// configuration is not copied here.
	SigningKey string        `json:"signing_key,omitempty"`
	KEK        *gdoi.KEK     `json:"kek"`
	KEKCreated time.Time     `json:"kek_created"`
	Gens       []savedGen    `json:"teks"`
	Seq        uint32        `json:"seq"`
	NextSID    uint32        `json:"next_sid"`
	Epoch      time.Time     `json:"epoch"`
	Members    []savedMember `json:"members"`
}

type savedGen struct {
	Created time.Time  `json:"created"`
	TEKs    []gdoi.TEK `json:"teks"`
}

type savedMember struct {
	Address       netip.Addr `json:"address"`
	Identity      string     `json:"identity"`
	RegisteredAt  time.Time  `json:"registered_at"`
	Registrations uint64     `json:"registrations"`
}

// persisted reports whether the group's state goes to the state file.
func (s *Server) persisted(g *group) bool { return s.cfg.StateFile != "" && g.coop == nil }

// refresh is group.refresh, marking the state file behind when it made
// keys.
func (s *Server) refresh(g *group, now time.Time) error {
	kek, n := g.kek, len(g.gens)
	err := g.refresh(now, s.clk.Wall, s.cfg.Identity)
	if g.kek != kek || len(g.gens) != n {
		s.saveSoon(g)
	}
	return err
}

// saveSoon marks the state to be written at the next housekeeping.
func (s *Server) saveSoon(g *group) {
	if s.persisted(g) {
		s.stateDirty = true
	}
}

// saveState writes the state file now.
func (s *Server) saveState() {
	s.stateDirty = false
	st := savedState{Version: stateVersion, Saved: s.clk.Now()}
	for _, g := range s.sortedGroups() {
		if !s.persisted(g) || g.kek == nil {
			continue
		}
		sg := savedGroup{
			ID: g.cfg.ID, Name: g.cfg.Name, Policy: hex.EncodeToString(g.policyDigest[:]),
			KEK: g.kek, KEKCreated: g.kekCreated, Seq: g.reservedSeq(), NextSID: g.nextSID, Epoch: g.epoch,
		}
		if g.generatedKey {
			sg.SigningKey = string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(g.signer)}))
		}
		for _, gen := range g.gens {
			sg.Gens = append(sg.Gens, savedGen{Created: gen.created, TEKs: gen.teks})
		}
		for _, m := range g.sortedMembers() {
			sg.Members = append(sg.Members, savedMember{Address: m.address, Identity: m.identity, RegisteredAt: m.registeredAt, Registrations: m.registrations})
		}
		st.Groups = append(st.Groups, sg)
	}
	if err := writeAtomically(s.cfg.StateFile, st); err != nil {
		s.opt.Events.Logf("error", "state file %s: %v (a restart will make new keys)", s.cfg.StateFile, err)
	}
}

func writeAtomically(path string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".ks-state-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name()) // after the rename, nothing
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

// restoreState takes back, at start, the state of the groups the file
// holds: keys not yet expired (by the wall clock), the sequence number,
// the members. A group whose policy changed keeps its KEK, sequence number
// and members (so GMs still take its rekeys) and makes new TEKs, sent in
// a rekey at once. A file that cannot be read is logged and ignored.
func (s *Server) restoreState() {
	data, err := os.ReadFile(s.cfg.StateFile)
	if errors.Is(err, fs.ErrNotExist) || s.cfg.StateFile == "" {
		return
	}
	var st savedState
	if err == nil {
		err = json.Unmarshal(data, &st)
	}
	if err == nil && st.Version != stateVersion {
		err = fmt.Errorf("layout version %d, this KS reads %d", st.Version, stateVersion)
	}
	if err != nil {
		s.opt.Events.Logf("error", "state file %s: %v: starting with new keys", s.cfg.StateFile, err)
		return
	}
	now := s.clk.Now()
	for _, sg := range st.Groups {
		g := s.groupByID(sg.ID)
		if g == nil || !s.persisted(g) || sg.KEK == nil {
			continue
		}
		if sg.SigningKey != "" && g.generatedKey {
			k, err := parseRSAPEM([]byte(sg.SigningKey))
			if err != nil {
				s.opt.Events.Logf("error", "state file %s: group %s: signing key: %v", s.cfg.StateFile, g.cfg.Name, err)
				continue
			}
			if err := g.setSigner(k); err != nil {
				continue
			}
		}
		if now.Sub(sg.KEKCreated) >= s.clk.Wall(g.cfg.KEKLifetime) {
			s.opt.Events.Logf("info", "state file: group %s: the saved KEK expired; starting with new keys", g.cfg.Name)
			continue
		}
		kek := *sg.KEK
		kek.PublicKey, kek.Src, kek.Lifetime, kek.Ack = g.pubDER, s.cfg.Identity, g.cfg.KEKLifetime, g.ackType()
		g.kek, g.kekCreated, g.seq, g.nextSID, g.epoch = &kek, sg.KEKCreated, sg.Seq, sg.NextSID, sg.Epoch
		samePolicy := sg.Policy == hex.EncodeToString(g.policyDigest[:])
		g.gens = nil
		if samePolicy {
			for _, gen := range sg.Gens {
				g.gens = append(g.gens, tekGen{teks: gen.TEKs, created: gen.Created})
			}
			g.prune(now, s.clk.Wall)
		} else {
			g.rekeyNow = true
		}
		for _, m := range sg.Members {
			g.members[m.Address] = &member{address: m.Address, identity: m.Identity, registeredAt: m.RegisteredAt, registrations: m.Registrations, local: true}
		}
		s.opt.Events.Logf("info", "state file: group %s: took back KEK %x, %d TEKs, sequence %d, %d members (saved %s)%s",
			g.cfg.Name, kek.SPI[:4], countTEKs(g.gens), g.seq, len(g.members), st.Saved.Format(time.RFC3339),
			map[bool]string{true: "", false: "; the policy changed: new TEKs, rekeyed at once"}[samePolicy])
	}
}

func (s *Server) groupByID(id uint32) *group {
	for _, g := range s.groups {
		if g.cfg.ID == id {
			return g
		}
	}
	return nil
}

// setSigner replaces the group's signing key.
func (g *group) setSigner(k *rsa.PrivateKey) error {
	der, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		return err
	}
	g.signer, g.pubDER = k, der
	return nil
}
