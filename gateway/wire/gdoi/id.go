package gdoi

import (
	"encoding/binary"
	"fmt"
	"net/netip"

	"github.com/getlab/getlab/gateway/wire/isakmp"
)

// ID is a SRC or DST identification inside a SAK or SAT: ID type, port and
// identification data (the ID types of RFC 2407 §4.6.2.1). A SAT's selectors
// are ID_IPV4_ADDR_SUBNET (address and mask) for an ACL entry; a SAK's DST is
// the rekey destination (multicast group or GM) and port 848.
type ID struct {
	IDType isakmp.IDType
	Port   uint16
	Data   []byte
}

// AddrID returns an ID_IPV4_ADDR or ID_IPV6_ADDR identification.
func AddrID(a netip.Addr, port uint16) ID {
	t, d := isakmp.AddrData(a)
	return ID{IDType: t, Port: port, Data: d}
}

// PrefixID returns an ID_IPV4_ADDR_SUBNET or ID_IPV6_ADDR_SUBNET
// identification.
func PrefixID(p netip.Prefix, port uint16) ID {
	t, d := isakmp.PrefixData(p)
	return ID{IDType: t, Port: port, Data: d}
}

// Addr returns the address of an address identification.
func (id ID) Addr() (netip.Addr, error) { return isakmp.DataAddr(id.IDType, id.Data) }

// Prefix returns the prefix of a subnet identification, or the
// single-address prefix of an address identification.
func (id ID) Prefix() (netip.Prefix, error) { return isakmp.DataPrefix(id.IDType, id.Data) }

// Range returns the bounds of a range identification.
func (id ID) Range() (lo, hi netip.Addr, err error) { return isakmp.DataRange(id.IDType, id.Data) }

// String formats the identification for logs: "ID_IPV4_ADDR_SUBNET 10.0.0.0/8 port 0".
func (id ID) String() string {
	return fmt.Sprintf("%s port %d", isakmp.FormatIDData(id.IDType, id.Data), id.Port)
}

// appendID appends ID type, port, ID data length (2 octets if len2, else 1)
// and data.
func appendID(b []byte, id ID, len2 bool) []byte {
	b = append(b, uint8(id.IDType))
	b = binary.BigEndian.AppendUint16(b, id.Port)
	if len2 {
		b = binary.BigEndian.AppendUint16(b, uint16(len(id.Data)))
	} else {
		b = append(b, uint8(len(id.Data)))
	}
	return append(b, id.Data...)
}

func checkID(id ID, len2 bool) error {
	limit := 0xff
	if len2 {
		limit = 0xffff
	}
	if len(id.Data) > limit {
		return isakmp.Errorf(isakmp.ErrLength, "ID data of %d octets does not fit its length field", len(id.Data))
	}
	return nil
}

// parseID parses an identification at the start of b.
func parseID(b []byte, len2 bool) (ID, int, error) {
	hdr := 4
	if len2 {
		hdr = 5
	}
	if len(b) < hdr {
		return ID{}, 0, isakmp.Errorf(isakmp.ErrShort, "ID type, port and data length need %d octets, %d remaining", hdr, len(b))
	}
	id := ID{IDType: isakmp.IDType(b[0]), Port: binary.BigEndian.Uint16(b[1:3])}
	n := int(b[3])
	if len2 {
		n = int(binary.BigEndian.Uint16(b[3:5]))
	}
	if n > len(b)-hdr {
		return ID{}, 0, isakmp.Errorf(isakmp.ErrLength, "ID data length %d exceeds %d remaining", n, len(b)-hdr)
	}
	id.Data = cloneBytes(b[hdr : hdr+n])
	return id, hdr + n, nil
}

// cloneBytes returns a copy of b, or nil if b is empty.
func cloneBytes(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return append([]byte(nil), b...)
}
