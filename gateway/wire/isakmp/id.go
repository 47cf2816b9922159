package isakmp

import (
	"encoding/binary"
	"fmt"
	"net/netip"

	"github.com/getlab/getlab/gateway/wire/internal/enum"
)

// IDType is an identification type (RFC 2407 §4.6.2.1); GDOI adds no types
// of its own (RFC 6407 §5.1 uses ID_KEY_ID for a group).
type IDType uint8

// Identification types.
const (
	IDIPv4Addr       IDType = 1
	IDFQDN           IDType = 2
	IDUserFQDN       IDType = 3
	IDIPv4AddrSubnet IDType = 4
	IDIPv6Addr       IDType = 5
	IDIPv6AddrSubnet IDType = 6
	IDIPv4AddrRange  IDType = 7
	IDIPv6AddrRange  IDType = 8
	IDDERASN1DN      IDType = 9
	IDDERASN1GN      IDType = 10
	IDKeyID          IDType = 11
	IDList           IDType = 12 // RFC 3554
)

var idNames = map[IDType]string{
	IDIPv4Addr:       "ID_IPV4_ADDR",
	IDFQDN:           "ID_FQDN",
	IDUserFQDN:       "ID_USER_FQDN",
	IDIPv4AddrSubnet: "ID_IPV4_ADDR_SUBNET",
	IDIPv6Addr:       "ID_IPV6_ADDR",
	IDIPv6AddrSubnet: "ID_IPV6_ADDR_SUBNET",
	IDIPv4AddrRange:  "ID_IPV4_ADDR_RANGE",
	IDIPv6AddrRange:  "ID_IPV6_ADDR_RANGE",
	IDDERASN1DN:      "ID_DER_ASN1_DN",
	IDDERASN1GN:      "ID_DER_ASN1_GN",
	IDKeyID:          "ID_KEY_ID",
	IDList:           "ID_LIST",
}

// String returns the RFC name ("ID_IPV4_ADDR", ...), or "ID-<n>".
func (t IDType) String() string { return enum.Name(idNames, t, "ID-%d") }

// ID is the Identification payload in the IPsec DOI layout (RFC 2407
// §4.6.2), which GDOI also uses (RFC 6407 §5.1, with Protocol and Port zero).
type ID struct {
	IDType   IDType
	Protocol uint8 // IP protocol, 0 for any
	Port     uint16
	Data     []byte
}

// Type returns PayloadID.
func (*ID) Type() PayloadType { return PayloadID }

// Append appends the ID body: ID type, protocol, port, identification data.
func (id *ID) Append(b []byte) []byte {
	b = append(b, uint8(id.IDType), id.Protocol)
	b = binary.BigEndian.AppendUint16(b, id.Port)
	return append(b, id.Data...)
}

func parseID(b []byte) (*ID, int, error) {
	if len(b) < 4 {
		return nil, 0, needShort("ID type, protocol and port", 4, len(b))
	}
	return &ID{
		IDType:   IDType(b[0]),
		Protocol: b[1],
		Port:     binary.BigEndian.Uint16(b[2:4]),
		Data:     cloneBytes(b[4:]),
	}, len(b), nil
}

// NewAddrID returns an ID_IPV4_ADDR or ID_IPV6_ADDR identity.
func NewAddrID(a netip.Addr) *ID {
	t, d := AddrData(a)
	return &ID{IDType: t, Data: d}
}

// NewPrefixID returns an ID_IPV4_ADDR_SUBNET or ID_IPV6_ADDR_SUBNET identity.
func NewPrefixID(p netip.Prefix) *ID {
	t, d := PrefixData(p)
	return &ID{IDType: t, Data: d}
}

// NewFQDNID returns an ID_FQDN identity.
func NewFQDNID(name string) *ID { return &ID{IDType: IDFQDN, Data: cloneBytes([]byte(name))} }

