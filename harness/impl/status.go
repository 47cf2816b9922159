package impl

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
)

// StatusDoc is the normalized status an implementation's status command
// prints, as one JSON object:
//
//	{"registered": true, "ks": "192.0.2.1", "kek_spi": "8e5f...ccdd",
//	 "tek_spis": ["2d45c4e9", "d835db99"], "seq": 5}
//
// On a group member: registered is true when every group is registered,
// ks the key server it registered with, kek_spi the KEK's SPI (the 16
// octets of the KEK's ISAKMP cookies), tek_spis the SPIs of every TEK
// installed, sorted, and seq the last rekey sequence number accepted. On a
// key server: registered is false, ks its own identity, seq the last
// sequence number sent. SPIs are lowercase hex without "0x"; a value
// unknown is "" (or an empty list).
type StatusDoc struct {
	Registered bool     `json:"registered"`
	KS         string   `json:"ks"`
	KEKSPI     string   `json:"kek_spi"`
	TEKSPIs    []string `json:"tek_spis"`
	Seq        uint32   `json:"seq"`
}

var (
	kekSPI = regexp.MustCompile(`^([0-9a-f]{32})?$`)
	tekSPI = regexp.MustCompile(`^[0-9a-f]{8}$`)
)

// ParseStatus reads a status command's output strictly: unknown fields,
// SPIs not in the normalized form and unsorted TEK SPIs are errors, so
// that an implementation's status command cannot drift unnoticed.
func ParseStatus(out []byte) (StatusDoc, error) {
	var s StatusDoc
	dec := json.NewDecoder(bytes.NewReader(out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return s, fmt.Errorf("status: %w", err)
	}
	if !kekSPI.MatchString(s.KEKSPI) {
		return s, fmt.Errorf("status: kek_spi %q is not 32 lowercase hex digits", s.KEKSPI)
	}
	for _, spi := range s.TEKSPIs {
		if !tekSPI.MatchString(spi) {
			return s, fmt.Errorf("status: tek_spis: %q is not 8 lowercase hex digits", spi)
		}
	}
	if !slices.IsSorted(s.TEKSPIs) {
		return s, fmt.Errorf("status: tek_spis %v are not sorted", s.TEKSPIs)
	}
	return s, nil
}
