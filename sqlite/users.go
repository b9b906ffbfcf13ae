package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/tearline/tearline"
)

var _ tearline.UserStore = (*Store)(nil)

// PutUser creates the user or replaces its record.
func (s *Store) PutUser(ctx context.Context, u tearline.User) error {
	cl, err := json.Marshal(u.Clearances)
	if err != nil {
		return fmt.Errorf("put user %s: %w", u.Name, err)
	}
	if u.Created.IsZero() {
		u.Created = s.now()
	}
	roles := make([]string, len(u.Roles))
	for i, r := range u.Roles {
		roles[i] = string(r)
	}
	_, err = s.exec(ctx, `INSERT INTO users (name, nationality, organisation, clearances, communities, roles, disabled, created)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET nationality = excluded.nationality, organisation = excluded.organisation,
			clearances = excluded.clearances, communities = excluded.communities, roles = excluded.roles, disabled = excluded.disabled`,
		u.Name, u.Nationality, u.Organisation, string(cl), strings.Join(u.Communities, ","), strings.Join(roles, ","), u.Disabled, u.Created.UnixMicro())
	if err != nil {
		return fmt.Errorf("put user %s: %w", u.Name, err)
	}
	return nil
}

const userColumns = `name, nationality, organisation, clearances, communities, roles, disabled, created`

func scanUser(sc interface{ Scan(...any) error }) (tearline.User, error) {
	var u tearline.User
	var cl, comms, roles string
	var created int64
	if err := sc.Scan(&u.Name, &u.Nationality, &u.Organisation, &cl, &comms, &roles, &u.Disabled, &created); err != nil {
		return u, err
	}
	if err := json.Unmarshal([]byte(cl), &u.Clearances); err != nil {
		return u, fmt.Errorf("user %s: stored clearances: %w", u.Name, err)
	}
	u.Communities = splitList(comms)
	for _, r := range splitList(roles) {
		u.Roles = append(u.Roles, tearline.Role(r))
	}
	u.Created = time.UnixMicro(created).UTC()
	return u, nil
}

// User returns one user.
func (s *Store) User(ctx context.Context, name string) (tearline.User, error) {
	u, err := scanUser(s.db.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE name = ?`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return u, fmt.Errorf("user %q: %w", name, tearline.ErrNotFound)
	}
	if err != nil {
		return u, fmt.Errorf("user %q: %w", name, err)
	}
	return u, nil
}

// Users lists every user by name.
func (s *Store) Users(ctx context.Context) ([]tearline.User, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+userColumns+` FROM users ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("users: %w", err)
	}
	defer rows.Close()
	var out []tearline.User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, fmt.Errorf("users: %w", err)
		}
		out = append(out, u)
	}
	return out, rows.Err()
}

// AddToken stores a token with the hash of its secret.
func (s *Store) AddToken(ctx context.Context, t tearline.Token, secretHash [32]byte) error {
	if _, err := s.exec(ctx, `INSERT INTO tokens (id, user, hash, created, expires) VALUES (?, ?, ?, ?, ?)`,
		t.ID, t.User, secretHash[:], t.Created.UnixMicro(), t.Expires.UnixMicro()); err != nil {
		return fmt.Errorf("add token for %s: %w", t.User, err)
	}
	return nil
}

// Token returns a token and the hash of its secret.
func (s *Store) Token(ctx context.Context, id string) (tearline.Token, [32]byte, error) {
	var t tearline.Token
	var hash []byte
	var created, expires int64
	err := s.db.QueryRowContext(ctx, `SELECT id, user, hash, created, expires FROM tokens WHERE id = ?`, id).
		Scan(&t.ID, &t.User, &hash, &created, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return t, [32]byte{}, fmt.Errorf("token: %w", tearline.ErrNotFound)
	}
	if err != nil {
		return t, [32]byte{}, fmt.Errorf("token: %w", err)
	}
	if len(hash) != 32 {
		return t, [32]byte{}, fmt.Errorf("token %s: stored hash of %d bytes", id, len(hash))
	}
	t.Created, t.Expires = time.UnixMicro(created).UTC(), time.UnixMicro(expires).UTC()
	return t, [32]byte(hash), nil
}

