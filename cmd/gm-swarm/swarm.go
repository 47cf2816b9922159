package main

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"net/netip"
	"runtime"
	"time"

	"github.com/getlab/getlab/gateway/gdoi"
	"github.com/getlab/getlab/gateway/ikev1"
	gdoiwire "github.com/getlab/getlab/gateway/wire/gdoi"
	"github.com/getlab/getlab/gateway/wire/isakmp"
	"github.com/getlab/getlab/harness/swarmreport"
)

// config is what a swarm plays: its flags (main.go).
type config struct {
	ks    []netip.AddrPort
	group uint32
	psk   string
	count int
	// prefix holds the members' addresses, from its second address on.
	prefix netip.Prefix
	// The phase-1 proposal every member makes.
	encryption, hash string
	dhGroup          int
	lifetime         time.Duration
	interop          gdoi.Interop
	gdoiVersion      gdoiwire.Version
	gdoiFeatures     []string
	// Pacing: at most concurrency registrations in flight, at most rate
	// started per second (0: as fast as slots free up).
	concurrency int
	rate        float64
	// retryInterval is how long a try waits before it sends its message
	// again; tries the tries per KS before the next one (or giving up).
	retryInterval time.Duration
	tries         int
	// exitAfterRekeys: stop once every member registered or gave up and
	// that many rekeys settled (every registered member took it, or
	// settle passed since its last copy); < 0 never.
	exitAfterRekeys int
	settle          time.Duration
	// reportPath is where the report goes ("-": standard output, at the
	// end only; "": nowhere), every reportEvery while the swarm runs.
	reportPath  string
	reportEvery time.Duration
}

// A swarm plays cfg.count group members, each a member at an address of
// cfg.prefix, over send; deliver takes what arrives for them.
type swarm struct {
	cfg     config
	ike     *ikev1.Config
	send    func(from, to netip.AddrPort, pkt []byte)
	now     func() time.Time
	st      *stats
	members []*member
	byAddr  map[netip.Addr]*member
	slots   chan struct{}
	// queues are the workers' inboxes: a member's datagrams always go to
	// the same worker, in the order they arrived, and members' crypto
	// (Diffie-Hellman, PUSH signatures) runs on every core.
	queues []chan datagram
	seed   maphash.Seed
}

type datagram struct {
	from netip.AddrPort
	to   *member
	b    []byte
}

func newSwarm(cfg config, send func(from, to netip.AddrPort, pkt []byte)) (*swarm, error) {
	suite, err := ikev1.ParseSuite(cfg.encryption, cfg.hash, cfg.dhGroup, cfg.lifetime)
	if err != nil {
		return nil, err
	}
	addrs, err := addresses(cfg.prefix, cfg.count)
	if err != nil {
		return nil, err
	}
	v := gdoiwire.VersionVID{Version: cfg.gdoiVersion, Features: cfg.gdoiFeatures}
	s := &swarm{
		cfg: cfg, send: send, now: time.Now,
		ike: &ikev1.Config{
			Suites: []ikev1.Suite{suite},
			// A load generator proposes what it is told, weak or not.
			AllowWeakDH: true,
			Auth:        ikev1.StaticPSK([]byte(cfg.psk)),
			// LocalID nil: each member's identity is its own address.
			DOI:       isakmp.DOIGDOI,
			DPD:       true,
			VendorIDs: [][]byte{v.Bytes()},
		},
		byAddr: make(map[netip.Addr]*member, len(addrs)),
		slots:  make(chan struct{}, max(cfg.concurrency, 1)),
		seed:   maphash.MakeSeed(),
	}
	s.st = newStats(func() time.Time { return s.now() })
	for _, a := range addrs {
		m := &member{s: s, addr: netip.AddrPortFrom(a, listenPort)}
		s.members = append(s.members, m)
		s.byAddr[a] = m
	}
	for range 2 * runtime.GOMAXPROCS(0) {
		s.queues = append(s.queues, make(chan datagram, 4096))
	}
	return s, nil
}

// listenPort is the GDOI port every member sends from and listens on.
const listenPort = 848

