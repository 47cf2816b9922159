package gdoi

import "github.com/getlab/getlab/gateway/wire/internal/enum"

// KEK attributes of a SAK (RFC 6407 §5.3.1).
const (
	KEKManagementAlgorithm uint16 = 1 // B: KEKMgmtLKH; absent in GETVPN
	KEKAlgorithm           uint16 = 2 // B: KEKAlgDES, KEKAlg3DES, KEKAlgAES
	KEKKeyLength           uint16 = 3 // B: bits
	KEKKeyLifetime         uint16 = 4 // V: seconds remaining, usually 4 octets
	SigHashAlgorithm       uint16 = 5 // B: SigHashMD5 ... SigHashSHA512
	SigAlgorithm           uint16 = 6 // B: SigAlgRSA ...
	SigKeyLength           uint16 = 7 // B
	KEOakleyGroup          uint16 = 8 // B: RFC 3547 only
	// KEKAckRequested asks GMs to acknowledge every GROUPKEY-PUSH
	// (RFC 8263); its value is the acknowledgement type.
	KEKAckRequested uint16 = 9 // B: AckKEKSHA256 ...
)

// AckType is a KEK_ACK_REQUESTED value (RFC 8263): the prf and the key
// the acknowledgement's HASH is made with. The LKH ones derive it from an
// LKH key array, which GETVPN never sends; 129-255 are private use.
type AckType uint16

// KEK_ACK_REQUESTED values.
const (
	AckKEKSHA256 AckType = 1 // REKEY_ACK_KEK_SHA256
	AckLKHSHA256 AckType = 2 // REKEY_ACK_LKH_SHA256
	AckKEKSHA512 AckType = 3 // REKEY_ACK_KEK_SHA512
	AckLKHSHA512 AckType = 4 // REKEY_ACK_LKH_SHA512
)

// KEKMgmtLKH is the KEK_MANAGEMENT_ALGORITHM value for LKH.
const KEKMgmtLKH uint16 = 1

// KEKAlg is a KEK_ALGORITHM value.
type KEKAlg uint16

// KEK_ALGORITHM values.
const (
	KEKAlgDES  KEKAlg = 1
	KEKAlg3DES KEKAlg = 2
	KEKAlgAES  KEKAlg = 3 // CBC
)

// SigHash is a SIG_HASH_ALGORITHM value.
type SigHash uint16

// SIG_HASH_ALGORITHM values.
const (
	SigHashMD5    SigHash = 1
	SigHashSHA1   SigHash = 2
	SigHashSHA256 SigHash = 3
	SigHashSHA384 SigHash = 4
	SigHashSHA512 SigHash = 5
)

// SigAlg is a SIG_ALGORITHM value.
type SigAlg uint16

// SIG_ALGORITHM values.
const (
	SigAlgRSA      SigAlg = 1
	SigAlgDSS      SigAlg = 2
	SigAlgECDSS    SigAlg = 3
	SigAlgECDSA256 SigAlg = 4
	SigAlgECDSA384 SigAlg = 5
	SigAlgECDSA521 SigAlg = 6
)

var kekAttrNames = map[uint16]string{
	KEKManagementAlgorithm: "KEK_MANAGEMENT_ALGORITHM",
	KEKAlgorithm:           "KEK_ALGORITHM",
	KEKKeyLength:           "KEK_KEY_LENGTH",
	KEKKeyLifetime:         "KEK_KEY_LIFETIME",
	SigHashAlgorithm:       "SIG_HASH_ALGORITHM",
	SigAlgorithm:           "SIG_ALGORITHM",
	SigKeyLength:           "SIG_KEY_LENGTH",
	KEOakleyGroup:          "KE_OAKLEY_GROUP",
	KEKAckRequested:        "KEK_ACK_REQUESTED",
}

// KEKAttrName returns the name of a SAK (KEK) attribute type.
func KEKAttrName(t uint16) string { return name(kekAttrNames, t) }

// IPsec SA attributes of a SAT for ESP and AH (RFC 2407 §4.5, RFC 6407 §5.4.1).
const (
	SALifeType           uint16 = 1  // B: SALifeSeconds, SALifeKilobytes
	SALifeDuration       uint16 = 2  // V: remaining lifetime
	GroupDescription     uint16 = 3  // B
	EncapsulationMode    uint16 = 4  // B: EncapTunnel, EncapTransport
	AuthAlgorithm        uint16 = 5  // B: HMAC-SHA1 2, HMAC-SHA2-256 5, ... (see package esp)
	KeyLength            uint16 = 6  // B: bits
	KeyRounds            uint16 = 7  // B
	CompressDictSize     uint16 = 8  // B
	CompressPrivateAlg   uint16 = 9  // V
	ECNTunnel            uint16 = 10 // B
	ExtendedSeqNumber    uint16 = 11 // B
	AuthKeyLength        uint16 = 12 // B
	SigEncodingAlgorithm uint16 = 13 // B
	AddressPreservation  uint16 = 14 // B: RFC 6407; AddrPreserveSrcDst when absent
	SADirection          uint16 = 15 // B: RFC 6407; SADirSymmetric when absent
)

// LifeType is an SA_LIFE_TYPE value.
type LifeType uint16

// SA_LIFE_TYPE values.
const (
	SALifeSeconds   LifeType = 1
	SALifeKilobytes LifeType = 2
)

