package access

import (
	"context"
	"errors"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tearline/tearline"
	"github.com/tearline/tearline/fuzzseed"
	"github.com/tearline/tearline/sqlite"
)

func store(t *testing.T) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "node.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestTokens(t *testing.T) {
	ctx := context.Background()
	s := store(t)
	now := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	for _, name := range []string{"j.smith", "k.jones"} {
		if err := s.PutUser(ctx, tearline.User{Name: name, Nationality: "GBR", Roles: []tearline.Role{tearline.RoleAnalyst}}); err != nil {
			t.Fatal(err)
		}
	}
	rec, hash, token, err := NewToken("j.smith", now, 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(token, TokenPrefix) || strings.Contains(token, string(hash[:])) {
		t.Fatalf("NewToken = %q", token)
	}
	if err := s.AddToken(ctx, rec, hash); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := NewToken("j.smith", now, 0); err == nil {
		t.Error("NewToken with no lifetime succeeded")
	}
	// Another character of the token's alphabet in the secret's last
	// place: well-formed, but not the secret issued.
	tamper := []byte(token)
	if tamper[len(tamper)-1] == 'A' {
		tamper[len(tamper)-1] = 'B'
	} else {
		tamper[len(tamper)-1] = 'A'
	}
	cases := []struct {
		name, token, user string
		at                time.Time
		want              error
	}{
		{"valid", token, "", now.Add(time.Hour), nil},
		{"valid with its user", token, "j.smith", now.Add(time.Hour), nil},
		{"another user's name", token, "k.jones", now.Add(time.Hour), ErrWrongUser},
		{"expired", token, "", now.Add(24 * time.Hour), ErrExpiredToken},
		{"wrong secret", string(tamper), "", now, ErrUnknownToken},
		{"unknown id", TokenPrefix + "AAAAAAAAAAAAAAAA_" + strings.Repeat("A", 43), "", now, ErrUnknownToken},
		{"malformed", "hunter2", "", now, ErrBadToken},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			u, err := Check(ctx, s, c.token, c.user, c.at)
			if !errors.Is(err, c.want) || c.want == nil && u.Name != "j.smith" {
				t.Errorf("Check(%s) = %q, %v; want %v", c.name, u.Name, err, c.want)
			}
		})
	}
	if err := s.PutUser(ctx, tearline.User{Name: "j.smith", Nationality: "GBR", Disabled: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := Check(ctx, s, token, "", now); !errors.Is(err, ErrDisabledUser) {
		t.Errorf("Check(disabled user) = %v; want ErrDisabledUser", err)
	}
}

func TestFromRequest(t *testing.T) {
	cases := []struct {
		header, token, user string
		want                error
	}{
		{"", "", "", ErrNoCredentials},
		{"Bearer tl_abc", "tl_abc", "", nil},
		{"bearer   tl_abc ", "tl_abc", "", nil},
		{"Basic ajpzbWl0aDp0bF9hYmM=", "smith:tl_abc", "j", nil}, // "j:smith:tl_abc": a user name has no colon
		{"Basic am9objp0bF9hYmM=", "tl_abc", "john", nil},
		{"Basic Om5vdXNlcg==", "", "", ErrBadToken}, // ":nouser"
		{"Bearer", "", "", ErrBadToken},
		{"Digest x", "", "", ErrBadToken},
	}
	for _, c := range cases {
		r := httptest.NewRequest("GET", "/", nil)
		if c.header != "" {
			r.Header.Set("Authorization", c.header)
		}
		token, user, err := FromRequest(r)
		if !errors.Is(err, c.want) || err == nil && (token != c.token || user != c.user) {
			t.Errorf("FromRequest(%q) = %q, %q, %v; want %q, %q, %v", c.header, token, user, err, c.token, c.user, c.want)
		}
	}
}

// FuzzCredentials: no Authorization header or token makes the reader or
// the checker panic, and a token that does not have the token form is
// refused before the store is asked.
func FuzzCredentials(f *testing.F) {
	fuzzseed.Require(f)
	s := store(&testing.T{})
	f.Fuzz(func(t *testing.T, header string) {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Authorization", header)
		token, user, err := FromRequest(r)
		if err != nil {
			return
		}
		if _, err := Check(context.Background(), s, token, user, time.Now()); err == nil {
			t.Fatalf("Check(%q) succeeded against an empty store", token)
		}
	})
}
