package pcap

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strconv"
	"strings"
)

// ErrNoTshark is returned when tshark is not installed; callers skip their
// cross-check with this reason.
var ErrNoTshark = errors.New("tshark is not installed (Debian package tshark)")

// TsharkFrame is what tshark made of one frame's ISAKMP message, read from
// its PDML output.
type TsharkFrame struct {
	Number   int
	Exchange int   // isakmp.exchangetype; -1 if the frame has no ISAKMP
	Payloads []int // isakmp.typepayload, top-level payloads in wire order
	// Nested are the GDOI SA's nested payloads tshark dissected, in order:
	// 15 for each SAK, 16 for each SAT (tshark 4.0 decodes no other).
	Nested []int
	// Malformed holds tshark's malformed-packet and error-level expert
	// messages for the frame.
	Malformed []string
}

// Tshark decodes the file with tshark (UDP 848 as ISAKMP, plus args, e.g.
// a key log's TsharkArgs) and returns one TsharkFrame per frame.
func Tshark(path string, args ...string) ([]TsharkFrame, error) {
	bin, err := exec.LookPath("tshark")
	if err != nil {
		return nil, ErrNoTshark
	}
	cmd := exec.Command(bin, append(append([]string{"-r", path, "-d", "udp.port==848,isakmp"}, args...), "-T", "pdml")...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("tshark: %w: %s", err, stderr.String())
	}
	return parsePDML(bytes.NewReader(out))
}

type pdmlField struct {
	Name     string      `xml:"name,attr"`
	Show     string      `xml:"show,attr"`
	ShowName string      `xml:"showname,attr"`
	Fields   []pdmlField `xml:"field"`
	Protos   []pdmlProto `xml:"proto"`
}

type pdmlProto struct {
	Name   string      `xml:"name,attr"`
	Fields []pdmlField `xml:"field"`
	Protos []pdmlProto `xml:"proto"`
}

type pdmlPacket struct {
	Protos []pdmlProto `xml:"proto"`
}

func parsePDML(r io.Reader) ([]TsharkFrame, error) {
	dec := xml.NewDecoder(r)
	var frames []TsharkFrame
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return frames, nil
		}
		if err != nil {
			return frames, fmt.Errorf("tshark pdml: %w", err)
		}
		se, ok := tok.(xml.StartElement)
		if !ok || se.Name.Local != "packet" {
			continue
		}
		var p pdmlPacket
		if err := dec.DecodeElement(&p, &se); err != nil {
			return frames, fmt.Errorf("tshark pdml: %w", err)
		}
		frames = append(frames, frameOf(p))
	}
}

func frameOf(p pdmlPacket) TsharkFrame {
	f := TsharkFrame{Exchange: -1}
	var walkProto func(pr pdmlProto)
	var walkField func(fl pdmlField, inISAKMP bool)
	walkField = func(fl pdmlField, inISAKMP bool) {
		switch {
		case fl.Name == "num" || fl.Name == "frame.number":
			if n, err := strconv.Atoi(fl.Show); err == nil && f.Number == 0 {
				f.Number = n
			}
		case fl.Name == "_ws.malformed":
			f.Malformed = append(f.Malformed, strings.TrimSpace(fl.ShowName))
		case fl.Name == "_ws.expert" || strings.HasPrefix(fl.Name, "_ws.expert"):
			if sev := expertSeverity(fl); sev == "Error" {
				f.Malformed = append(f.Malformed, strings.TrimSpace(fl.ShowName))
			}
		case inISAKMP && fl.Name == "isakmp.exchangetype":
			f.Exchange, _ = strconv.Atoi(fl.Show)
		case inISAKMP && fl.Name == "isakmp.typepayload":
			n, _ := strconv.Atoi(fl.Show)
			f.Payloads = append(f.Payloads, n)
		case inISAKMP && fl.Name == "isakmp.sak.nextpayload":
			f.Nested = append(f.Nested, 15)
		case inISAKMP && fl.Name == "isakmp.sat.nextpayload":
			f.Nested = append(f.Nested, 16)
		}
		for _, c := range fl.Fields {
			walkField(c, inISAKMP)
		}
		for _, pr := range fl.Protos {
			walkProto(pr)
		}
	}
	walkProto = func(pr pdmlProto) {
		for _, fl := range pr.Fields {
			walkField(fl, pr.Name == "isakmp")
		}
		for _, c := range pr.Protos {
			walkProto(c)
		}
	}
	for _, pr := range p.Protos {
		walkProto(pr)
	}
	return f
}

// expertSeverity finds the severity of an expert-info field in its
// children ("_ws.expert.severity" shows the level by name in showname).
func expertSeverity(fl pdmlField) string {
	for _, c := range fl.Fields {
		if c.Name == "_ws.expert.severity" {
			if strings.Contains(c.ShowName, "Error") {
				return "Error"
			}
			return c.Show
		}
		if s := expertSeverity(c); s != "" {
			return s
		}
	}
	return ""
}
