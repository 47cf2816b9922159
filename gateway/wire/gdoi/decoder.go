package gdoi

import "github.com/getlab/getlab/gateway/wire/isakmp"

// Decoder is the isakmp.Decoder for GDOI. In exchanges 32 (GROUPKEY-PULL)
// and 33 (GROUPKEY-PUSH) it decodes the SA payload as a GDOI SA (*SA with
// nested *SAK, *GAP, *SAT) and the SAK, SAT, KD, SEQ and GAP payloads; every
// other payload, and every payload of other exchanges (phase 1,
// Informational), goes to Next.
type Decoder struct {
	Profile Profile        // forms tried first (see the package documentation)
	Next    isakmp.Decoder // nil: isakmp.DefaultDecoder
}

// DecodePayload implements isakmp.Decoder.
func (d Decoder) DecodePayload(ctx isakmp.DecodeContext, t isakmp.PayloadType, b []byte) (isakmp.Payload, error) {
	if IsGDOIExchange(ctx.Exchange) {
		switch t {
		case isakmp.PayloadSA:
			return whole(parseSA(ctx, b, ctx.Offset+4, d.Profile))
		case isakmp.PayloadSAK:
			return whole(parseSAK(b, d.Profile))
		case isakmp.PayloadSAT:
			return whole(parseSAT(b, d.Profile))
		case isakmp.PayloadKD:
			return whole(parseKD(b))
		case isakmp.PayloadSEQ:
			return whole(parseSEQ(b))
		case isakmp.PayloadGAP:
			return whole(parseGAP(b))
		}
	}
	next := d.Next
	if next == nil {
		next = isakmp.DefaultDecoder
	}
	return next.DecodePayload(ctx, t, b)
}

// IsGDOIExchange reports whether x is GROUPKEY-PULL, GROUPKEY-PUSH or its
// acknowledgement.
func IsGDOIExchange(x isakmp.ExchangeType) bool {
	return x == isakmp.ExchangeGroupkeyPull || x == isakmp.ExchangeGroupkeyPush || x == isakmp.ExchangeGroupkeyPushAck
}

// ParseMessage parses a whole message with Decoder{Profile: p}.
func ParseMessage(b []byte, p Profile) (*isakmp.Message, error) {
	return isakmp.ParseMessage(b, Decoder{Profile: p})
}

// whole adapts a parseX result to a decoder's: the parse functions here
// consume the whole body or fail.
func whole[T isakmp.Payload](p T, _ int, err error) (isakmp.Payload, error) {
	if err != nil {
		return nil, err
	}
	return p, nil
}
