package tearline

import (
	"context"
	"time"
)

// Role is what a local user may do on the node.
type Role string

const (
	// RoleAnalyst reads what the user's clearance allows and publishes.
	RoleAnalyst Role = "analyst"
	// RoleReleaser also decides release requests and consents.
	RoleReleaser Role = "releaser"
	// RoleAdmin also manages users, grants and agreements.
	RoleAdmin Role = "admin"
)

// Known reports whether r is one of the roles above.
func (r Role) Known() bool { return r == RoleAnalyst || r == RoleReleaser || r == RoleAdmin }

// User is a person or tool of the node's own organisation (or a foreign
// liaison officer seated with it). What a user may see is decided by the
// release engine exactly like what a partner may receive, with the user's
// clearances and nationality.
type User struct {
	Name         string
	Nationality  string // the trigraph of the user's nation
	Organisation string
	Clearances   []Clearance
	// Communities the user belongs to, as recorded by the administrator.
	// Decisions take community membership from the user's nation.
	Communities []string
	Roles       []Role
	Disabled    bool
	Created     time.Time
}

// Has reports whether the user holds role.
func (u *User) Has(role Role) bool {
	for _, r := range u.Roles {
		if r == role {
			return true
		}
	}
	return false
}

// Token is an API token of a user. Its secret is shown once when it is
// made; stores keep only its SHA-256.
type Token struct {
	ID      string // public part, also the key it is looked up by
	User    string
	Created time.Time
	// Expires ends the token; a token always expires.
	Expires time.Time
}

// Grant is what a principal (a user name or a partner code) may do with
// one collection.
type Grant struct {
	Principal  string
	Collection string // the collection's id
	Read       bool
	Write      bool
}

// UserStore keeps local users, their API tokens and the per-collection
// grants of users and partners.
type UserStore interface {
	// PutUser creates the user or replaces its record.
	PutUser(ctx context.Context, u User) error
	// User returns one user; ErrNotFound when there is none.
	User(ctx context.Context, name string) (User, error)
	Users(ctx context.Context) ([]User, error)
	// AddToken stores a token with the SHA-256 of its secret.
	AddToken(ctx context.Context, t Token, secretHash [32]byte) error
	// Token returns a token and the SHA-256 of its secret; ErrNotFound
	// when there is none.
	Token(ctx context.Context, id string) (Token, [32]byte, error)
	// Tokens lists a user's tokens.
	Tokens(ctx context.Context, user string) ([]Token, error)
	// RevokeToken deletes a token.
	RevokeToken(ctx context.Context, id string) error
	// SetGrant records a grant; a grant with neither Read nor Write
	// removes it.
	SetGrant(ctx context.Context, g Grant) error
	// Grants lists the grants of a principal ("" for all).
	Grants(ctx context.Context, principal string) ([]Grant, error)
}
