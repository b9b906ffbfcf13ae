package envelope

import (
	"errors"
	"fmt"
)

// Reasons for refusing an envelope or an object. Open, Parse, ParseHeader,
// ParseProof and VerifyObject return them inside an *Error; test with
// errors.Is.
var (
	// ErrMalformed: the bytes are truncated, too long, or break the format.
	ErrMalformed = errors.New("malformed envelope")
	// ErrUnsupportedVersion: the header names a format version other than
	// FormatVersion.
	ErrUnsupportedVersion = errors.New("unsupported envelope format version")
	// ErrUnsupportedAlgorithm: a validly signed header names an algorithm
	// outside SupportedSuite, or a key is of another algorithm.
	ErrUnsupportedAlgorithm = errors.New("unsupported algorithm")
	// ErrUnknownKey: the sender's key id is not one the receiver knows for
	// that sender. Resolvers return it.
	ErrUnknownKey = errors.New("unknown sender key")
	// ErrKeyRevoked: the sender's key is known but revoked. Resolvers return
	// it.
	ErrKeyRevoked = errors.New("sender key revoked")
	// ErrBadSignature: the signature does not verify over the signed
	// digests with the sender's key.
	ErrBadSignature = errors.New("bad signature")
	// ErrHeaderTampered: the header, wrapped keys included, is not the one
	// that was signed.
	ErrHeaderTampered = errors.New("header does not match its signature")
	// ErrContentTampered: the ciphertext is not the one that was signed, or
	// does not decrypt.
	ErrContentTampered = errors.New("content does not match its signature")
	// ErrNotRecipient: the envelope is not sealed to this partner code and
	// key id.
	ErrNotRecipient = errors.New("not a recipient")
	// ErrKeyUnwrap: the data key wrapped to this key id does not open with
	// the private key given.
	ErrKeyUnwrap = errors.New("data key does not unwrap")
	// ErrObjectTampered: an object's JSON or its label hash does not match
	// the binding that was signed.
	ErrObjectTampered = errors.New("object or label does not match its signed binding")
	// ErrPathTampered: an inclusion proof does not lead to the signed root.
	ErrPathTampered = errors.New("inclusion path does not lead to the signed root")
	// ErrReplay: the sequence number is not greater than the last one
	// accepted from the sender. ReplayGuards return it.
	ErrReplay = errors.New("replayed or out-of-order sequence number")
)

// Error is a refusal, with its Reason (one of the Err variables) and what
// exactly was wrong. errors.Is matches the Reason and, if set, Err.
type Error struct {
	Reason error
	Detail string // what and where: field, offset, object index
	Err    error  // the underlying error, if any (a resolver's, a guard's)
}

func (e *Error) Error() string {
	s := e.Reason.Error()
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	if e.Err != nil && e.Err != e.Reason {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *Error) Unwrap() []error {
	if e.Err == nil {
		return []error{e.Reason}
	}
	return []error{e.Reason, e.Err}
}

func reject(reason error, format string, args ...any) *Error {
	return &Error{Reason: reason, Detail: fmt.Sprintf(format, args...)}
}
