// Package keylog writes getvpnd's key log: one line per secret the daemon
// establishes (phase-1 SAs, KEKs, TEKs), in the format pcap/README.md
// documents, so the bench and Wireshark can decrypt captures — what
// SSLKEYLOGFILE is to TLS. Never enable it outside a lab.
package keylog

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/getlab/getlab/gateway/gdoi"
	"github.com/getlab/getlab/gateway/ikev1"
	gdoiwire "github.com/getlab/getlab/gateway/wire/gdoi"
)

// Writer appends records to a key-log file. The zero Writer and a nil
// *Writer write nothing.
type Writer struct {
	mu   sync.Mutex
	f    *os.File
	seen map[string]bool
}

// Open opens (creating, mode 0600) the key log at path for appending; an
// empty path returns a nil Writer.
func Open(path string) (*Writer, error) {
	if path == "" {
		return nil, nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("keylog: %w", err)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, fmt.Errorf("keylog: %w", err)
	}
	w := &Writer{f: f, seen: map[string]bool{}}
	if st, err := f.Stat(); err == nil && st.Size() == 0 {
		fmt.Fprintln(f, "# getlab key log v1")
	}
	return w, nil
}

// Close closes the file.
func (w *Writer) Close() error {
	if w == nil || w.f == nil {
		return nil
	}
	return w.f.Close()
}

// enabled says whether w writes anywhere (a nil Writer is a valid one
// that logs nothing).
func (w *Writer) enabled() bool { return w != nil && w.f != nil }

func (w *Writer) line(s string) {
	if !w.enabled() {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.seen[s] {
		return // a KEK or TEK installed again (re-registration) is logged once
	}
	w.seen[s] = true
	fmt.Fprintln(w.f, s)
}

// IKE logs a phase-1 SA.
func (w *Writer) IKE(sa *ikev1.SA) {
	if !w.enabled() {
		return
	}
	w.line(fmt.Sprintf("IKEV1 icookie=%x rcookie=%x enc=%s key=%x iv=%x hash=%s skeyid_a=%x",
		sa.ICookie, sa.RCookie, sa.Suite.KeyLogCipher(), sa.EncKey, sa.LastIV, sa.Suite.HashName(), sa.SKEYIDa))
}

// Policy logs a group's KEK and TEKs.
func (w *Writer) Policy(group string, p *gdoi.Policy) {
	if !w.enabled() {
		return // no formatting either: a KS without a key log calls this per registration
	}
	if k := p.KEK; k != nil && k.Algorithm == gdoiwire.KEKAlgAES {
		w.line(fmt.Sprintf("GDOI_KEK spi=%x enc=aes-cbc key=%x iv=%x group=%s", k.SPI, k.Key, k.IV, field(group)))
	}
	for _, t := range p.TEKs {
		s := fmt.Sprintf("ESP spi=%08x transform=%s key=%x", t.SPI, t.Transform, t.EncKey)
		if len(t.AuthKey) > 0 {
			s += fmt.Sprintf(" authkey=%x", t.AuthKey)
		}
		w.line(s + " group=" + field(group))
	}
}

// field keeps a value from breaking the space-separated record.
func field(s string) string { return strings.Join(strings.Fields(s), "_") }
