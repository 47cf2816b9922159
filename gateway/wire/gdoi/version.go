package gdoi

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
)

// The GDOI software version (S0 §3.15, "Major.Minor.Mini") and the
// features a daemon supports travel in a Vendor ID payload of IKEv1 main
// mode, messages 3 and 4 (the seeds do not say where; getvpnd defines
// it). Messages 3 and 4 rather than 1 and 2: a KS under a flood answers
// message 1 statelessly and keeps nothing of it until message 3.
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	~        "GDOI-VERSION" (12 ASCII octets, the marker)            ~
//	+---------------+---------------+---------------+---------------+
//	!    Major      !    Minor      !    Mini       ! Feature Count !
//	+---------------+---------------+---------------+---------------+
//	~  Features: Length (1 octet) and ASCII name, each ...           ~
//	+---------------------------------------------------------------+
//
// Feature names are the seeds' (`show crypto gdoi feature`): gdoi-mib,
// gm-removal, policy-replace, cts-sgt, ipv6-crypto-path, ip-d3p,
// gdoi-interop-ack.

// VersionMarker opens a GDOI version Vendor ID.
var VersionMarker = []byte("GDOI-VERSION")

// Version is a GDOI software version.
type Version struct{ Major, Minor, Mini uint8 }

func (v Version) String() string { return fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Mini) }

// Less orders versions.
func (v Version) Less(w Version) bool {
	if v.Major != w.Major {
		return v.Major < w.Major
	}
	if v.Minor != w.Minor {
		return v.Minor < w.Minor
	}
	return v.Mini < w.Mini
}

// ParseVersion reads "major.minor.mini".
func ParseVersion(s string) (Version, error) {
	parts := strings.Split(s, ".")
	if len(parts) != 3 {
		return Version{}, fmt.Errorf("%q is not major.minor.mini", s)
	}
	var v [3]uint8
	for i, p := range parts {
		n, err := strconv.ParseUint(p, 10, 8)
		if err != nil {
			return Version{}, fmt.Errorf("%q is not major.minor.mini (0-255 each)", s)
		}
		v[i] = uint8(n)
	}
	return Version{v[0], v[1], v[2]}, nil
}

// VersionVID is a daemon's GDOI version and features.
type VersionVID struct {
	Version  Version
	Features []string
}

// MaxFeatureName is the longest feature name a Vendor ID carries.
const MaxFeatureName = 64

// Bytes is the Vendor ID's data; names longer than MaxFeatureName and
// features past the 255th are left out.
func (v *VersionVID) Bytes() []byte {
	b := append(bytes.Clone(VersionMarker), v.Version.Major, v.Version.Minor, v.Version.Mini, 0)
	n := 0
	for _, f := range v.Features {
		if len(f) == 0 || len(f) > MaxFeatureName || n == 255 {
			continue
		}
		b = append(append(b, byte(len(f))), f...)
		n++
	}
	b[len(VersionMarker)+3] = byte(n)
	return b
}

// ParseVersionVID reads a Vendor ID's data: ok is false when it is not a
// GDOI version Vendor ID; err when it is one but malformed.
func ParseVersionVID(data []byte) (v *VersionVID, ok bool, err error) {
	if !bytes.HasPrefix(data, VersionMarker) {
		return nil, false, nil
	}
	b := data[len(VersionMarker):]
	if len(b) < 4 {
		return nil, true, fmt.Errorf("GDOI version vendor ID: %d octets after the marker, want at least 4", len(b))
	}
	v = &VersionVID{Version: Version{b[0], b[1], b[2]}, Features: []string{}}
	n := int(b[3])
	b = b[4:]
	for i := range n {
		if len(b) < 1 || int(b[0]) > len(b)-1 || b[0] == 0 || b[0] > MaxFeatureName {
			return nil, true, fmt.Errorf("GDOI version vendor ID: feature %d of %d is cut or empty", i+1, n)
		}
		name := b[1 : 1+b[0]]
		for _, c := range name {
			if c < 0x21 || c > 0x7e {
				return nil, true, fmt.Errorf("GDOI version vendor ID: feature %d is not printable ASCII", i+1)
			}
		}
		v.Features = append(v.Features, string(name))
		b = b[1+b[0]:]
	}
	if len(b) != 0 {
		return nil, true, fmt.Errorf("GDOI version vendor ID: %d octets after the features", len(b))
	}
	return v, true, nil
}

// Has reports whether the daemon announced feature f.
func (v *VersionVID) Has(f string) bool {
	for _, g := range v.Features {
		if g == f {
			return true
		}
	}
	return false
}
