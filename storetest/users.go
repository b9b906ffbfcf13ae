package storetest

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/tearline/tearline"
)

// UserStore is a store that keeps users, tokens, grants and statuses.
type UserStore interface {
	tearline.ObjectStore
	tearline.UserStore
	PutStatus(ctx context.Context, id string, body []byte, expires time.Time) error
	Status(ctx context.Context, id string) ([]byte, error)
	SetCollectionBanner(ctx context.Context, collection, banner string) error
	CollectionBanner(ctx context.Context, collection string) (string, error)
}

// RunUsers checks the storage of users, tokens, grants and TAXII statuses.
func RunUsers(t *testing.T, open func(t *testing.T) UserStore) {
	ctx := context.Background()
	s := open(t)
	t.Cleanup(func() { s.Close() })

	u := tearline.User{Name: "j.smith", Nationality: "GBR", Organisation: "GBR-NLO",
		Clearances:  []tearline.Clearance{{Policy: "GBR", Levels: []string{"OFFICIAL", "SECRET"}, Categories: map[string][]string{"Compartment": {"HYDRA"}}}},
		Communities: []string{"FVEY"}, Roles: []tearline.Role{tearline.RoleAnalyst, tearline.RoleReleaser},
		Created: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	if err := s.PutUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	got, err := s.User(ctx, "j.smith")
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != u.Name || got.Nationality != "GBR" || got.Organisation != "GBR-NLO" || !got.Created.Equal(u.Created) ||
		!slices.Equal(got.Roles, u.Roles) || !slices.Equal(got.Communities, u.Communities) || len(got.Clearances) != 1 ||
		!slices.Equal(got.Clearances[0].Levels, u.Clearances[0].Levels) || got.Clearances[0].Categories["Compartment"][0] != "HYDRA" {
		t.Errorf("User = %+v; want %+v", got, u)
	}
	u.Disabled = true
	if err := s.PutUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.User(ctx, "j.smith"); !got.Disabled {
		t.Error("PutUser(disabled) did not replace the record")
	}
	if _, err := s.User(ctx, "nobody"); !errors.Is(err, tearline.ErrNotFound) {
		t.Errorf("User(nobody) = %v; want ErrNotFound", err)
	}
	if err := s.PutUser(ctx, tearline.User{Name: "a.admin", Nationality: "GBR", Roles: []tearline.Role{tearline.RoleAdmin}}); err != nil {
		t.Fatal(err)
	}
	if all, err := s.Users(ctx); err != nil || len(all) != 2 || all[0].Name != "a.admin" {
		t.Errorf("Users = %v, %v; want a.admin and j.smith", all, err)
	}

	tok := tearline.Token{ID: "tok1", User: "j.smith", Created: time.Date(2026, 1, 3, 0, 0, 0, 0, time.UTC), Expires: time.Date(2026, 4, 3, 0, 0, 0, 0, time.UTC)}
	hash := [32]byte{1, 2, 3}
	if err := s.AddToken(ctx, tok, hash); err != nil {
		t.Fatal(err)
	}
	if err := s.AddToken(ctx, tearline.Token{ID: "tok2", User: "nobody", Created: tok.Created, Expires: tok.Expires}, hash); err == nil {
		t.Error("AddToken for an unknown user succeeded")
	}
	gt, gh, err := s.Token(ctx, "tok1")
	if err != nil || gt.User != "j.smith" || !gt.Expires.Equal(tok.Expires) || gh != hash {
		t.Errorf("Token(tok1) = %+v, %x, %v", gt, gh, err)
	}
	if ts, err := s.Tokens(ctx, "j.smith"); err != nil || len(ts) != 1 {
		t.Errorf("Tokens = %v, %v; want one", ts, err)
	}
	if err := s.RevokeToken(ctx, "tok1"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Token(ctx, "tok1"); !errors.Is(err, tearline.ErrNotFound) {
		t.Errorf("Token after revoke = %v; want ErrNotFound", err)
	}
	if err := s.RevokeToken(ctx, "tok1"); !errors.Is(err, tearline.ErrNotFound) {
		t.Errorf("RevokeToken twice = %v; want ErrNotFound", err)
	}

	for _, g := range []tearline.Grant{
		{Principal: "j.smith", Collection: "c1", Read: true},
		{Principal: "j.smith", Collection: "c2", Read: true, Write: true},
		{Principal: "FRA", Collection: "c1", Read: true},
		{Principal: "j.smith", Collection: "c1", Read: true, Write: true}, // replaces
	} {
		if err := s.SetGrant(ctx, g); err != nil {
			t.Fatal(err)
		}
	}
	gs, err := s.Grants(ctx, "j.smith")
	if err != nil || len(gs) != 2 || !gs[0].Write || gs[0].Collection != "c1" {
		t.Errorf("Grants(j.smith) = %+v, %v", gs, err)
	}
	if err := s.SetGrant(ctx, tearline.Grant{Principal: "j.smith", Collection: "c2"}); err != nil {
		t.Fatal(err)
	}
	if gs, _ := s.Grants(ctx, ""); len(gs) != 2 {
		t.Errorf("Grants() after removing one = %+v; want 2", gs)
	}

	if err := s.PutStatus(ctx, "st1", []byte(`{"id":"st1"}`), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := s.PutStatus(ctx, "old", []byte(`{}`), time.Now().Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	if b, err := s.Status(ctx, "st1"); err != nil || string(b) != `{"id":"st1"}` {
		t.Errorf("Status(st1) = %s, %v", b, err)
	}
	if _, err := s.Status(ctx, "old"); !errors.Is(err, tearline.ErrNotFound) {
		t.Errorf("Status(expired) = %v; want ErrNotFound", err)
	}

	if b, err := s.CollectionBanner(ctx, "c1"); err != nil || b != "" {
		t.Errorf("CollectionBanner before any = %q, %v; want none", b, err)
	}
	for _, b := range []string{"GBR OFFICIAL", "GBR SECRET//REL TO USA, GBR"} {
		if err := s.SetCollectionBanner(ctx, "c1", b); err != nil {
			t.Fatal(err)
		}
		if got, err := s.CollectionBanner(ctx, "c1"); err != nil || got != b {
			t.Errorf("CollectionBanner = %q, %v; want %q", got, err, b)
		}
	}
	if err := s.SetCollectionBanner(ctx, "c1", ""); err != nil {
		t.Fatal(err)
	}
	if b, _ := s.CollectionBanner(ctx, "c1"); b != "" {
		t.Errorf("CollectionBanner after clearing = %q", b)
	}
}
