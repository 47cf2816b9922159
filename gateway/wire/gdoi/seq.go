package gdoi

import (
	"encoding/binary"

	"github.com/getlab/getlab/gateway/wire/isakmp"
)

// SEQ is the Sequence Number payload (RFC 6407 §5.7): the KEK's sequence
// number, in GROUPKEY-PULL message 4 and every GROUPKEY-PUSH.
type SEQ struct {
	Seq uint32
}

// Type returns isakmp.PayloadSEQ.
func (*SEQ) Type() isakmp.PayloadType { return isakmp.PayloadSEQ }

// Append appends the 4-octet sequence number.
func (s *SEQ) Append(b []byte) []byte { return binary.BigEndian.AppendUint32(b, s.Seq) }

func parseSEQ(b []byte) (*SEQ, int, error) {
	if len(b) != 4 {
		return nil, 0, isakmp.Errorf(isakmp.ErrLength, "body is %d octets, want 4", len(b))
	}
	return &SEQ{Seq: binary.BigEndian.Uint32(b)}, 4, nil
}
