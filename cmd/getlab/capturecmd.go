package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/getlab/getlab/harness/topo"
	"github.com/getlab/getlab/pcap"
)

// cmdCapture records every link of a running lab into one pcapng file
// until interrupted (or for --for), then prints per-link counts.
func cmdCapture(args []string) error {
	fs := flag.NewFlagSet("capture", flag.ExitOnError)
	labID := fs.String("lab", "", "lab ID (default: the only running lab)")
	out := fs.String("o", "capture.pcapng", "output file")
	dur := fs.Duration("for", 0, "stop after this long (default: until Ctrl-C)")
	_ = fs.Parse(args)
	labs, err := pickLabs(*labID, "")
	if err != nil {
		return err
	}
	lab := labs[0]
	t, err := topo.Load(lab.File)
	if err != nil {
		return fmt.Errorf("lab %s: %w", lab.ID, err)
	}
	pts, err := pcap.Points(t, lab.NetNS)
	if err != nil {
		return err
	}
	c, err := pcap.Start(*out, pts)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "capturing %d links of %s into %s\n", len(pts), lab.ID, *out)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *dur > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *dur)
		defer cancel()
	}
	<-ctx.Done()
	stats, err := c.Stop()
	for _, st := range stats {
		fmt.Printf("%-16s %8d frames %6d dropped  (%s)\n", st.Point.Name, st.Frames, st.Dropped, st.Point.Description)
	}
	return err
}
