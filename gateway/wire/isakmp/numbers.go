package isakmp

import (
	"fmt"
	"strings"

	"github.com/getlab/getlab/gateway/wire/internal/enum"
)

// PayloadType is the value of a Next Payload field (RFC 2408 §3.1, with the
// GDOI values of RFC 6407 §5 and NAT-T's of RFC 3947).
type PayloadType uint8

// Payload types.
const (
	PayloadNone         PayloadType = 0
	PayloadSA           PayloadType = 1
	PayloadProposal     PayloadType = 2
	PayloadTransform    PayloadType = 3
	PayloadKE           PayloadType = 4
	PayloadID           PayloadType = 5
	PayloadCert         PayloadType = 6
	PayloadCR           PayloadType = 7
	PayloadHash         PayloadType = 8
	PayloadSig          PayloadType = 9
	PayloadNonce        PayloadType = 10
	PayloadNotification PayloadType = 11
	PayloadDelete       PayloadType = 12
	PayloadVendorID     PayloadType = 13
	PayloadSAK          PayloadType = 15 // GDOI SA KEK (RFC 6407 §5.3)
	PayloadSAT          PayloadType = 16 // GDOI SA TEK (RFC 6407 §5.4)
	PayloadKD           PayloadType = 17 // GDOI Key Download (RFC 6407 §5.6)
	PayloadSEQ          PayloadType = 18 // GDOI Sequence Number (RFC 6407 §5.7)
	PayloadPOP          PayloadType = 19 // GDOI Proof of Possession (RFC 3547 only)
	PayloadNATD         PayloadType = 20 // NAT Discovery (RFC 3947)
	PayloadNATOA        PayloadType = 21 // NAT Original Address (RFC 3947)
	PayloadGAP          PayloadType = 22 // GDOI Group Associated Policy (RFC 6407 §5.5)
	// Private use (RFC 2408 §3.1: 128-255): getvpnd's cooperative key
	// server announcement and member list (gateway/wire/coop).
	PayloadCOOPANN     PayloadType = 240
	PayloadCOOPMembers PayloadType = 241
)

var payloadNames = map[PayloadType]string{
	PayloadNone:         "NONE",
	PayloadSA:           "SA",
	PayloadProposal:     "P",
	PayloadTransform:    "T",
	PayloadKE:           "KE",
	PayloadID:           "ID",
	PayloadCert:         "CERT",
	PayloadCR:           "CR",
	PayloadHash:         "HASH",
	PayloadSig:          "SIG",
	PayloadNonce:        "NONCE",
	PayloadNotification: "N",
	PayloadDelete:       "D",
	PayloadVendorID:     "VID",
	PayloadSAK:          "SAK",
	PayloadSAT:          "SAT",
	PayloadKD:           "KD",
	PayloadSEQ:          "SEQ",
	PayloadPOP:          "POP",
	PayloadNATD:         "NAT-D",
	PayloadNATOA:        "NAT-OA",
	PayloadGAP:          "GAP",
	PayloadCOOPANN:      "ANN",
	PayloadCOOPMembers:  "MEMBERS",
}

// String returns the payload's RFC abbreviation ("SA", "HASH", "N", "SAK",
// ...), or "PAYLOAD-<n>" for a value without a name.
func (t PayloadType) String() string { return enum.Name(payloadNames, t, "PAYLOAD-%d") }

// ExchangeType is the header's Exchange Type (RFC 2408 §3.1, RFC 2409,
// RFC 6407 §3.1 and §4.1). GDOI reuses 32 and 33, which IKEv1 in the IPsec
// DOI calls Quick Mode and New Group Mode.
type ExchangeType uint8

// Exchange types.
const (
	ExchangeNone          ExchangeType = 0
	ExchangeBase          ExchangeType = 1
	ExchangeMainMode      ExchangeType = 2 // Identity Protection
	ExchangeAuthOnly      ExchangeType = 3
	ExchangeAggressive    ExchangeType = 4
	ExchangeInformational ExchangeType = 5
	ExchangeTransaction   ExchangeType = 6 // Mode Config (draft)
	ExchangeGroupkeyPull  ExchangeType = 32
	ExchangeGroupkeyPush  ExchangeType = 33
	// ExchangeGroupkeyPushAck is the GROUPKEY-PUSH acknowledgement of
	// RFC 8263 (the number getlab pins; see docs/rekey.md).
	ExchangeGroupkeyPushAck ExchangeType = 35
	// ExchangeCOOPAnnounce is private use (RFC 2408 §3.1: 240-255):
	// getvpnd's cooperative key server announcement (gateway/wire/coop).
	ExchangeCOOPAnnounce ExchangeType = 240
)

var exchangeNames = map[ExchangeType]string{
	ExchangeNone:            "NONE",
	ExchangeBase:            "BASE",
	ExchangeMainMode:        "MAIN-MODE",
	ExchangeAuthOnly:        "AUTH-ONLY",
	ExchangeAggressive:      "AGGRESSIVE",
	ExchangeInformational:   "INFORMATIONAL",
	ExchangeTransaction:     "TRANSACTION",
	ExchangeGroupkeyPull:    "GROUPKEY-PULL",
	ExchangeGroupkeyPush:    "GROUPKEY-PUSH",
	ExchangeGroupkeyPushAck: "GROUPKEY-PUSH-ACK",
	ExchangeCOOPAnnounce:    "COOP-ANN",
}