// Encap is an ENCAPSULATION_MODE value.
type Encap uint16

// ENCAPSULATION_MODE values.
const (
	EncapTunnel    Encap = 1
	EncapTransport Encap = 2
)

// AddrPreserve is an ADDRESS_PRESERVATION value (RFC 6407).
type AddrPreserve uint16

// ADDRESS_PRESERVATION values.
const (
	AddrPreserveNone   AddrPreserve = 1
	AddrPreserveSrc    AddrPreserve = 2
	AddrPreserveDst    AddrPreserve = 3
	AddrPreserveSrcDst AddrPreserve = 4
)

// SADir is an SA_DIRECTION value (RFC 6407).
type SADir uint16

// SA_DIRECTION values.
const (
	SADirSenderOnly   SADir = 1
	SADirReceiverOnly SADir = 2
	SADirSymmetric    SADir = 3
)

// What a SAT without ADDRESS_PRESERVATION or SA_DIRECTION means (gdoid sends
// them only when they differ from these; not re-read in RFC 6407 §5.4.1).
const (
	DefaultAddrPreserve = AddrPreserveSrcDst
	DefaultSADirection  = SADirSymmetric
)

var saAttrNames = map[uint16]string{
	SALifeType:           "SA_LIFE_TYPE",
	SALifeDuration:       "SA_LIFE_DURATION",
	GroupDescription:     "GROUP_DESCRIPTION",
	EncapsulationMode:    "ENCAPSULATION_MODE",
	AuthAlgorithm:        "AUTH_ALGORITHM",
	KeyLength:            "KEY_LENGTH",
	KeyRounds:            "KEY_ROUNDS",
	CompressDictSize:     "COMPRESS_DICTIONARY_SIZE",
	CompressPrivateAlg:   "COMPRESS_PRIVATE_ALGORITHM",
	ECNTunnel:            "ECN_TUNNEL",
	ExtendedSeqNumber:    "EXTENDED_SEQUENCE_NUMBER",
	AuthKeyLength:        "AUTH_KEY_LENGTH",
	SigEncodingAlgorithm: "SIG_ENCODING_ALGORITHM",
	AddressPreservation:  "ADDRESS_PRESERVATION",
	SADirection:          "SA_DIRECTION",
}

// SAAttrName returns the name of a SAT (IPsec SA) attribute type.
func SAAttrName(t uint16) string { return name(saAttrNames, t) }

// GAP attributes (RFC 6407 §5.5).
const (
	ActivationTimeDelay   uint16 = 1 // B: seconds (ATD)
	DeactivationTimeDelay uint16 = 2 // B: seconds (DTD)
	SenderIDRequest       uint16 = 3 // B: number of Sender-IDs wanted (GM to KS)
)

var gapAttrNames = map[uint16]string{
	ActivationTimeDelay:   "ACTIVATION_TIME_DELAY",
	DeactivationTimeDelay: "DEACTIVATION_TIME_DELAY",
	SenderIDRequest:       "SENDER_ID_REQUEST",
}

// GAPAttrName returns the name of a GAP attribute type.
func GAPAttrName(t uint16) string { return name(gapAttrNames, t) }

// Key packet attributes (RFC 6407 §5.6), by KD type.
const (
	// TEK key packets.
	TEKAlgorithmKey  uint16 = 1 // V: encryption key (AES-GCM/CTR: key || 4-octet salt)
	TEKIntegrityKey  uint16 = 2 // V: HMAC key
	TEKSourceAuthKey uint16 = 3 // V
	// KEK key packets.
	KEKAlgorithmKey uint16 = 1 // V: IV || KEK encryption key
	SigAlgorithmKey uint16 = 2 // V: the KS's public key (DER SubjectPublicKeyInfo)
	// LKH key packets.
	LKHDownloadArray   uint16 = 1 // V
	LKHUpdateArray     uint16 = 2 // V
	LKHSigAlgorithmKey uint16 = 3 // V (number from TrustCore, not checked against the RFC)
	// SID key packets.
	SIDNumberOfBits uint16 = 1 // B
	SIDValue        uint16 = 2 // V: one attribute per Sender-ID
)

var kpAttrNames = map[KDType]map[uint16]string{
	KDTEK: {TEKAlgorithmKey: "TEK_ALGORITHM_KEY", TEKIntegrityKey: "TEK_INTEGRITY_KEY", TEKSourceAuthKey: "TEK_SOURCE_AUTH_KEY"},
	KDKEK: {KEKAlgorithmKey: "KEK_ALGORITHM_KEY", SigAlgorithmKey: "SIG_ALGORITHM_KEY"},
	KDLKH: {LKHDownloadArray: "LKH_DOWNLOAD_ARRAY", LKHUpdateArray: "LKH_UPDATE_ARRAY", LKHSigAlgorithmKey: "LKH_SIG_ALGORITHM_KEY"},
	KDSID: {SIDNumberOfBits: "NUMBER_OF_SID_BITS", SIDValue: "SID_VALUE"},
}

// KeyPacketAttrName returns the name of an attribute type of a key packet of
// type kd.
func KeyPacketAttrName(kd KDType, t uint16) string { return name(kpAttrNames[kd], t) }

func name(m map[uint16]string, t uint16) string { return enum.Name(m, t, "ATTR-%d") }
