// Command gm-swarm plays N GETVPN group members against a key server, any
// implementation, and measures it: each member registers from its own
// address (IKEv1 main mode with a pre-shared key, then GROUPKEY-PULL),
// keeps its KEK, takes the GROUPKEY-PUSH rekeys sent to it (decrypted,
// signature and sequence number checked) and acknowledges them (RFC 8263)
// when the KEK asks. It writes a JSON report (harness/swarmreport):
// registrations attempted, succeeded and failed, registrations per
// second, latency percentiles from main mode message 1 to PULL message 4,
// and per rekey the fan-out the swarm saw and the GMs that took it.
//
//	gm-swarm --ks 192.0.2.1 --psk KEY --count 1000 --prefix 198.18.0.0/18 --interface eth1
//
// The members' addresses are the prefix's, from its second on: with
// --interface the swarm makes the whole prefix local on that interface (a
// local route, as `ip route add local PREFIX dev IF` does), so one UDP
// socket on port 848 receives for every member and sends from each one's
// address (IP_PKTINFO). The key server must route the prefix to the
// swarm's node.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/getlab/getlab/gateway/gdoi"
	gdoiwire "github.com/getlab/getlab/gateway/wire/gdoi"
	"github.com/getlab/getlab/harness/swarmreport"
)

// version is set at build time (-ldflags "-X main.version=...").
var version = "dev"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

