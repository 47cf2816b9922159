package main

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/getlab/getlab/gateway/control"
)

// normalStatus is the small status document the bench reads from any
// implementation offering the "status" capability (images/README.md):
// the same fields, whoever prints them.
type normalStatus struct {
	Registered bool     `json:"registered"`
	KS         string   `json:"ks"`
	KEKSPI     string   `json:"kek_spi"`
	TEKSPIs    []string `json:"tek_spis"`
	Seq        uint32   `json:"seq"`
}

// normalize reduces /v1/gdoi to the normalized status. On a GM,
// registered means every group is registered, and ks, kek_spi and seq
// are the first group's; on a KS, registered is false, ks is its own
// identity and seq the last sequence number it sent. tek_spis holds every
// group's TEKs. SPIs are lowercase hex without "0x", TEK SPIs 8 digits.
func normalize(g control.GDOI) (normalStatus, error) {
	s := normalStatus{TEKSPIs: []string{}}
	if g.Role == "ks" {
		s.KS = g.Identity
	}
	s.Registered = g.Role == "gm" && len(g.Groups) > 0
	for i, gr := range g.Groups {
		if gr.GM == nil || gr.GM.State != "registered" {
			s.Registered = false
		}
		for _, t := range gr.TEKs {
			v, err := strconv.ParseUint(strings.TrimPrefix(strings.ToLower(t.SPI), "0x"), 16, 32)
			if err != nil {
				return s, fmt.Errorf("group %s: TEK SPI %q: %w", gr.Name, t.SPI, err)
			}
			s.TEKSPIs = append(s.TEKSPIs, fmt.Sprintf("%08x", v))
		}
		if i > 0 {
			continue
		}
		if gr.KEK != nil {
			s.KEKSPI = strings.ToLower(strings.TrimPrefix(gr.KEK.SPI, "0x"))
		}
		switch {
		case gr.GM != nil:
			s.KS, s.Seq = gr.GM.KeyServer, gr.GM.Seq
		case gr.KS != nil:
			s.Seq = gr.KS.Seq
		}
	}
	sort.Strings(s.TEKSPIs)
	return s, nil
}

// printStatus prints the normalized status as one line of JSON.
func printStatus(w io.Writer, g control.GDOI) error {
	s, err := normalize(g)
	if err != nil {
		return err
	}
	b, err := json.Marshal(s)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}
