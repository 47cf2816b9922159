package esp

import (
	"errors"
	"fmt"
)

// Sentinel errors; a *ParseError wraps one of them.
var (
	// ErrShort reports input that ends before a field does.
	ErrShort = errors.New("short input")
	// ErrLength reports a ciphertext that is not a whole number of cipher blocks.
	ErrLength = errors.New("length not a multiple of the cipher block size")
	// ErrPadding reports a pad length that does not fit or padding octets that
	// do not follow the RFC 4303 §2.4 pattern 1, 2, 3, ...
	ErrPadding = errors.New("bad padding")
	// ErrTransform reports a transform that is unknown or not a valid
	// combination (for example AES-CBC without an integrity algorithm).
	ErrTransform = errors.New("unsupported transform")
)

// ParseError is the error for short or malformed input. Offset is the octet
// offset of Field within the input given to the function that failed (the
// packet for Split and ParseHeader, the decrypted plaintext for ParseTrailer).
type ParseError struct {
	Field  string // "ESP header", "IV", "ciphertext", "pad length", "padding", ...
	Offset int
	Err    error // ErrShort, ErrLength or ErrPadding
	// Want and Have detail the failure: for ErrShort the octets needed and
	// present from Offset on; for ErrLength the cipher block size and the
	// length found; for ErrPadding in "padding" the expected and found octet
	// value, in "pad length" the octets available and the pad length found.
	Want, Have int
}

func (e *ParseError) Error() string {
	var detail string
	switch {
	case e.Err == ErrShort:
		detail = fmt.Sprintf(" (need %d octets, have %d)", e.Want, e.Have)
	case e.Err == ErrLength:
		detail = fmt.Sprintf(" (length %d, block size %d)", e.Have, e.Want)
	case e.Err == ErrPadding && e.Field == "pad length":
		detail = fmt.Sprintf(" (pad length %d, only %d octets before it)", e.Have, e.Want)
	case e.Err == ErrPadding:
		detail = fmt.Sprintf(" (octet is 0x%02x, want 0x%02x)", e.Have, e.Want)
	}
	return fmt.Sprintf("esp: %s at offset %d: %v%s", e.Field, e.Offset, e.Err, detail)
}

func (e *ParseError) Unwrap() error { return e.Err }

func short(field string, off, want, have int) error {
	return &ParseError{Field: field, Offset: off, Err: ErrShort, Want: want, Have: have}
}