// addresses are the first n host addresses of prefix after its network
// address (IPv4: its broadcast address left out).
func addresses(prefix netip.Prefix, n int) ([]netip.Addr, error) {
	if !prefix.IsValid() {
		return nil, errors.New("no prefix for the members' addresses")
	}
	prefix = prefix.Masked()
	out := make([]netip.Addr, 0, n)
	for a := prefix.Addr().Next(); len(out) < n; a = a.Next() {
		if !prefix.Contains(a) || (a.Is4() && !prefix.Contains(a.Next()) && prefix.Bits() < 31) {
			return nil, fmt.Errorf("prefix %s holds %d member addresses, not %d", prefix, len(out), n)
		}
		out = append(out, a)
	}
	return out, nil
}

// deliver hands a datagram that arrived for to to its member's worker; b
// is the caller's no more. Datagrams for no member are counted.
func (s *swarm) deliver(from, to netip.AddrPort, b []byte) {
	m := s.byAddr[to.Addr().Unmap()]
	if m == nil {
		s.st.unexpected()
		return
	}
	q := s.queues[maphash.Comparable(s.seed, m.addr)%uint64(len(s.queues))]
	q <- datagram{from: from, to: m, b: b}
}

// work runs the workers until ctx ends.
func (s *swarm) work(ctx context.Context) {
	for _, q := range s.queues {
		go func() {
			for {
				select {
				case <-ctx.Done():
					return
				case d := <-q:
					d.to.handle(d.from, d.b)
				}
			}
		}()
	}
}

// pace starts the members' registrations in order, each once a slot is
// free (concurrency) and its turn at the rate has come.
func (s *swarm) pace(ctx context.Context) {
	start := s.now()
	for i, m := range s.members {
		select {
		case s.slots <- struct{}{}:
		case <-ctx.Done():
			return
		}
		if s.cfg.rate > 0 {
			at := start.Add(time.Duration(float64(i) / s.cfg.rate * float64(time.Second)))
			if d := at.Sub(s.now()); d > 0 {
				select {
				case <-time.After(d):
				case <-ctx.Done():
					return
				}
			}
		}
		m.register()
	}
}

// release frees the slot of a registration that ended.
func (s *swarm) release() {
	select {
	case <-s.slots:
	default:
	}
}

// run plays the swarm until the exit condition holds or ctx ends (its
// cause is the reason given), writing the report every cfg.reportEvery
// and once more at the end. It returns the final report.
func (s *swarm) run(ctx context.Context) (*swarmreport.Report, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	started := s.now()
	s.work(ctx)
	go s.pace(ctx)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	lastWrite := time.Time{}
	for {
		stopped := ""
		select {
		case <-ctx.Done():
			stopped = "stopped"
			if c := context.Cause(ctx); c != nil {
				stopped = c.Error()
			}
		case <-tick.C:
			if s.done() {
				stopped = s.doneReason()
			}
		}
		if stopped != "" || s.cfg.reportPath != "-" && s.now().Sub(lastWrite) >= s.cfg.reportEvery {
			r := s.report(started, stopped)
			if s.cfg.reportPath != "" {
				if err := r.Write(s.cfg.reportPath); err != nil && stopped != "" {
					return r, fmt.Errorf("writing the report: %w", err)
				}
			}
			lastWrite = s.now()
			if stopped != "" {
				return r, nil
			}
		}
	}
}

// done is the exit condition: every member registered or gave up, and
// cfg.exitAfterRekeys rekeys settled.
func (s *swarm) done() bool {
	if s.cfg.exitAfterRekeys < 0 {
		return false
	}
	p := s.st.progress(s.cfg.settle)
	return p.registered+p.failed == len(s.members) && p.settled >= s.cfg.exitAfterRekeys
}

func (s *swarm) doneReason() string {
	if s.cfg.exitAfterRekeys == 0 {
		return "every GM registered or gave up"
	}
	return fmt.Sprintf("every GM registered or gave up, and %d rekey(s) settled", s.cfg.exitAfterRekeys)
}

// report is the swarm's report now; stopped, when not "", makes it the
// final one.
func (s *swarm) report(started time.Time, stopped string) *swarmreport.Report {
	r := &swarmreport.Report{
		Group: s.cfg.group, GMs: len(s.members), Prefix: s.cfg.prefix.String(),
		Proposal:    fmt.Sprintf("%s/%s/group%d", s.cfg.encryption, s.cfg.hash, s.cfg.dhGroup),
		Concurrency: s.cfg.concurrency, Rate: s.cfg.rate,
		Started: started, Updated: s.now(), Final: stopped != "", Stopped: stopped,
	}
	for _, k := range s.cfg.ks {
		r.KS = append(r.KS, k.Addr().String())
	}
	s.st.fill(r)
	return r
}