// NewKeyID returns an ID_KEY_ID identity holding a copy of key.
func NewKeyID(key []byte) *ID { return &ID{IDType: IDKeyID, Data: cloneBytes(key)} }

// NewGroupID returns the ID_KEY_ID of a GDOI group number as RFC 6407 §5.1.1
// has it: four octets, big-endian.
func NewGroupID(group uint32) *ID {
	return &ID{IDType: IDKeyID, Data: binary.BigEndian.AppendUint32(nil, group)}
}

// Addr returns the address of an ID_IPV4_ADDR or ID_IPV6_ADDR identity.
func (id *ID) Addr() (netip.Addr, error) { return DataAddr(id.IDType, id.Data) }

// Prefix returns the prefix of a subnet identity, or the single-address
// prefix of an address identity.
func (id *ID) Prefix() (netip.Prefix, error) { return DataPrefix(id.IDType, id.Data) }

// Range returns the bounds of an ID_IPV4_ADDR_RANGE or ID_IPV6_ADDR_RANGE.
func (id *ID) Range() (lo, hi netip.Addr, err error) { return DataRange(id.IDType, id.Data) }

// FQDN returns the name of an ID_FQDN or ID_USER_FQDN identity.
func (id *ID) FQDN() (string, error) {
	if id.IDType != IDFQDN && id.IDType != IDUserFQDN {
		return "", fmt.Errorf("isakmp: %s is not a name", id.IDType)
	}
	return string(id.Data), nil
}

// KeyID returns the data of an ID_KEY_ID identity.
func (id *ID) KeyID() ([]byte, error) {
	if id.IDType != IDKeyID {
		return nil, fmt.Errorf("isakmp: %s is not ID_KEY_ID", id.IDType)
	}
	return id.Data, nil
}

// Group returns the group number of a 4-octet ID_KEY_ID, read big-endian
// (RFC 6407 §5.1.1).
func (id *ID) Group() (uint32, error) {
	if id.IDType != IDKeyID || len(id.Data) != 4 {
		return 0, fmt.Errorf("isakmp: %s of %d octets is not a GDOI group ID", id.IDType, len(id.Data))
	}
	return binary.BigEndian.Uint32(id.Data), nil
}

// String formats the identity for logs: "ID_IPV4_ADDR 192.0.2.1",
// "ID_KEY_ID 000004d2", with " proto 17 port 848" when they are set.
func (id *ID) String() string {
	return FormatIDData(id.IDType, id.Data) + protoPort(id.Protocol, id.Port)
}

func protoPort(proto uint8, port uint16) string {
	if proto == 0 && port == 0 {
		return ""
	}
	return fmt.Sprintf(" proto %d port %d", proto, port)
}

// AddrData returns the ID type and identification data of an address: an
// ID_IPV4_ADDR for an IPv4 (or IPv4-mapped IPv6) address, else ID_IPV6_ADDR.
func AddrData(a netip.Addr) (IDType, []byte) {
	a = a.Unmap()
	if a.Is4() {
		v := a.As4()
		return IDIPv4Addr, v[:]
	}
	v := a.As16()
	return IDIPv6Addr, v[:]
}

// PrefixData returns the ID type and identification data (address, then
// mask) of a subnet identity. The address is kept as given, host bits
// included.
func PrefixData(p netip.Prefix) (IDType, []byte) {
	a := p.Addr()
	if a.Is4() {
		v := a.As4()
		return IDIPv4AddrSubnet, append(v[:], mask(p.Bits(), 4)...)
	}
	v := a.As16()
	return IDIPv6AddrSubnet, append(v[:], mask(p.Bits(), 16)...)
}

// RangeData returns the ID type and identification data of an address range.
func RangeData(lo, hi netip.Addr) (IDType, []byte) {
	if lo, hi := lo.Unmap(), hi.Unmap(); lo.Is4() && hi.Is4() {
		l, h := lo.As4(), hi.As4()
		return IDIPv4AddrRange, append(l[:], h[:]...)
	}
	l, h := lo.As16(), hi.As16()
	return IDIPv6AddrRange, append(l[:], h[:]...)
}

