package pcap

import (
	coopwire "github.com/getlab/getlab/gateway/wire/coop"
	"github.com/getlab/getlab/gateway/wire/gdoi"
	"github.com/getlab/getlab/gateway/wire/isakmp"
	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// LayerTypeISAKMP is the gopacket layer of an ISAKMP message on UDP 848
// (GDOI, RFC 6407) or 500 (IKE). Importing this package registers it, so
// gopacket.NewPacket decodes those ports into an *ISAKMP layer, GDOI
// payloads included.
var LayerTypeISAKMP = gopacket.RegisterLayerType(2848, gopacket.LayerTypeMetadata{
	Name:    "ISAKMP",
	Decoder: gopacket.DecodeFunc(decodeISAKMPLayer),
})

func init() {
	layers.RegisterUDPPortLayerType(848, LayerTypeISAKMP)
	layers.RegisterUDPPortLayerType(500, LayerTypeISAKMP)
}

// ISAKMP is an ISAKMP message as a gopacket layer. Message holds its
// payloads (decoded with the GDOI decoder in exchanges 32 and 33), or its
// still encrypted body when the E flag is set.
type ISAKMP struct {
	layers.BaseLayer
	Message *isakmp.Message
}

// LayerType implements gopacket.Layer.
func (l *ISAKMP) LayerType() gopacket.LayerType { return LayerTypeISAKMP }

// CanDecode implements gopacket.DecodingLayer.
func (l *ISAKMP) CanDecode() gopacket.LayerClass { return LayerTypeISAKMP }

// NextLayerType implements gopacket.DecodingLayer: ISAKMP carries no
// further layer.
func (l *ISAKMP) NextLayerType() gopacket.LayerType { return gopacket.LayerTypeZero }

// DecodeFromBytes implements gopacket.DecodingLayer. The error of a
// malformed message is an *isakmp.Error naming the payload and offset.
func (l *ISAKMP) DecodeFromBytes(data []byte, _ gopacket.DecodeFeedback) error {
	m, err := isakmp.ParseMessage(data, gdoi.Decoder{Profile: gdoi.ProfileRFC, Next: coopwire.Decoder})
	if err != nil {
		return err
	}
	l.Message = m
	l.BaseLayer = layers.BaseLayer{Contents: data}
	return nil
}

func decodeISAKMPLayer(data []byte, p gopacket.PacketBuilder) error {
	l := &ISAKMP{}
	if err := l.DecodeFromBytes(data, p); err != nil {
		return err
	}
	p.AddLayer(l)
	return nil
}
