package gdoi

import "github.com/getlab/getlab/gateway/wire/isakmp"

// GAP is the Group Associated Policy payload (RFC 6407 §5.5): a list of
// attributes, ATD and DTD from the KS (nested in the SA), SENDER_ID_REQUEST
// from a GM (GROUPKEY-PULL message 3).
type GAP struct {
	Attributes isakmp.Attributes
}

// Type returns isakmp.PayloadGAP.
func (*GAP) Type() isakmp.PayloadType { return isakmp.PayloadGAP }

// Append appends the attributes.
func (g *GAP) Append(b []byte) []byte { return g.Attributes.Append(b) }

// Check reports an attribute that cannot be encoded.
func (g *GAP) Check() error { return g.Attributes.Check() }

// ATD returns the ACTIVATION_TIME_DELAY in seconds.
func (g *GAP) ATD() (uint64, bool) { return g.Attributes.Uint(ActivationTimeDelay) }

// DTD returns the DEACTIVATION_TIME_DELAY in seconds.
func (g *GAP) DTD() (uint64, bool) { return g.Attributes.Uint(DeactivationTimeDelay) }

// SenderIDs returns the SENDER_ID_REQUEST: the number of Sender-IDs asked for.
func (g *GAP) SenderIDs() (uint64, bool) { return g.Attributes.Uint(SenderIDRequest) }

func parseGAP(b []byte) (*GAP, int, error) {
	attrs, err := isakmp.ParseAttributes(b)
	if err != nil {
		return nil, 0, err
	}
	return &GAP{Attributes: attrs}, len(b), nil
}