func mask(ones, n int) []byte {
	m := make([]byte, n)
	for i := range m {
		switch {
		case ones >= 8:
			m[i] = 0xff
			ones -= 8
		case ones > 0:
			m[i] = ^uint8(0xff >> ones)
			ones = 0
		}
	}
	return m
}

// DataAddr returns the address of identification data of type ID_IPV4_ADDR
// or ID_IPV6_ADDR.
func DataAddr(t IDType, d []byte) (netip.Addr, error) {
	switch {
	case t == IDIPv4Addr && len(d) == 4:
		return netip.AddrFrom4([4]byte(d)), nil
	case t == IDIPv6Addr && len(d) == 16:
		return netip.AddrFrom16([16]byte(d)), nil
	}
	return netip.Addr{}, fmt.Errorf("isakmp: %s with %d octets is not an address", t, len(d))
}

// DataPrefix returns the prefix of identification data of a subnet type
// (address and contiguous mask), or the single-address prefix of an address
// type.
func DataPrefix(t IDType, d []byte) (netip.Prefix, error) {
	var n int
	switch t {
	case IDIPv4Addr, IDIPv6Addr:
		a, err := DataAddr(t, d)
		if err != nil {
			return netip.Prefix{}, err
		}
		return netip.PrefixFrom(a, a.BitLen()), nil
	case IDIPv4AddrSubnet:
		n = 4
	case IDIPv6AddrSubnet:
		n = 16
	default:
		return netip.Prefix{}, fmt.Errorf("isakmp: %s is not a subnet", t)
	}
	if len(d) != 2*n {
		return netip.Prefix{}, fmt.Errorf("isakmp: %s with %d octets, want %d", t, len(d), 2*n)
	}
	a, _ := netip.AddrFromSlice(d[:n])
	ones, zero := 0, false
	for _, c := range d[n:] {
		for bit := 7; bit >= 0; bit-- {
			if c>>bit&1 == 0 {
				zero = true
				continue
			}
			if zero {
				return netip.Prefix{}, fmt.Errorf("isakmp: %s mask %x is not contiguous", t, d[n:])
			}
			ones++
		}
	}
	return netip.PrefixFrom(a, ones), nil
}

// DataRange returns the bounds of identification data of a range type.
func DataRange(t IDType, d []byte) (lo, hi netip.Addr, err error) {
	var n int
	switch t {
	case IDIPv4AddrRange:
		n = 4
	case IDIPv6AddrRange:
		n = 16
	default:
		return lo, hi, fmt.Errorf("isakmp: %s is not a range", t)
	}
	if len(d) != 2*n {
		return lo, hi, fmt.Errorf("isakmp: %s with %d octets, want %d", t, len(d), 2*n)
	}
	lo, _ = netip.AddrFromSlice(d[:n])
	hi, _ = netip.AddrFromSlice(d[n:])
	return lo, hi, nil
}

// FormatIDData formats identification data for logs according to its type.
func FormatIDData(t IDType, d []byte) string {
	switch t {
	case IDIPv4Addr, IDIPv6Addr:
		if a, err := DataAddr(t, d); err == nil {
			return fmt.Sprintf("%s %s", t, a)
		}
	case IDIPv4AddrSubnet, IDIPv6AddrSubnet:
		if p, err := DataPrefix(t, d); err == nil {
			return fmt.Sprintf("%s %s", t, p)
		}
	case IDIPv4AddrRange, IDIPv6AddrRange:
		if lo, hi, err := DataRange(t, d); err == nil {
			return fmt.Sprintf("%s %s-%s", t, lo, hi)
		}
	case IDFQDN, IDUserFQDN:
		return fmt.Sprintf("%s %q", t, d)
	}
	return fmt.Sprintf("%s %x", t, d)
}
