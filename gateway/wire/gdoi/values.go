package gdoi

import "github.com/getlab/getlab/gateway/wire/internal/enum"

// The attribute values' names, as the control API and the key log write
// them: lower case, the algorithm's common name. An unknown value is its
// number.

func (a KEKAlg) String() string {
	return valueName(a, map[KEKAlg]string{KEKAlgDES: "des", KEKAlg3DES: "3des", KEKAlgAES: "aes"})
}

func (h SigHash) String() string {
	return valueName(h, map[SigHash]string{SigHashMD5: "md5", SigHashSHA1: "sha1", SigHashSHA256: "sha256",
		SigHashSHA384: "sha384", SigHashSHA512: "sha512"})
}

func (a SigAlg) String() string {
	return valueName(a, map[SigAlg]string{SigAlgRSA: "rsa", SigAlgDSS: "dss", SigAlgECDSS: "ecdss",
		SigAlgECDSA256: "ecdsa256", SigAlgECDSA384: "ecdsa384", SigAlgECDSA521: "ecdsa521"})
}

func (a AckType) String() string {
	return valueName(a, map[AckType]string{AckKEKSHA256: "kek-sha256", AckLKHSHA256: "lkh-sha256",
		AckKEKSHA512: "kek-sha512", AckLKHSHA512: "lkh-sha512"})
}

func (t LifeType) String() string {
	return valueName(t, map[LifeType]string{SALifeSeconds: "seconds", SALifeKilobytes: "kilobytes"})
}

func (e Encap) String() string {
	return valueName(e, map[Encap]string{EncapTunnel: "tunnel", EncapTransport: "transport"})
}

func (a AddrPreserve) String() string {
	return valueName(a, map[AddrPreserve]string{AddrPreserveNone: "none", AddrPreserveSrc: "src",
		AddrPreserveDst: "dst", AddrPreserveSrcDst: "src-dst"})
}

func (d SADir) String() string {
	return valueName(d, map[SADir]string{SADirSenderOnly: "send", SADirReceiverOnly: "receive", SADirSymmetric: "both"})
}

func valueName[T ~uint16](v T, names map[T]string) string { return enum.Name(names, v, "%d") }
