// Package swarmreport is the GM swarm's report as the bench reads it: the JSON
// document cmd/gm-swarm writes while it plays N group members against a
// key server, and where a swarm node keeps it. It holds no protocol code,
// so that a suite judges a key server from this report and the wire
// without importing the daemon's exchanges (harness/boundary).
package swarmreport

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// NodeReport is where a swarm node writes its report in its own file view
// (a suite reads it through /proc/<pid>/root).
const NodeReport = "/run/gm-swarm/report.json"

// Report is the swarm's account of a run. It is rewritten while the swarm
// runs (Final false) and once more when it stops (Final true).
type Report struct {
	// KS are the key servers the GMs register to, first preferred.
	KS    []string `json:"ks"`
	Group uint32   `json:"group"`
	// GMs is the number of group members played, Prefix where their
	// addresses come from (one address each, from the prefix's second).
	GMs    int    `json:"gms"`
	Prefix string `json:"prefix"`
	// Proposal is the phase-1 proposal every GM makes
	// ("aes256/sha256/group14").
	Proposal string `json:"proposal"`
	// Concurrency and Rate are the pacing: at most Concurrency
	// registrations in flight, at most Rate started per second (0: no
	// limit).
	Concurrency int     `json:"concurrency"`
	Rate        float64 `json:"rate"`

	Started time.Time `json:"started"`
	Updated time.Time `json:"updated"`
	// Final is set in the last report, written when the swarm stops;
	// Stopped says why ("all registered and 1 rekey seen", "SIGTERM",
	// "duration").
	Final   bool   `json:"final"`
	Stopped string `json:"stopped,omitempty"`

	Registrations Registrations `json:"registrations"`
	Rekeys        []Rekey       `json:"rekeys"`
	// Failures are the registrations that gave up (every try with every
	// KS failed), by the reason of their last error; Errors every error a
	// try ended with, retried or not.
	Failures map[string]int `json:"failures"`
	Errors   map[string]int `json:"errors"`
	// Unexpected counts datagrams no GM could place (an unknown
	// destination, an exchange no GM has in flight).
	Unexpected int `json:"unexpected"`
}

// Registrations are the GMs' first registrations: IKEv1 main mode and
// GROUPKEY-PULL with one of the key servers.
type Registrations struct {
	// Attempted is the number of GMs that have started registering;
	// Succeeded those holding a KEK from PULL 4; Failed those that gave up;
	// InFlight those still trying.
	Attempted int `json:"attempted"`
	Succeeded int `json:"succeeded"`
	Failed    int `json:"failed"`
	InFlight  int `json:"in_flight"`
	// Tries counts every main mode or PULL started afresh; Retransmissions
	// the messages sent again after a silent retry interval.
	Tries           int `json:"tries"`
	Retransmissions int `json:"retransmissions"`
	// Seconds is from the first main mode message 1 to the last PULL 4;
	// PerSecond is Succeeded over it.
	Seconds   float64 `json:"seconds"`
	PerSecond float64 `json:"per_second"`
	// Latency is per registration, from main mode message 1 (of the first
	// try) to PULL message 4, in milliseconds.
	Latency Percentiles `json:"latency_ms"`
}

// Percentiles of a set of durations, in milliseconds (nearest rank).
type Percentiles struct {
	N   int     `json:"n"`
	P50 float64 `json:"p50"`
	P90 float64 `json:"p90"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
}

// PercentilesOf computes the percentiles of ds (nearest rank); ds is
// sorted in place.
func PercentilesOf(ds []time.Duration) Percentiles {
	if len(ds) == 0 {
		return Percentiles{}
	}
	slices.Sort(ds)
	rank := func(p float64) float64 {
		i := int(p*float64(len(ds))+0.999999) - 1 // ceil(p*n) - 1
		i = min(max(i, 0), len(ds)-1)
		return ms(ds[i])
	}
	return Percentiles{N: len(ds), P50: rank(0.50), P90: rank(0.90), P99: rank(0.99), Max: ms(ds[len(ds)-1])}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// Rekey is one GROUPKEY-PUSH sequence number as the swarm saw it.
type Rekey struct {
	Seq uint32 `json:"seq"`
	// FirstPush is when the first GM received it; LastAck when the last
	// acknowledgement of it was sent (zero when none was asked for);
	// LastTaken when the last GM took it.
	FirstPush time.Time `json:"first_push"`
	LastTaken time.Time `json:"last_taken"`
	LastAck   time.Time `json:"last_ack,omitzero"`
	// FanOutMS is the fan-out as the swarm sees it, first PUSH received
	// to last acknowledgement sent (to the last GM taking it when no
	// acknowledgement is asked for), in milliseconds.
	FanOutMS float64 `json:"fan_out_ms"`
	// GMs is the number of GMs that took it (decrypted, signature
	// verified, sequence number larger than their last); Acked those
	// that acknowledged it (RFC 8263) because the KEK asks for it.
	GMs   int `json:"gms"`
	Acked int `json:"acked"`
	// Copies counts every copy received (retransmissions and replays
	// included), Rejected those refused (replayed, bad signature, ...).
	Copies   int `json:"copies"`
	Rejected int `json:"rejected"`
	// NewKEK: the PUSH replaced the KEK.
	NewKEK bool `json:"new_kek,omitempty"`
}

// Write writes r to path atomically (a reader never sees half a report);
// "-" writes it to standard output.
func (r *Report) Write(path string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	b = append(b, '\n')
	if path == "-" {
		_, err = os.Stdout.Write(b)
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// Read reads a report written by Write.
func Read(path string) (*Report, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r Report
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("swarm report %s: %w", path, err)
	}
	return &r, nil
}

// Rekey returns the rekey with sequence number seq, or nil.
func (r *Report) Rekey(seq uint32) *Rekey {
	for i := range r.Rekeys {
		if r.Rekeys[i].Seq == seq {
			return &r.Rekeys[i]
		}
	}
	return nil
}
