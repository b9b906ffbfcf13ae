package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/tearline/tearline"
	"github.com/tearline/tearline/release"
)

// reviewWindow is how far ahead a review or expiry date counts as due.
const reviewWindow = 90 * 24 * time.Hour

type agreementView struct {
	Ref        string
	Title      string
	Parties    string
	Valid      string
	ReviewBy   time.Time
	State      string
	StateClass string // ok, due, overdue, off
	Notes      []string
	Ceilings   []string
	Scope      string
	ThirdParty bool
	Purposes   string
}

// agreementState says whether an agreement is in force and whether it is
// due for review, as 'tearline agreement review' does.
func agreementState(a *tearline.Agreement, now time.Time) (state, class string, notes []string) {
	switch {
	case now.Before(a.ValidFrom):
		return "not yet in force", "off", nil
	case !a.Active(now):
		return "expired", "off", nil
	}
	state, class = "in force", "ok"
	horizon := now.Add(reviewWindow)
	switch {
	case a.ReviewBy.IsZero():
		notes = append(notes, "no review date set")
		class = "due"
	case now.After(a.ReviewBy):
		state, class = "in force, review overdue", "overdue"
		notes = append(notes, fmt.Sprintf("review overdue since %s (%d days)", a.ReviewBy.UTC().Format(time.DateOnly), int(now.Sub(a.ReviewBy).Hours()/24)))
	case horizon.After(a.ReviewBy):
		state, class = "in force, review due", "due"
		notes = append(notes, "review due by "+a.ReviewBy.UTC().Format(time.DateOnly))
	}
	if !a.ValidUntil.IsZero() && horizon.After(a.ValidUntil) {
		notes = append(notes, "expires "+a.ValidUntil.UTC().Format(time.DateOnly))
		if class == "ok" {
			class = "due"
		}
	}
	return state, class, notes
}

type agreementsData struct {
	Off        bool
	Agreements []agreementView
	// MayPreview: the user is an administrator and the node computes
	// impacts.
	MayPreview bool
	Text       string
	Problem    string
	Impact     *impactView
}

// AgreementImpact computes what adding an agreement, or a new version of
// one, would do to the node's release sets, as 'tearline agreement add
// --dry-run' does, and changes nothing.
type AgreementImpact interface {
	// PreviewAgreement reads text as 'tearline agreement add' reads an
	// agreement file, and returns the agreement and the impact of adding
	// it. A text that is not a valid agreement, or that could not be
	// added, is an error wrapping ErrAgreementText, whose message the user
	// is shown.
	PreviewAgreement(ctx context.Context, text []byte) (tearline.Agreement, release.Impact, error)
}

// ErrAgreementText marks an agreement text the node cannot add.
var ErrAgreementText = errors.New("the agreement cannot be added")

// maxAgreementText bounds a pasted agreement.
const maxAgreementText = 64 << 10

type impactView struct {
	Ref, Title, Parties, Valid string
	Summary                    string
	Objects                    int64
	Partners                   []release.PartnerImpact
}

func (s *Server) agreementsPage(w http.ResponseWriter, r *http.Request, rq *request) error {
	return s.renderAgreements(w, r, rq, http.StatusOK, nil)
}