// Tokens lists a user's tokens, oldest first.
func (s *Store) Tokens(ctx context.Context, user string) ([]tearline.Token, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, user, created, expires FROM tokens WHERE user = ? ORDER BY created, id`, user)
	if err != nil {
		return nil, fmt.Errorf("tokens of %s: %w", user, err)
	}
	defer rows.Close()
	var out []tearline.Token
	for rows.Next() {
		var t tearline.Token
		var created, expires int64
		if err := rows.Scan(&t.ID, &t.User, &created, &expires); err != nil {
			return nil, fmt.Errorf("tokens of %s: %w", user, err)
		}
		t.Created, t.Expires = time.UnixMicro(created).UTC(), time.UnixMicro(expires).UTC()
		out = append(out, t)
	}
	return out, rows.Err()
}

// RevokeToken deletes a token.
func (s *Store) RevokeToken(ctx context.Context, id string) error {
	res, err := s.exec(ctx, `DELETE FROM tokens WHERE id = ?`, id)
	if err != nil {
		return fmt.Errorf("revoke token %s: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("revoke token %s: %w", id, tearline.ErrNotFound)
	}
	return nil
}

// SetGrant records a grant, or removes it when it grants nothing.
func (s *Store) SetGrant(ctx context.Context, g tearline.Grant) error {
	var err error
	if !g.Read && !g.Write {
		_, err = s.exec(ctx, `DELETE FROM grants WHERE principal = ? AND collection = ?`, g.Principal, g.Collection)
	} else {
		_, err = s.exec(ctx, `INSERT INTO grants (principal, collection, can_read, can_write) VALUES (?, ?, ?, ?)
			ON CONFLICT (principal, collection) DO UPDATE SET can_read = excluded.can_read, can_write = excluded.can_write`,
			g.Principal, g.Collection, g.Read, g.Write)
	}
	if err != nil {
		return fmt.Errorf("grant %s on %s: %w", g.Principal, g.Collection, err)
	}
	return nil
}

// Grants lists the grants of a principal, or all of them.
func (s *Store) Grants(ctx context.Context, principal string) ([]tearline.Grant, error) {
	q, args := `SELECT principal, collection, can_read, can_write FROM grants`, []any{}
	if principal != "" {
		q, args = q+` WHERE principal = ?`, append(args, principal)
	}
	rows, err := s.db.QueryContext(ctx, q+` ORDER BY principal, collection`, args...)
	if err != nil {
		return nil, fmt.Errorf("grants: %w", err)
	}
	defer rows.Close()
	var out []tearline.Grant
	for rows.Next() {
		var g tearline.Grant
		if err := rows.Scan(&g.Principal, &g.Collection, &g.Read, &g.Write); err != nil {
			return nil, fmt.Errorf("grants: %w", err)
		}
		out = append(out, g)
	}
	return out, rows.Err()
}

// Status returns a status resource that has not expired.
func (s *Store) Status(ctx context.Context, id string) ([]byte, error) {
	var body []byte
	err := s.db.QueryRowContext(ctx, `SELECT body FROM taxii_statuses WHERE id = ? AND expires > ?`, id, s.now().UnixMicro()).Scan(&body)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("status %s: %w", id, tearline.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("status %s: %w", id, err)
	}
	return body, nil
}

// SetCollectionBanner sets the default label of a collection (by id); an
// empty banner removes it.
func (s *Store) SetCollectionBanner(ctx context.Context, collection, banner string) error {
	var err error
	if banner == "" {
		_, err = s.exec(ctx, `DELETE FROM collection_banners WHERE collection = ?`, collection)
	} else {
		_, err = s.exec(ctx, `INSERT INTO collection_banners (collection, banner) VALUES (?, ?)
			ON CONFLICT (collection) DO UPDATE SET banner = excluded.banner`, collection, banner)
	}
	if err != nil {
		return fmt.Errorf("collection %s banner: %w", collection, err)
	}
	return nil
}

// CollectionBanner returns the default label of a collection (by id), ""
// when it has none.
func (s *Store) CollectionBanner(ctx context.Context, collection string) (string, error) {
	var banner string
	err := s.db.QueryRowContext(ctx, `SELECT banner FROM collection_banners WHERE collection = ?`, collection).Scan(&banner)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("collection %s banner: %w", collection, err)
	}
	return banner, nil
}
