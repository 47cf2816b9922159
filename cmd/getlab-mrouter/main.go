// Command getlab-mrouter is the bench's static multicast router: it
// forwards IPv4 multicast between the interfaces of its node by the routes
// of an smcroute.conf (harness/mroute), in user space, because the
// kernel here is built without multicast routing and smcrouted cannot
// install a route. Its flags are smcrouted's where they mean something to
// a static router, so a topology node's cmd is the same for both:
//
//	getlab-mrouter [-n] [-N] [-l LEVEL] [-f /etc/smcroute.conf]
//
// and, like smcroutectl, inside the node:
//
//	getlab-mrouter show
//	getlab-mrouter add IIF [SOURCE] GROUP OIF [OIF...]
//	getlab-mrouter remove IIF [SOURCE] GROUP
package main

import (
	"context"
	"encoding/json"
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

	"github.com/getlab/getlab/harness/mroute"
	"github.com/getlab/getlab/internal/linkup"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

const usage = `getlab-mrouter forwards IPv4 multicast by static routes (smcroute.conf syntax).

Usage:
  getlab-mrouter [flags]                         run the router
  getlab-mrouter show                            routes and counters
  getlab-mrouter add IIF [SOURCE] GROUP OIF...   add a route
  getlab-mrouter remove IIF [SOURCE] GROUP       remove a route

Flags:
`

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		if err := control(args, stdout); err != nil {
			fmt.Fprintln(stderr, "getlab-mrouter:", err)
			return 1
		}
		return 0
	}
	fs := flag.NewFlagSet("getlab-mrouter", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage); fs.PrintDefaults() }
	conf := fs.String("f", "/etc/smcroute.conf", "configuration file (smcroute syntax: phyint, mroute)")
	fs.Bool("n", true, "run in the foreground (smcrouted's flag; always so)")
	fs.Bool("N", true, "only the phyints the file enables route (smcrouted's flag; always so)")
	fs.String("l", "notice", "log level (smcrouted's flag; route changes are always logged)")
	wait := fs.Duration("wait", 30*time.Second, "how long to wait for the interfaces to appear")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if err := serve(*conf, *wait, stderr); err != nil {
		fmt.Fprintln(stderr, "getlab-mrouter:", err)
		return 1
	}
	return 0
}

func serve(path string, wait time.Duration, stderr io.Writer) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	cfg, err := mroute.ParseConfig(b, path)
	if err != nil {
		return err
	}
	logf := func(format string, a ...any) { fmt.Fprintf(stderr, "getlab-mrouter: "+format+"\n", a...) }
	for _, n := range cfg.Phyints {
		if err := linkup.Wait(n, wait, false); err != nil {
			return err
		}
	}
	r, err := mroute.Open(cfg.Phyints, mroute.NewTable(cfg.Routes), wait, logf)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := os.MkdirAll(filepath.Dir(mroute.NodeControlSocket), 0o755); err != nil {
		return err
	}
	_ = os.Remove(mroute.NodeControlSocket)
	ln, err := net.Listen("unix", mroute.NodeControlSocket)
	if err != nil {
		return fmt.Errorf("control socket: %w", err)
	}
	srv := &http.Server{Handler: mroute.Handler(r), ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	defer srv.Close()
	for _, rt := range cfg.Routes {
		logf("route %s", rt)
	}
	logf("routing multicast on %s, control socket %s", strings.Join(cfg.Phyints, ", "), mroute.NodeControlSocket)
	if err := r.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

// control runs a smcroutectl-like command against the router of this
// node.
func control(args []string, stdout io.Writer) error {
	c := mroute.NewClient(mroute.NodeControlSocket)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	switch args[0] {
	case "show":
		s, err := c.State(ctx)
		if err != nil {
			return err
		}
		if len(args) > 1 && args[1] == "--json" {
			return json.NewEncoder(stdout).Encode(s)
		}
		for _, r := range s.Routes {
			fmt.Fprintf(stdout, "%-60s %8d packets %10d octets\n", r.Route, r.Packets, r.Octets)
		}
		for k, v := range s.Unrouted {
			fmt.Fprintf(stdout, "not routed (%s): %d\n", k, v)
		}
		for k, v := range s.SendErrors {
			fmt.Fprintf(stdout, "refused by %s: %d\n", k, v)
		}
		return nil
	case "add":
		r, err := mroute.ParseRoute(args[1:], false)
		if err != nil {
			return fmt.Errorf("add: %w", err)
		}
		return c.Add(ctx, r)
	case "remove", "del":
		k, err := mroute.ParseKey(args[1:])
		if err != nil {
			return fmt.Errorf("remove: %w", err)
		}
		return c.Remove(ctx, k)
	}
	return fmt.Errorf("%q: show, add or remove", args[0])
}
