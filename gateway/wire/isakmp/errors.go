package isakmp

import (
	"errors"
	"fmt"
)

// Sentinel errors. Every decoding error matches one of them with errors.Is.
var (
	// ErrShort reports input that ends before a field does.
	ErrShort = errors.New("short input")
	// ErrLength reports a length or count field that does not agree with the
	// octets present (too small, beyond its container, or leaving octets over).
	ErrLength = errors.New("bad length")
	// ErrChain reports a broken Next Payload chain: a payload announced where
	// no octets remain, octets after the payload that ended the chain, or a
	// Next Payload value not allowed at that place.
	ErrChain = errors.New("bad next-payload chain")
	// ErrVersion reports an ISAKMP major version other than 1.
	ErrVersion = errors.New("unsupported version")
	// ErrUnsupported reports a well-formed encoding this codec does not decode
	// (for example an IPsec DOI situation with secrecy or integrity labels).
	ErrUnsupported = errors.New("unsupported encoding")
)

// Error is the error for a malformed message or payload. Payload names what
// failed: a payload type as PayloadType.String gives it ("SA", "SAT", "KD",
// ...), "header" for the ISAKMP header, or "" for a payload chain as a whole.
// Offset is the absolute offset of that payload's generic header (of the
// header, of the chain) in the message, or in the buffer given to
// ParsePayloads. Err is the cause; for a payload nested in another (a SAT in
// a GDOI SA) it is the nested payload's *Error.
type Error struct {
	Payload string
	Offset  int
	Err     error
}

func (e *Error) Error() string { return "isakmp: " + e.detail() }

func (e *Error) detail() string {
	var what string
	switch e.Payload {
	case "header":
		what = "header"
	case "":
		what = "payload chain"
	default:
		what = e.Payload + " payload"
	}
	cause := "<nil>"
	if inner, ok := e.Err.(*Error); ok {
		cause = inner.detail()
	} else if e.Err != nil {
		cause = e.Err.Error()
	}
	return fmt.Sprintf("%s at offset %d: %s", what, e.Offset, cause)
}

func (e *Error) Unwrap() error { return e.Err }

// Innermost returns the most deeply nested *Error in err's chain (the nested
// payload that failed), or nil if there is none.
func Innermost(err error) *Error {
	var last *Error
	for err != nil {
		if e, ok := err.(*Error); ok {
			last = e
		}
		err = errors.Unwrap(err)
	}
	return last
}

// kindError is a detail message that matches one of the sentinel errors.
type kindError struct {
	kind error
	msg  string
}

func (e *kindError) Error() string { return e.msg }
func (e *kindError) Unwrap() error { return e.kind }

// Errorf returns an error with the formatted message that matches kind with
// errors.Is. Codecs built on this package use it for their detail messages,
// so that their errors read and match like this package's.
func Errorf(kind error, format string, args ...any) error {
	return &kindError{kind: kind, msg: fmt.Sprintf(format, args...)}
}

// needShort is the error for a fixed-size field that does not fit.
func needShort(what string, want, have int) error {
	return Errorf(ErrShort, "%s needs %d %s, %d remaining", what, want, octets(want), have)
}

func octets(n int) string {
	if n == 1 {
		return "octet"
	}
	return "octets"
}
