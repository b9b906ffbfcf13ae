package policy

import (
	"errors"
	"slices"
	"testing"

	"github.com/tearline/tearline"
)

func TestBuiltinNATO(t *testing.T) {
	reg := Builtin()
	nato, ok := reg.Community("NATO")
	if !ok || len(nato.Members) != 32 {
		t.Fatalf("Community(NATO) = %d members, %v; want 32", len(nato.Members), ok)
	}
	// Accession dates, from the founders to the latest members.
	for _, c := range []struct {
		code, joined string
	}{
		{"USA", "1949-04-04"}, {"GBR", "1949-04-04"}, {"FRA", "1949-04-04"}, {"ISL", "1949-04-04"},
		{"GRC", "1952-02-18"}, {"TUR", "1952-02-18"}, {"DEU", "1955-05-06"}, {"ESP", "1982-05-30"},
		{"POL", "1999-03-12"}, {"EST", "2004-03-29"}, {"HRV", "2009-04-01"}, {"MNE", "2017-06-05"},
		{"MKD", "2020-03-27"}, {"FIN", "2023-04-04"}, {"SWE", "2024-03-07"},
	} {
		day := date(c.joined)
		if reg.MemberAt(c.code, "NATO", day.AddDate(0, 0, -1)) || !reg.MemberAt(c.code, "NATO", day) {
			t.Errorf("MemberAt(%s, NATO) around %s: want member from that day, not before", c.code, c.joined)
		}
	}
	for _, code := range []string{"AUS", "NZL", "JPN", "EUROPOL"} {
		if reg.MemberAt(code, "NATO", date("2025-01-01")) {
			t.Errorf("MemberAt(%s, NATO) = true; want false", code)
		}
	}
	if n := len(reg.Expand("NATO", date("2023-04-03"))); n != 30 {
		t.Errorf("Expand(NATO, 2023-04-03) has %d members; want 30", n)
	}
	if n := len(reg.Expand("NATO", date("2024-03-07"))); n != 32 {
		t.Errorf("Expand(NATO, 2024-03-07) has %d members; want 32", n)
	}
}

func TestExpand(t *testing.T) {
	reg := testRegistry(t)
	for _, c := range []struct {
		code, at string
		want     []string
	}{
		{"FVEY", "2025-01-01", []string{"AUS", "CAN", "GBR", "NZL", "USA"}},
		{"ACGU", "2025-01-01", []string{"AUS", "CAN", "GBR", "USA"}},
		{"TEYE", "1990-01-01", []string{"CAN", "GBR", "USA"}},
		{"GBR", "2025-01-01", []string{"GBR"}},
		{"CTG", "2024-06-01", []string{"DEU", "FRA", "GBR"}},
		{"CTG", "2025-01-01", []string{"FRA", "GBR", "NLD"}},
		{"CTG", "2009-01-01", nil},
		{"ZZZZ", "2025-01-01", nil},
		{"", "2025-01-01", nil},
	} {
		if got := reg.Expand(c.code, date(c.at)); !slices.Equal(got, c.want) {
			t.Errorf("Expand(%s, %s) = %v; want %v", c.code, c.at, got, c.want)
		}
	}
}

func TestMemberAt(t *testing.T) {
	reg := testRegistry(t)
	for _, c := range []struct {
		partner, code, at string
		want              bool
	}{
		{"GBR", "GBR", "2025-01-01", true},
		{"GBR", "FRA", "2025-01-01", false},
		{"GBR", "FVEY", "2025-01-01", true},
		{"DEU", "CTG", "2024-12-31", true},
		{"DEU", "CTG", "2025-01-01", false},
		{"NLD", "CTG", "2025-01-01", true},
		{"ATL", "ATL", "2025-01-01", false},  // an unknown partner is nobody
		{"GBR", "ZZZZ", "2025-01-01", false}, // an unknown community has no one
		{"FVEY", "FVEY", "2025-01-01", false},
	} {
		if got := reg.MemberAt(c.partner, c.code, date(c.at)); got != c.want {
			t.Errorf("MemberAt(%s, %s, %s) = %v; want %v", c.partner, c.code, c.at, got, c.want)
		}
	}
}

func TestRegistryRejects(t *testing.T) {
	reg := Builtin()
	for _, c := range []struct {
		name string
		err  error
		want error
	}{
		{"partner code", reg.AddPartner(tearline.Partner{Code: "gbr"}), tearline.ErrInvalid},
		{"partner again", reg.AddPartner(tearline.Partner{Code: "GBR"}), tearline.ErrExists},
		{"partner named as a community", reg.AddPartner(tearline.Partner{Code: "NATO"}), tearline.ErrExists},
		{"community code", reg.AddCommunity(tearline.Community{Code: "x"}), tearline.ErrInvalid},
		{"community again", reg.AddCommunity(tearline.Community{Code: "FVEY"}), tearline.ErrExists},
		{"unknown member", reg.AddCommunity(tearline.Community{Code: "GRP", Members: []tearline.Membership{{Partner: "ATL"}}}), tearline.ErrInvalid},
		{"ends before it starts", reg.AddCommunity(tearline.Community{Code: "GRP", Members: []tearline.Membership{
			{Partner: "GBR", From: date("2020-01-01"), Until: date("2019-01-01")}}}), tearline.ErrInvalid},
		{"overlapping memberships", reg.AddCommunity(tearline.Community{Code: "GRP", Members: []tearline.Membership{
			{Partner: "GBR", From: date("2020-01-01")}, {Partner: "GBR", From: date("2021-01-01"), Until: date("2022-01-01")}}}), tearline.ErrInvalid},
	} {
		if !errors.Is(c.err, c.want) {
			t.Errorf("%s: error %v; want %v", c.name, c.err, c.want)
		}
	}
	// Leaving and rejoining is two memberships.
	err := reg.AddCommunity(tearline.Community{Code: "GRP", Members: []tearline.Membership{
		{Partner: "GBR", From: date("2020-01-01"), Until: date("2021-01-01")}, {Partner: "GBR", From: date("2022-01-01")}}})
	if err != nil {
		t.Fatalf("AddCommunity(left and rejoined) = %v", err)
	}
	for _, c := range []struct {
		at   string
		want bool
	}{{"2020-06-01", true}, {"2021-06-01", false}, {"2022-06-01", true}} {
		if got := reg.MemberAt("GBR", "GRP", date(c.at)); got != c.want {
			t.Errorf("MemberAt(GBR, GRP, %s) = %v; want %v", c.at, got, c.want)
		}
	}
	// What Community returns is a copy.
	g, _ := reg.Community("GRP")
	g.Members[0].Partner = "FRA"
	if g2, _ := reg.Community("GRP"); g2.Members[0].Partner != "GBR" {
		t.Error("Community returned the registry's own slice")
	}
}
