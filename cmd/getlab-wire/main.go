// Command getlab-wire is the bench's impairment node: a bump in the wire
// between two interfaces of its node (eth1 and eth2) that forwards every
// frame and, by rules matched on what the project's decoders read in the
// frames (addresses, ports, ISAKMP exchange and message, GROUPKEY-PUSH
// SEQ, ESP SPI and sequence number), delays, jitters, reorders,
// duplicates, corrupts, rate-limits, loses (at random, every Nth, in
// Gilbert-Elliott bursts), clamps the MTU (ICMP or fragments) or holds
// frames until the bench releases them (harness/wire). The kernel here
// has no netem: this is the bench's netem.
//
//	getlab-wire [--rules rules.yaml] [--seed N]
//
// Every decision a rule makes is written to the decision log (a JSON
// object a line, with the frame's index), and the rules, holds, keys and
// counters are driven through the control socket (harness/wire.Client).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/getlab/getlab/harness/wire"
	"github.com/getlab/getlab/internal/linkup"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stderr))
}

const usage = `getlab-wire forwards frames between two interfaces and impairs them by rules.

Usage:
  getlab-wire [flags]

Flags:
`

func run(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("getlab-wire", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage); fs.PrintDefaults() }
	ports := fs.String("ports", "eth1,eth2", "the two interfaces, comma-separated")
	rulesPath := fs.String("rules", "", "rules file (YAML); none: forward everything untouched until rules are set through the control socket")
	logPath := fs.String("log", "/run/getlab-wire/decisions.jsonl", "decision log (JSON lines)")
	ctlPath := fs.String("control", wire.NodeControlSocket, "control socket")
	wait := fs.Duration("wait", 30*time.Second, "how long to wait for the interfaces to appear")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if err := serve(*ports, *rulesPath, *logPath, *ctlPath, *wait); err != nil {
		fmt.Fprintln(stderr, "getlab-wire:", err)
		return 1
	}
	return 0
}

func serve(ports, rulesPath, logPath, ctlPath string, wait time.Duration) error {
	names := strings.Split(ports, ",")
	if len(names) != 2 || names[0] == "" || names[1] == "" || names[0] == names[1] {
		return fmt.Errorf("--ports %q: two interfaces", ports)
	}
	var rules *wire.Rules
	if rulesPath != "" {
		b, err := os.ReadFile(rulesPath)
		if err != nil {
			return err
		}
		if rules, err = wire.ParseRules(b, rulesPath); err != nil {
			return err
		}
	}
	for _, n := range names {
		if err := linkup.Wait(n, wait, true); err != nil {
			return err
		}
	}
	var logw io.Writer
	if logPath != "" {
		if err := os.MkdirAll(filepath.Dir(logPath), 0o755); err != nil {
			return err
		}
		f, err := os.Create(logPath)
		if err != nil {
			return err
		}
		defer f.Close()
		logw = f
	}
	w, err := wire.Open(wire.Options{Ports: [2]string{names[0], names[1]}, Rules: rules, Log: logw})
	if err != nil {
		return err
	}
	defer w.Close()

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := os.MkdirAll(filepath.Dir(ctlPath), 0o755); err != nil {
		return err
	}
	_ = os.Remove(ctlPath)
	ln, err := net.Listen("unix", ctlPath)
	if err != nil {
		return fmt.Errorf("control socket: %w", err)
	}
	srv := &http.Server{Handler: w.Handler(), ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	defer srv.Close()
	fmt.Fprintf(os.Stderr, "getlab-wire: forwarding %s <-> %s, control socket %s\n", names[0], names[1], ctlPath)
	if err := w.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}
