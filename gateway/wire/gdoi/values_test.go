package gdoi

import "testing"

// Every named value has its name, an unknown one its number; the names
// are what the control API has always shown.
func TestValueNames(t *testing.T) {
	for _, c := range []struct {
		got, want string
	}{
		{KEKAlgAES.String(), "aes"}, {KEKAlg3DES.String(), "3des"}, {KEKAlg(9).String(), "9"},
		{SigHashSHA1.String(), "sha1"}, {SigHashSHA512.String(), "sha512"},
		{SigAlgRSA.String(), "rsa"}, {SigAlg(77).String(), "77"},
		{AckKEKSHA256.String(), "kek-sha256"}, {AckLKHSHA512.String(), "lkh-sha512"}, {AckType(200).String(), "200"},
		{SALifeKilobytes.String(), "kilobytes"}, {EncapTunnel.String(), "tunnel"},
		{AddrPreserveSrcDst.String(), "src-dst"}, {AddrPreserveNone.String(), "none"},
		{SADirSenderOnly.String(), "send"}, {SADirReceiverOnly.String(), "receive"}, {DefaultSADirection.String(), "both"},
	} {
		if c.got != c.want {
			t.Errorf("%q, want %q", c.got, c.want)
		}
	}
}
