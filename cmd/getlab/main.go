// Command getlab brings getlab topologies up and down and works inside them.
//
//	getlab up -t FILE          deploy a containerlab topology (netns runtime)
//	getlab down [LAB] [--all]  destroy one lab, or every getlab lab on the machine
//	getlab exec [--lab LAB] NODE -- CMD [ARG...]
//	getlab ps [--lab LAB]      nodes, state, pid, log path
//	getlab report [DIR]        one-screen summary of a suite run, and DIR/index.html
//	getlab matrix [DIR]        the interop matrix of `make interop`'s runs
//	getlab capture [--lab LAB] [-o FILE] [--for D]
//	getlab pcap FILE [--keys KEYLOG] [--json]
//	getlab bundle [--report FILE|DIR] [-o FILE] SPEC|DIR   a failed spec's bug-report bundle
//	getlab bundle --failed [DIR]                           one for every failed spec of a run
//	getlab repro [--keep] [--only] [--out DIR] BUNDLE      run a bundle's spec again, compare the failure
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/getlab/getlab/harness/docker"
	"github.com/getlab/getlab/harness/netns"
	"github.com/getlab/getlab/harness/topo"
)

const usage = `usage: getlab COMMAND [ARGS]

  up -t FILE [--runtime netns|docker] [--keep-on-error]
                                   deploy a containerlab topology and leave it running
  down [LAB | -t FILE | --all]     destroy a lab (the only one, if not named), or all of them
  exec [--lab LAB] NODE -- CMD...  run a command inside a node
  ps [--lab LAB]                   list labs and their nodes
  report [DIR|report.json]         one-screen summary of a suite run (default reports/out)
                                   and the HTML report beside it (DIR/index.html, DIR/html/)
  matrix [DIR | --pairings]        write DIR/matrix.json and matrix.html from DIR/<ks>__<gm>/report.json
                                   (default reports/out/interop); --pairings lists the pairings to run
  capture [--lab LAB] [-o FILE] [--for D]  record every link of a lab into one pcapng file
  pcap FILE [--keys KEYLOG] [--json]  decode a capture (pcapng or pcap): one line per packet, decrypted with the key log
  bundle [--report FILE|DIR] [-o FILE] SPEC|DIR
                                   write a failed spec's bug-report bundle (.tar.gz): manifest, report
                                   excerpt, artifacts, topology and configs as run, wire schedules, probe;
                                   SPEC names it in the run's report.json, DIR is its artifact folder
  bundle --failed [DIR] [-o FOLDER]  a bundle for every failed spec of a run (default DIR/bundles/)
  repro [--keep] [--only] [--out DIR] BUNDLE
                                   run a bundle's spec again here, with its run's KS=/GM=; exit 0 if it
                                   failed the same way; --keep leaves the lab up

Labs live under $GETLAB_LABS (default /tmp/getlab); node binaries come from
$GETLAB_BIN (default bin/ of the source tree). Commands that touch namespaces
need root.
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	cmd, args := os.Args[1], os.Args[2:]
	run, ok := map[string]func([]string) error{
		"up":      cmdUp,
		"down":    cmdDown,
		"exec":    cmdExec,
		"ps":      cmdPs,
		"report":  cmdReport,
		"matrix":  cmdMatrix,
		"pcap":    cmdPcap,
		"capture": cmdCapture,
		"bundle":  cmdBundle,
		"repro":   cmdRepro,
	}[cmd]
	if !ok {
		if cmd == "-h" || cmd == "--help" || cmd == "help" {
			fmt.Print(usage)
			return
		}
		fmt.Fprintf(os.Stderr, "getlab: unknown command %q\n\n%s", cmd, usage)
		os.Exit(2)
	}
	if cmd != "report" && cmd != "matrix" && cmd != "pcap" && cmd != "bundle" && os.Geteuid() != 0 {
		fmt.Fprintf(os.Stderr, "getlab %s: needs root (it creates network namespaces); run it as root or with sudo\n", cmd)
		os.Exit(2)
	}
	if err := run(args); err != nil {
		// `getlab exec` ends as its command did; every other command
		// says what failed.
		var exit *exec.ExitError
		if cmd == "exec" && errors.As(err, &exit) {
			os.Exit(exit.ExitCode())
		}
		fmt.Fprintf(os.Stderr, "getlab %s: %v\n", cmd, err)
		os.Exit(1)
	}
}

func cmdUp(args []string) error {
	fs := flag.NewFlagSet("up", flag.ExitOnError)
	file := fs.String("t", "", "topology file (.clab.yml)")
	runtime := fs.String("runtime", envOr("GETLAB_RUNTIME", "netns"), "runtime: netns or docker")
	keep := fs.Bool("keep-on-error", false, "if bring-up fails, keep what was created (to look inside) instead of removing it")
	_ = fs.Parse(args)
	if *file == "" {
		return errors.New("-t FILE is required")
	}
	// A node process that exits within a second of its start fails the
	// bring-up, with the tail of its log.
	opts := netns.Options{Detached: true, WatchStart: time.Second, KeepOnError: *keep}
	switch *runtime {
	case "netns":
	case "docker":
		r, err := docker.New(context.Background())
		if err != nil {
			return err
		}
		opts.Containers = r
	default:
		return fmt.Errorf("unknown runtime %q (netns or docker)", *runtime)
	}
	t, err := topo.Load(*file)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	start := time.Now()
	lab, err := netns.Deploy(ctx, t, opts)
	if de, ok := errors.AsType[*netns.DeployError](err); ok && de.Kept {
		printNodes(os.Stdout, []*netns.Lab{lab})
		return fmt.Errorf("%v\nlab %s kept as it was; remove it with: %s down %s", de.Err, de.Lab, os.Args[0], de.Lab)
	}
	if err != nil {
		return err
	}
	fmt.Printf("lab %s (%s, %s runtime) up in %v\n", lab.ID, lab.Name, lab.Runtime, time.Since(start).Round(time.Millisecond))
	printNodes(os.Stdout, []*netns.Lab{lab})
	return nil
}

func cmdDown(args []string) error {
	fs := flag.NewFlagSet("down", flag.ExitOnError)
	all := fs.Bool("all", false, "destroy every getlab lab on this machine, stale ones included")
	file := fs.String("t", "", "destroy the labs deployed from this topology file")
	_ = fs.Parse(args)
	if *all {
		removed, err := netns.DestroyAll(destroyOptions())
		for _, id := range removed {
			fmt.Println("removed", id)
		}
		if len(removed) == 0 && err == nil {
			fmt.Println("no getlab labs")
		}
		return err
	}
	labs, err := pickLabs(fs.Arg(0), *file)
	if err != nil {
		return err
	}
	for _, l := range labs {
		if err := l.Destroy(); err != nil {
			return err
		}
		fmt.Println("removed", l.ID)
	}
	return nil
}

func cmdExec(args []string) error {
	fs := flag.NewFlagSet("exec", flag.ExitOnError)
	labID := fs.String("lab", "", "lab ID (default: the only running lab)")
	_ = fs.Parse(args)
	rest := fs.Args()
	if len(rest) < 2 {
		return errors.New("usage: getlab exec [--lab LAB] NODE -- CMD [ARG...]")
	}
	node, argv := rest[0], rest[1:]
	if argv[0] == "--" {
		argv = argv[1:]
	}
	if len(argv) == 0 {
		return errors.New("usage: getlab exec [--lab LAB] NODE -- CMD [ARG...]")
	}
	labs, err := pickLabs(*labID, "")
	if err != nil {
		return err
	}
	return labs[0].Exec(context.Background(), node, argv, os.Stdin, os.Stdout, os.Stderr)
}

func cmdPs(args []string) error {
	fs := flag.NewFlagSet("ps", flag.ExitOnError)
	labID := fs.String("lab", "", "only this lab")
	_ = fs.Parse(args)
	var labs []*netns.Lab
	var err error
	if *labID != "" {
		labs, err = pickLabs(*labID, "")
	} else {
		labs, err = netns.List(netns.Options{})
	}
	if err != nil {
		return err
	}
	if len(labs) == 0 {
		fmt.Println("no getlab labs")
		return nil
	}
	printNodes(os.Stdout, labs)
	return nil
}

// pickLabs resolves which labs a command means: the one named, those from a
// topology file, or the only lab there is.
func pickLabs(id, file string) ([]*netns.Lab, error) {
	if id != "" {
		l, err := netns.Open(id, destroyOptions())
		if err != nil {
			return nil, err
		}
		return []*netns.Lab{l}, nil
	}
	labs, err := netns.List(destroyOptions())
	if err != nil {
		return nil, err
	}
	if file != "" {
		t, err := topo.Load(file)
		if err != nil {
			return nil, err
		}
		var match []*netns.Lab
		for _, l := range labs {
			if l.File == t.File {
				match = append(match, l)
			}
		}
		if len(match) == 0 {
			return nil, fmt.Errorf("no lab deployed from %s", t.File)
		}
		return match, nil
	}
	switch len(labs) {
	case 0:
		return nil, errors.New("no getlab labs")
	case 1:
		return labs, nil
	}
	return nil, fmt.Errorf("%d labs are up; name one (getlab ps lists them)", len(labs))
}

func printNodes(w io.Writer, labs []*netns.Lab) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "LAB\tNODE\tKIND\tSTATE\tPID\tLOG")
	for _, l := range labs {
		for _, n := range l.Nodes {
			pid := "-"
			if n.PID != 0 {
				pid = fmt.Sprint(n.PID)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", l.ID, n.Name, n.Kind, n.State(), pid, n.Log)
		}
	}
	tw.Flush()
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// destroyOptions are the options labs are opened with: with the docker
// runtime when a Docker engine answers, so that a docker lab's containers
// are removed with it (and `down --all` removes orphaned ones).
func destroyOptions() netns.Options {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if r, err := docker.New(ctx); err == nil {
		return netns.Options{Containers: r}
	}
	return netns.Options{}
}