// previewAgreement shows an administrator what a pasted agreement would
// change, without applying it.
func (s *Server) previewAgreement(w http.ResponseWriter, r *http.Request, rq *request) error {
	if s.cfg.AgreementImpact == nil {
		return errNotFound
	}
	if !rq.user.Has(tearline.RoleAdmin) {
		return badInput("Only an administrator of this node previews agreement changes.")
	}
	d := &agreementsData{Text: strings.ReplaceAll(r.PostForm.Get("agreement"), "\r\n", "\n")}
	switch {
	case strings.TrimSpace(d.Text) == "":
		d.Problem = "Paste the agreement, in the YAML 'tearline agreement add' reads."
	case len(d.Text) > maxAgreementText:
		d.Problem = fmt.Sprintf("The agreement holds %d bytes; at most %d KiB.", len(d.Text), maxAgreementText>>10)
	default:
		a, im, err := s.cfg.AgreementImpact.PreviewAgreement(r.Context(), []byte(d.Text))
		if errors.Is(err, ErrAgreementText) {
			d.Problem = err.Error()
			break
		}
		if err != nil {
			return err
		}
		v := &impactView{Ref: fmt.Sprintf("%s@v%d", a.ID, a.Version), Title: a.Title, Parties: strings.Join(a.Parties, " "),
			Summary: im.String(), Objects: im.Objects, Partners: im.Partners}
		v.Valid = a.ValidFrom.UTC().Format(time.DateOnly) + " →"
		if !a.ValidUntil.IsZero() {
			v.Valid += " " + a.ValidUntil.UTC().Format(time.DateOnly)
		}
		d.Impact = v
	}
	status := http.StatusOK
	if d.Problem != "" {
		status = http.StatusUnprocessableEntity
	}
	return s.renderAgreements(w, r, rq, status, d)
}

func (s *Server) renderAgreements(w http.ResponseWriter, r *http.Request, rq *request, status int, form *agreementsData) error {
	d := agreementsData{Off: s.cfg.Agreements == nil}
	if form != nil {
		d = *form
		d.Off = s.cfg.Agreements == nil
	}
	d.MayPreview = s.cfg.AgreementImpact != nil && rq.user.Has(tearline.RoleAdmin)
	if !d.Off {
		list, err := s.cfg.Agreements.Agreements(r.Context())
		if err != nil {
			return err
		}
		for i := range list {
			a := &list[i]
			v := agreementView{Ref: fmt.Sprintf("%s@v%d", a.ID, a.Version), Title: a.Title, Parties: strings.Join(a.Parties, " "),
				ReviewBy: a.ReviewBy, ThirdParty: a.ThirdPartyRule, Purposes: strings.Join(a.Purposes, ", ")}
			v.Valid = a.ValidFrom.UTC().Format(time.DateOnly) + " →"
			if !a.ValidUntil.IsZero() {
				v.Valid += " " + a.ValidUntil.UTC().Format(time.DateOnly)
			}
			v.State, v.StateClass, v.Notes = agreementState(a, rq.now)
			for _, c := range a.Ceilings {
				v.Ceilings = append(v.Ceilings, c.Policy+" "+c.Level)
			}
			scope := append(slices.Clone(a.Types), a.Topics...)
			v.Scope = strings.Join(scope, ", ")
			d.Agreements = append(d.Agreements, v)
		}
	}
	s.render(w, r, rq, status, "agreements.html", "Agreements", d)
	return nil
}

type partnerView struct {
	Code      string
	Card      *PartnerCard
	Agreement bool // shares an agreement in force with the node
}

type partnersData struct {
	Off      bool
	Partners []partnerView
}

// partnersPage shows a card for every pinned partner and for every
// partner the node releases to, so that a partner the node shares with
// but has no pinned card for stands out.
func (s *Server) partnersPage(w http.ResponseWriter, r *http.Request, rq *request) error {
	d := partnersData{Off: s.cfg.Partners == nil}
	sharing := s.cfg.Decider.Partners(rq.now)
	byCode := map[string]*partnerView{}
	var order []string
	add := func(code string) *partnerView {
		if p, ok := byCode[code]; ok {
			return p
		}
		p := &partnerView{Code: code, Agreement: slices.Contains(sharing, code)}
		byCode[code] = p
		order = append(order, code)
		return p
	}
	if !d.Off {
		cards, err := s.cfg.Partners.PartnerCards(r.Context())
		if err != nil {
			return err
		}
		for i := range cards {
			add(cards[i].Code).Card = &cards[i]
		}
	}
	for _, code := range sharing {
		add(code)
	}
	slices.Sort(order)
	for _, code := range order {
		d.Partners = append(d.Partners, *byCode[code])
	}
	s.render(w, r, rq, http.StatusOK, "partners.html", "Partners", d)
	return nil
}