// String returns the exchange's name ("MAIN-MODE", "GROUPKEY-PULL", ...), or
// "EXCHANGE-<n>".
func (x ExchangeType) String() string { return enum.Name(exchangeNames, x, "EXCHANGE-%d") }

// Flags is the header's Flags octet.
type Flags uint8

// Header flags (RFC 2408 §3.1).
const (
	FlagEncryption Flags = 0x01 // E: the payloads after the header are encrypted
	FlagCommit     Flags = 0x02 // C
	FlagAuthOnly   Flags = 0x04 // A
)

// String returns the set flags as "E|C|A" (unknown bits in hex), or "0".
func (f Flags) String() string {
	if f == 0 {
		return "0"
	}
	var parts []string
	for _, x := range []struct {
		f Flags
		s string
	}{{FlagEncryption, "E"}, {FlagCommit, "C"}, {FlagAuthOnly, "A"}} {
		if f&x.f != 0 {
			parts = append(parts, x.s)
		}
	}
	if rest := f &^ (FlagEncryption | FlagCommit | FlagAuthOnly); rest != 0 {
		parts = append(parts, fmt.Sprintf("0x%02x", uint8(rest)))
	}
	return strings.Join(parts, "|")
}

// Domains of interpretation.
const (
	DOIISAKMP uint32 = 0
	DOIIPsec  uint32 = 1 // RFC 2407
	DOIGDOI   uint32 = 2 // RFC 6407
)

// SitIdentityOnly is the IPsec DOI situation SIT_IDENTITY_ONLY (RFC 2407
// §4.2). Phase-1 SAs in the GDOI DOI carry situation 0.
const SitIdentityOnly uint32 = 0x01

// Protocol-IDs of proposals, notifications and deletes (RFC 2407 §4.4.1).
const (
	ProtoISAKMP   uint8 = 1
	ProtoIPsecAH  uint8 = 2
	ProtoIPsecESP uint8 = 3
	ProtoIPComp   uint8 = 4
)

// TransformKeyIKE is the only ISAKMP Transform-ID (RFC 2407 §4.4.2).
const TransformKeyIKE uint8 = 1

// NotifyType is a Notify Message Type (RFC 2408 §3.14.1, RFC 2407 §4.6.3).
type NotifyType uint16

// Notify message types: the RFC 2408 error types 1-30 and the status types
// in use with IKEv1.
const (
	NotifyInvalidPayloadType      NotifyType = 1
	NotifyDOINotSupported         NotifyType = 2
	NotifySituationNotSupported   NotifyType = 3
	NotifyInvalidCookie           NotifyType = 4
	NotifyInvalidMajorVersion     NotifyType = 5
	NotifyInvalidMinorVersion     NotifyType = 6
	NotifyInvalidExchangeType     NotifyType = 7
	NotifyInvalidFlags            NotifyType = 8
	NotifyInvalidMessageID        NotifyType = 9
	NotifyInvalidProtocolID       NotifyType = 10
	NotifyInvalidSPI              NotifyType = 11
	NotifyInvalidTransformID      NotifyType = 12
	NotifyAttributesNotSupported  NotifyType = 13
	NotifyNoProposalChosen        NotifyType = 14
	NotifyBadProposalSyntax       NotifyType = 15
	NotifyPayloadMalformed        NotifyType = 16
	NotifyInvalidKeyInformation   NotifyType = 17
	NotifyInvalidIDInformation    NotifyType = 18
	NotifyInvalidCertEncoding     NotifyType = 19
	NotifyInvalidCertificate      NotifyType = 20
	NotifyCertTypeUnsupported     NotifyType = 21
	NotifyInvalidCertAuthority    NotifyType = 22
	NotifyInvalidHashInformation  NotifyType = 23
	NotifyAuthenticationFailed    NotifyType = 24
	NotifyInvalidSignature        NotifyType = 25
	NotifyAddressNotification     NotifyType = 26
	NotifyNotifySALifetime        NotifyType = 27
	NotifyCertificateUnavailable  NotifyType = 28
	NotifyUnsupportedExchangeType NotifyType = 29
	NotifyUnequalPayloadLengths   NotifyType = 30
	NotifyConnected               NotifyType = 16384
	NotifyResponderLifetime       NotifyType = 24576 // RFC 2407 §4.6.3.1
	NotifyReplayStatus            NotifyType = 24577 // RFC 2407 §4.6.3.2
	NotifyInitialContact          NotifyType = 24578 // RFC 2407 §4.6.3.3
	NotifyDPDRUThere              NotifyType = 36136 // RFC 3706
	NotifyDPDRUThereAck           NotifyType = 36137 // RFC 3706
)