const usage = `gm-swarm plays N GETVPN group members against a key server and measures it.

Each member registers from its own address of --prefix (IKEv1 main mode with
the pre-shared key, then GROUPKEY-PULL), takes the rekeys (GROUPKEY-PUSH) sent
to it and acknowledges them when the KEK asks (RFC 8263). The JSON report
(--report) is rewritten every --report-every and once more at the end: on
the exit condition (--exit-after-rekeys), after --duration, or on SIGTERM or
SIGINT.

Usage:
  gm-swarm --ks ADDR[,ADDR...] --psk KEY --prefix PREFIX [flags]

Flags:
`

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("gm-swarm", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usage)
		fs.PrintDefaults()
	}
	var (
		ks          = fs.String("ks", "", "key server `addresses`, comma-separated, first preferred (port 848, or ADDR:PORT)")
		group       = fs.Uint("group", 1234, "GDOI group `id`")
		psk         = fs.String("psk", "", "IKE pre-shared `key` of every member")
		count       = fs.Int("count", 1000, "number of group members `N`")
		prefix      = fs.String("prefix", "", "`prefix` the members' addresses come from, from its second address on")
		iface       = fs.String("interface", "", "make --prefix local on `interface` (a local route); empty: the addresses are local already")
		concurrency = fs.Int("concurrency", 64, "at most `C` registrations in flight")
		rate        = fs.Float64("rate", 0, "at most `R` registrations started per second (0: as fast as --concurrency allows)")
		retry       = fs.Duration("retry-interval", 5*time.Second, "send a message again after this long without an answer")
		tries       = fs.Int("tries", 4, "tries per key server (the first and the retransmissions) before the next one, or giving up")
		enc         = fs.String("encryption", "aes256", "phase-1 encryption: aes128, aes192, aes256 or 3des")
		hash        = fs.String("hash", "sha256", "phase-1 hash: sha1, sha256, sha384 or sha512")
		dh          = fs.Int("dh-group", 14, "phase-1 Diffie-Hellman group: 2, 5, 14, 19 or 20")
		lifetime    = fs.Duration("lifetime", 1200*time.Second, "phase-1 SA lifetime proposed")
		profile     = fs.String("profile", "rfc", "the group's interop profile: rfc, gdoid or gdoid-rfcwire")
		gdoiVersion = fs.String("gdoi-version", "1.0.3", "GDOI version announced in main mode (messages 3)")
		features    = fs.String("gdoi-features", "gdoi-interop-ack", "GDOI features announced, comma-separated")
		exitRekeys  = fs.Int("exit-after-rekeys", -1, "exit once every member registered or gave up and `R` rekeys settled (0: after registration; -1: never)")
		settle      = fs.Duration("rekey-settle", 5*time.Second, "a rekey settles when every registered member took it, or this long after its last copy")
		duration    = fs.Duration("duration", 0, "exit after this long (0: no limit)")
		reportPath  = fs.String("report", swarmreport.NodeReport, "write the JSON report to `file` (- for standard output, at the end only)")
		reportEvery = fs.Duration("report-every", time.Second, "rewrite the report this often while running")
		rcvbuf      = fs.Int("socket-buffer", 16<<20, "receive buffer of the GDOI socket in `octets` (a rekey burst to every member)")
		showVersion = fs.Bool("version", false, "print the version and exit")
	)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *showVersion {
		fmt.Fprintln(stdout, "gm-swarm", version)
		return 0
	}
	bad := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "gm-swarm: "+format+"\n", a...)
		return 2
	}
	if fs.NArg() > 0 {
		return bad("unexpected argument %q", fs.Arg(0))
	}
	cfg := config{
		group: uint32(*group), psk: *psk, count: *count,
		encryption: *enc, hash: *hash, dhGroup: *dh, lifetime: *lifetime,
		concurrency: *concurrency, rate: *rate, retryInterval: *retry, tries: *tries,
		exitAfterRekeys: *exitRekeys, settle: *settle, reportPath: *reportPath, reportEvery: *reportEvery,
	}
	var err error
	if cfg.ks, err = parseKSList(*ks); err != nil {
		return bad("--ks: %v", err)
	}
	if *psk == "" {
		return bad("--psk: a pre-shared key is needed")
	}
	if *group == 0 || *group > 1<<32-1 {
		return bad("--group: %d is not a group id (1 to 2^32-1)", *group)
	}
	if *count < 1 || *concurrency < 1 || *tries < 1 || *retry <= 0 {
		return bad("--count, --concurrency, --tries and --retry-interval must be positive")
	}
	if cfg.prefix, err = netip.ParsePrefix(*prefix); err != nil {
		return bad("--prefix: %v", err)
	}
	var ok bool
	if cfg.interop, ok = gdoi.InteropByName(*profile); !ok {
		return bad("--profile: unknown interop profile %q", *profile)
	}
	if cfg.gdoiVersion, err = gdoiwire.ParseVersion(*gdoiVersion); err != nil {
		return bad("--gdoi-version: %v", err)
	}
	if *features != "" {
		cfg.gdoiFeatures = strings.Split(*features, ",")
	}

	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		if s, ok := <-sigs; ok {
			cancel(errors.New(signalName(s)))
		}
	}()
	if *duration > 0 {
		var stop context.CancelFunc
		ctx, stop = context.WithTimeoutCause(ctx, *duration, fmt.Errorf("duration %s", *duration))
		defer stop()
	}

	n, err := listen(cfg.prefix, *iface, *rcvbuf)
	if err != nil {
		fmt.Fprintf(stderr, "gm-swarm: %v\n", err)
		return 1
	}
	defer n.Close()
	s, err := newSwarm(cfg, n.send)
	if err != nil {
		return bad("%v", err)
	}
	go n.serve(s.deliver)
	fmt.Fprintf(stderr, "gm-swarm: %d members from %s registering to %s (%s/%s/group %d), at most %d in flight\n",
		cfg.count, cfg.prefix, *ks, cfg.encryption, cfg.hash, cfg.dhGroup, cfg.concurrency)
	r, err := s.run(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "gm-swarm: %v\n", err)
		return 1
	}
	fmt.Fprintf(stderr, "gm-swarm: %s: %d of %d registered (%d failed) at %.1f/s, latency p50 %.1f ms p99 %.1f ms; %d rekeys seen\n",
		r.Stopped, r.Registrations.Succeeded, r.GMs, r.Registrations.Failed, r.Registrations.PerSecond,
		r.Registrations.Latency.P50, r.Registrations.Latency.P99, len(r.Rekeys))
	return 0
}

// signalName names a signal the way a report says why the swarm stopped.
func signalName(s os.Signal) string {
	switch s {
	case syscall.SIGTERM:
		return "SIGTERM"
	case syscall.SIGINT:
		return "SIGINT"
	}
	return s.String()
}

// parseKSList reads "192.0.2.1,192.0.2.2:1848".
func parseKSList(s string) ([]netip.AddrPort, error) {
	if s == "" {
		return nil, errors.New("at least one key server address is needed")
	}
	var out []netip.AddrPort
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if ap, err := netip.ParseAddrPort(f); err == nil {
			out = append(out, ap)
			continue
		}
		a, err := netip.ParseAddr(f)
		if err != nil {
			return nil, fmt.Errorf("%q is neither an address nor address:port", f)
		}
		out = append(out, netip.AddrPortFrom(a, listenPort))
	}
	return out, nil
}
