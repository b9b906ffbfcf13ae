// Package access authenticates the node's local users and says what each
// caller may do: API tokens (made, shown once, kept hashed, checked in
// constant time), HTTP Bearer and Basic credentials, and the per-collection
// grants behind TAXII's can_read and can_write.
//
// It MUST NOT decide what a caller may see of a collection's objects: the
// release engine does (package policy, through the release sets), with the
// user's clearances and nationality. A grant only opens a collection.
package access

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/tearline/tearline"
)

// TokenPrefix starts every token, so that a leaked one is recognisable
// (by secret scanners, say).
const TokenPrefix = "tl_"

// Errors of authentication. Their texts are for logs; a caller is only
// told that the credentials were refused.
var (
	ErrBadToken      = errors.New("malformed token")
	ErrUnknownToken  = errors.New("unknown or revoked token")
	ErrExpiredToken  = errors.New("expired token")
	ErrDisabledUser  = errors.New("disabled user")
	ErrWrongUser     = errors.New("token belongs to another user")
	ErrNoCredentials = errors.New("no credentials")
)

var tokenForm = regexp.MustCompile(`^tl_([A-Za-z0-9]{16})_([A-Za-z0-9_-]{43})$`)

// NewToken makes a token for user valid for ttl from now: the record to
// store, the SHA-256 of its secret, and the whole token, to show once.
func NewToken(user string, now time.Time, ttl time.Duration) (tearline.Token, [32]byte, string, error) {
	if ttl <= 0 {
		return tearline.Token{}, [32]byte{}, "", fmt.Errorf("token lifetime %s: a token must expire", ttl)
	}
	var idBytes [12]byte
	var secret [32]byte
	if _, err := rand.Read(idBytes[:]); err != nil {
		return tearline.Token{}, [32]byte{}, "", err
	}
	if _, err := rand.Read(secret[:]); err != nil {
		return tearline.Token{}, [32]byte{}, "", err
	}
	id := base64.RawURLEncoding.EncodeToString(idBytes[:])
	// The id must match tokenForm: re-encode the characters base64url may
	// give that the form leaves out.
	id = strings.NewReplacer("-", "A", "_", "B").Replace(id)
	s := base64.RawURLEncoding.EncodeToString(secret[:])
	t := tearline.Token{ID: id, User: user, Created: now.UTC(), Expires: now.Add(ttl).UTC()}
	return t, sha256.Sum256([]byte(s)), TokenPrefix + id + "_" + s, nil
}

// Users is what Authenticate needs of the store.
type Users interface {
	User(ctx context.Context, name string) (tearline.User, error)
	Token(ctx context.Context, id string) (tearline.Token, [32]byte, error)
}

// Check verifies a token at now and returns its user. user, when not
// empty, must be the token's (HTTP Basic names the user).
func Check(ctx context.Context, st Users, token, user string, now time.Time) (tearline.User, error) {
	m := tokenForm.FindStringSubmatch(token)
	if m == nil {
		return tearline.User{}, ErrBadToken
	}
	t, hash, err := st.Token(ctx, m[1])
	if errors.Is(err, tearline.ErrNotFound) {
		return tearline.User{}, ErrUnknownToken
	}
	if err != nil {
		return tearline.User{}, err
	}
	got := sha256.Sum256([]byte(m[2]))
	if subtle.ConstantTimeCompare(got[:], hash[:]) != 1 {
		return tearline.User{}, ErrUnknownToken
	}
	if !now.Before(t.Expires) {
		return tearline.User{}, ErrExpiredToken
	}
	if user != "" && user != t.User {
		return tearline.User{}, ErrWrongUser
	}
	u, err := st.User(ctx, t.User)
	if err != nil {
		return tearline.User{}, err
	}
	if u.Disabled {
		return tearline.User{}, ErrDisabledUser
	}
	return u, nil
}

// FromRequest reads a token from an HTTP request: "Authorization: Bearer
// TOKEN", or HTTP Basic with the user name and the token as password (for
// clients that speak only Basic). It returns ErrNoCredentials when the
// request carries none.
func FromRequest(r *http.Request) (token, user string, err error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return "", "", ErrNoCredentials
	}
	if name, pass, ok := r.BasicAuth(); ok {
		if name == "" || pass == "" {
			return "", "", ErrBadToken
		}
		return pass, name, nil
	}
	scheme, rest, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(rest) == "" {
		return "", "", ErrBadToken
	}
	return strings.TrimSpace(rest), "", nil
}

// Recipient is a user as a release decision sees it: a recipient of the
// user's nation, with the user's clearances.
func Recipient(u *tearline.User) *tearline.Recipient {
	return &tearline.Recipient{Code: u.Nationality, Nationality: u.Nationality, User: u.Name,
		Organisation: u.Organisation, Clearances: u.Clearances}
}