var notifyNames = map[NotifyType]string{
	NotifyInvalidPayloadType:      "INVALID-PAYLOAD-TYPE",
	NotifyDOINotSupported:         "DOI-NOT-SUPPORTED",
	NotifySituationNotSupported:   "SITUATION-NOT-SUPPORTED",
	NotifyInvalidCookie:           "INVALID-COOKIE",
	NotifyInvalidMajorVersion:     "INVALID-MAJOR-VERSION",
	NotifyInvalidMinorVersion:     "INVALID-MINOR-VERSION",
	NotifyInvalidExchangeType:     "INVALID-EXCHANGE-TYPE",
	NotifyInvalidFlags:            "INVALID-FLAGS",
	NotifyInvalidMessageID:        "INVALID-MESSAGE-ID",
	NotifyInvalidProtocolID:       "INVALID-PROTOCOL-ID",
	NotifyInvalidSPI:              "INVALID-SPI",
	NotifyInvalidTransformID:      "INVALID-TRANSFORM-ID",
	NotifyAttributesNotSupported:  "ATTRIBUTES-NOT-SUPPORTED",
	NotifyNoProposalChosen:        "NO-PROPOSAL-CHOSEN",
	NotifyBadProposalSyntax:       "BAD-PROPOSAL-SYNTAX",
	NotifyPayloadMalformed:        "PAYLOAD-MALFORMED",
	NotifyInvalidKeyInformation:   "INVALID-KEY-INFORMATION",
	NotifyInvalidIDInformation:    "INVALID-ID-INFORMATION",
	NotifyInvalidCertEncoding:     "INVALID-CERT-ENCODING",
	NotifyInvalidCertificate:      "INVALID-CERTIFICATE",
	NotifyCertTypeUnsupported:     "CERT-TYPE-UNSUPPORTED",
	NotifyInvalidCertAuthority:    "INVALID-CERT-AUTHORITY",
	NotifyInvalidHashInformation:  "INVALID-HASH-INFORMATION",
	NotifyAuthenticationFailed:    "AUTHENTICATION-FAILED",
	NotifyInvalidSignature:        "INVALID-SIGNATURE",
	NotifyAddressNotification:     "ADDRESS-NOTIFICATION",
	NotifyNotifySALifetime:        "NOTIFY-SA-LIFETIME",
	NotifyCertificateUnavailable:  "CERTIFICATE-UNAVAILABLE",
	NotifyUnsupportedExchangeType: "UNSUPPORTED-EXCHANGE-TYPE",
	NotifyUnequalPayloadLengths:   "UNEQUAL-PAYLOAD-LENGTHS",
	NotifyConnected:               "CONNECTED",
	NotifyResponderLifetime:       "RESPONDER-LIFETIME",
	NotifyReplayStatus:            "REPLAY-STATUS",
	NotifyInitialContact:          "INITIAL-CONTACT",
	NotifyDPDRUThere:              "R-U-THERE",
	NotifyDPDRUThereAck:           "R-U-THERE-ACK",
}

// String returns the notify type's name ("NO-PROPOSAL-CHOSEN", ...), or
// "NOTIFY-<n>".
func (n NotifyType) String() string { return enum.Name(notifyNames, n, "NOTIFY-%d") }

// IsError reports whether n is in the error range (1-16383, RFC 2408 §3.14.1).
func (n NotifyType) IsError() bool { return n >= 1 && n < 16384 }

// CertEncoding is the Certificate Encoding of CERT and CR payloads (RFC 2408
// §3.9).
type CertEncoding uint8

// Certificate encodings.
const (
	CertPKCS7             CertEncoding = 1
	CertPGP               CertEncoding = 2
	CertDNSSignedKey      CertEncoding = 3
	CertX509Signature     CertEncoding = 4
	CertX509KeyExchange   CertEncoding = 5
	CertKerberos          CertEncoding = 6
	CertCRL               CertEncoding = 7
	CertARL               CertEncoding = 8
	CertSPKI              CertEncoding = 9
	CertX509Attribute     CertEncoding = 10
	CertRawRSAKey         CertEncoding = 11 // RFC 4945
	CertHashURLX509       CertEncoding = 12 // RFC 4945
	CertHashURLX509Bundle CertEncoding = 13 // RFC 4945
)

var certNames = map[CertEncoding]string{
	CertPKCS7:             "PKCS7",
	CertPGP:               "PGP",
	CertDNSSignedKey:      "DNS-SIGNED-KEY",
	CertX509Signature:     "X509-SIG",
	CertX509KeyExchange:   "X509-KE",
	CertKerberos:          "KERBEROS",
	CertCRL:               "CRL",
	CertARL:               "ARL",
	CertSPKI:              "SPKI",
	CertX509Attribute:     "X509-ATTR",
	CertRawRSAKey:         "RAW-RSA-KEY",
	CertHashURLX509:       "HASH-URL-X509",
	CertHashURLX509Bundle: "HASH-URL-X509-BUNDLE",
}

// String returns the encoding's name, or "CERT-<n>".
func (c CertEncoding) String() string { return enum.Name(certNames, c, "CERT-%d") }
