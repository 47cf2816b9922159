package pcap

import (
	"bytes"
	"encoding/hex"
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
	// ESP is tshark's view of the frame's ESP packet; nil if none.
	ESP *TsharkESP
	// IPs are the IPv4 headers tshark dissected, outer first: for tunnel-
	// mode ESP it decrypted, the second is the inner packet's.
	IPs []TsharkIP
}

// TsharkESP is an ESP packet as tshark dissected it.
type TsharkESP struct {
	SPI, Seq uint32
	// ICV is "good", "bad" or "" (not checked: no key for the SA).
	ICV string
	// NextHeader is -1 if tshark did not decrypt the packet.
	NextHeader int
	// Contained is the decrypted payload without padding and trailer.
	Contained []byte
}

// TsharkIP is one IPv4 header as tshark dissected it.
type TsharkIP struct {
	Src, Dst string
	DSCP     int
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
	Value    string      `xml:"value,attr"`
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
		case strings.HasPrefix(fl.Name, "esp."):
			espField(&f, fl)
		case fl.Name == "ip.src" && len(f.IPs) > 0:
			f.IPs[len(f.IPs)-1].Src = fl.Show
		case fl.Name == "ip.dst" && len(f.IPs) > 0:
			f.IPs[len(f.IPs)-1].Dst = fl.Show
		case fl.Name == "ip.dsfield.dscp" && len(f.IPs) > 0:
			f.IPs[len(f.IPs)-1].DSCP, _ = strconv.Atoi(fl.Show)
		}
		for _, c := range fl.Fields {
			walkField(c, inISAKMP)
		}
		for _, pr := range fl.Protos {
			walkProto(pr)
		}
	}
	walkProto = func(pr pdmlProto) {
		if pr.Name == "ip" {
			f.IPs = append(f.IPs, TsharkIP{})
		}
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

// espField records one esp.* field.
func espField(f *TsharkFrame, fl pdmlField) {
	if f.ESP == nil {
		f.ESP = &TsharkESP{NextHeader: -1}
	}
	e := f.ESP
	switch fl.Name {
	case "esp.spi":
		v, _ := strconv.ParseUint(fl.Value, 16, 32)
		e.SPI = uint32(v)
	case "esp.sequence":
		v, _ := strconv.ParseUint(fl.Show, 10, 32)
		e.Seq = uint32(v)
	case "esp.icv_good":
		if fl.Show == "1" {
			e.ICV = "good"
		}
	case "esp.icv_bad":
		if fl.Show == "1" {
			e.ICV = "bad"
		}
	case "esp.protocol":
		v, _ := strconv.ParseUint(fl.Value, 16, 8)
		e.NextHeader = int(v)
	case "esp.contained_data":
		e.Contained, _ = hex.DecodeString(fl.Value)
	}
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
