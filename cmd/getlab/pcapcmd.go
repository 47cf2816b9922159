package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"

	"github.com/getlab/getlab/pcap"
	htmlreport "github.com/getlab/getlab/reports/html"
)

// errMalformed makes `getlab pcap` exit non-zero after listing everything.
var errMalformed = errors.New("malformed packets")

// cmdPcap prints one line per packet of a capture (or a JSON array with
// --json), decrypted where a key log is given. Malformed packets are listed
// with the reason and make the exit status 1.
func cmdPcap(args []string) error {
	fs := flag.NewFlagSet("pcap", flag.ExitOnError)
	keysPath := fs.String("keys", "", "key log to decrypt ISAKMP and ESP with")
	asJSON := fs.Bool("json", false, "print a JSON array of packets")
	all := fs.Bool("all", false, "list every frame (default: IP traffic only, no ARP or neighbour discovery)")
	wireshark := fs.String("wireshark", "", "also write the key log as a Wireshark profile into this directory")
	tshark := fs.Bool("tshark-args", false, "print the tshark options that decrypt this capture and exit")
	fs.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: getlab pcap FILE [--keys KEYLOG] [--json] [--all] [--wireshark DIR] [--tshark-args]")
		fs.PrintDefaults()
	}
	// Accept flags after the file name too: getlab pcap cap.pcapng --json.
	var file string
	rest := args
	for len(rest) > 0 {
		if err := fs.Parse(rest); err != nil {
			return err
		}
		if fs.NArg() == 0 {
			break
		}
		if file != "" {
			return fmt.Errorf("one capture at a time (got %q and %q)", file, fs.Arg(0))
		}
		file, rest = fs.Arg(0), fs.Args()[1:]
	}
	if file == "" {
		fs.Usage()
		return errors.New("no capture file")
	}
	var keys *pcap.KeyLog
	if *keysPath != "" {
		var err error
		if keys, err = pcap.ReadKeyLog(*keysPath); err != nil {
			return err
		}
	}
	if *tshark {
		if keys == nil {
			keys = &pcap.KeyLog{}
		}
		fmt.Println("tshark -r " + file + " " + htmlreport.ShellQuote(keys.TsharkArgs()))
		return nil
	}
	if *wireshark != "" && keys != nil {
		if err := keys.WriteWireshark(*wireshark); err != nil {
			return err
		}
	}
	pkts, err := pcap.ReadFile(file, keys)
	if err != nil {
		return err
	}
	malformed := 0
	var shown []pcap.Packet
	for _, p := range pkts {
		if p.Malformed != "" {
			malformed++
		}
		if *all || p.Malformed != "" || p.Src.IsValid() && !linkLocalControl(p) {
			shown = append(shown, p)
		}
	}
	if *asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(shown); err != nil {
			return err
		}
	} else {
		for i := range shown {
			fmt.Println(shown[i].String())
		}
		fmt.Fprintf(os.Stderr, "%d frames, %d shown, %d malformed\n", len(pkts), len(shown), malformed)
	}
	if malformed > 0 {
		return fmt.Errorf("%w: %d of %d frames", errMalformed, malformed, len(pkts))
	}
	return nil
}

// linkLocalControl is IPv6 neighbour discovery and MLD chatter, which the
// kernel sends on every link and nobody asked to see.
func linkLocalControl(p pcap.Packet) bool {
	return p.Proto == "ICMPv6" || p.Dst.Is6() && p.Dst.IsLinkLocalMulticast()
}
