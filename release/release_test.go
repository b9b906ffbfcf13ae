package release

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tearline/tearline"
	"github.com/tearline/tearline/label"
	"github.com/tearline/tearline/policy"
	"github.com/tearline/tearline/sqlite"
)

// banners is a pool of labels as analysts type them, with the traps the
// rules care about.
var banners = []string{
	"GBR SECRET//REL TO USA, GBR, FVEY",
	"GBR OFFICIAL-SENSITIVE//REL TO GBR, FRA",
	"GBR SECRET//REL TO GBR, FRA",
	"NATO SECRET//REL TO NATO",
	"NATO RESTRICTED//REL TO NATO",
	"NATO CONFIDENTIAL",
	"SECRET//ORCON//REL TO USA, GBR, CAN//ORIGINATOR USA",
	"GBR SECRET//EYES ONLY GBR",
	"GBR TOP SECRET//REL TO USA, GBR",
	"TLP:GREEN",
	"TLP:AMBER",
	"TLP:CLEAR",
	"TOP SECRET//NOFORN",
	"GBR OFFICIAL-SENSITIVE//H2",
}

func labels(t testing.TB) []tearline.Label {
	t.Helper()
	var out []tearline.Label
	for _, b := range banners {
		l, err := label.Parse(b)
		if err != nil {
			t.Fatalf("label.Parse(%q): %v", b, err)
		}
		out = append(out, l)
	}
	return out
}

func examples(t testing.TB, holder string, drop ...string) *Releaser {
	t.Helper()
	all, err := policy.ExampleAgreements()
	if err != nil {
		t.Fatal(err)
	}
	var keep []tearline.Agreement
	for _, a := range all {
		if !slices.Contains(drop, a.ID) {
			keep = append(keep, a)
		}
	}
	r, err := NewReleaser(policy.Builtin(), keep, holder)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// randomSubject draws an object as the node would hold it.
func randomSubject(r *rand.Rand, ls []tearline.Label, i int) *policy.Subject {
	s := &policy.Subject{
		ID:       fmt.Sprintf("indicator--00000000-0000-4000-8000-%012d", i),
		Type:     []string{"indicator", "report", "malware", "threat-actor"}[r.IntN(4)],
		Label:    ls[r.IntN(len(ls))],
		Verified: r.IntN(50) != 0,
		Holder:   "GBR",
		// Creation times from before NATO's enlargements to now, so that
		// objects fall in many membership epochs.
		Created: time.Date(1995, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(r.Int64N(int64(32 * 365 * 24 * time.Hour)))),
	}
	for range r.IntN(3) {
		s.Topics = append(s.Topics, []string{"counter-terrorism", "crime", "cyber", "proliferation"}[r.IntN(4)])
	}
	if r.IntN(10) == 0 {
		s.Label.PersonalData, s.Label.Regime = true, "LED"
	}
	if r.IntN(8) == 0 {
		s.Originators = []string{[]string{"USA", "FRA", "DEU", "CAN"}[r.IntN(4)]}
	}
	switch r.IntN(40) {
	case 0:
		s.Recalled = true
	case 1:
		s.Consents = []policy.Consent{{Originator: "USA", Recipient: "CAN", Object: s.ID}}
	case 2:
		v := s.Label
		v.Classification = "OFFICIAL"
		s.Variants = []policy.Variant{{ID: s.ID + "-tearline", Label: v, Verified: true}}
	}
	return s
}

// TestClassDecidesLikeObject is what release sets rest on: deciding an
// object's class gives the same outcome, agreement, variant, consent and
// reason codes as deciding the object itself, for every partner and at
// every time.
func TestClassDecidesLikeObject(t *testing.T) {
	rel := examples(t, "GBR")
	ls := labels(t)
	rng := rand.New(rand.NewPCG(7, 11))
	n := 20000
	if testing.Short() {
		n = 2000
	}
	times := []time.Time{
		time.Date(2010, 6, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2023, 6, 1, 0, 0, 0, 0, time.UTC), // Finland in NATO, Sweden not yet
		time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC), // the police agreement has expired
	}
	var partners []string
	for _, p := range rel.Registry.Partners() {
		partners = append(partners, p.Code)
	}
	classes := map[string]int{}
	for i := range n {
		s := randomSubject(rng, ls, i)
		data, err := rel.Classify(s)
		if err != nil {
			t.Fatal(err)
		}
		classes[string(data)]++
		cs, err := Subject(data)
		if err != nil {
			t.Fatalf("Subject(Classify(%s)): %v", s.ID, err)
		}
		at := times[rng.IntN(len(times))]
		p := partners[rng.IntN(len(partners))]
		rc := rel.Recipient(p, at)
		for _, action := range []tearline.Action{tearline.Release, tearline.Disclose} {
			want := rel.Engine.Decide(&policy.Request{Subject: s, Recipient: rc, Action: action, Time: at})
			got := rel.Engine.Decide(&policy.Request{Subject: cs, Recipient: rc, Action: action, Time: at})
			if !sameDecision(got, want) {
				t.Fatalf("object %s (%s, created %s) to %s at %s: class decides %s; the object itself %s",
					s.ID, label.Format(s.Label), s.Created.Format(time.RFC3339), p, at.Format(time.DateOnly), brief(got), brief(want))
			}
		}
	}
	t.Logf("%d objects in %d classes", n, len(classes))
	if len(classes) >= n/2 {
		t.Errorf("%d objects fell into %d classes; classes should group them", n, len(classes))
	}
}

func sameDecision(a, b tearline.Decision) bool {
	ra, rb := fromDecision(0, "", a), fromDecision(0, "", b)
	return same(&ra, &rb)
}

func brief(d tearline.Decision) string {
	r := fromDecision(0, "", d)
	return fmt.Sprintf("%v under %q %v", d.Outcome, d.Agreement, r.Reasons)
}

func TestEpochs(t *testing.T) {
	e := EpochsOf(policy.Builtin())
	if len(e) < 2 || !slices.IsSortedFunc(e, func(a, b time.Time) int { return a.Compare(b) }) {
		t.Fatalf("EpochsOf(Builtin) = %d instants, sorted %v; want several, sorted", len(e), slices.IsSortedFunc(e, func(a, b time.Time) int { return a.Compare(b) }))
	}
	finland := time.Date(2023, 4, 4, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		t, want time.Time
	}{
		{finland, finland},
		{finland.Add(time.Hour), finland},
		{e[0].Add(-time.Hour), e[0].Add(-time.Nanosecond)},
		{time.Time{}, e[0].Add(-time.Nanosecond)},
	} {
		if got := e.Start(tc.t); !got.Equal(tc.want) {
			t.Errorf("Start(%v) = %v; want %v", tc.t, got, tc.want)
		}
	}
	if got := Epochs(nil).Start(finland); !got.IsZero() {
		t.Errorf("Start with no epochs = %v; want the zero time", got)
	}
}

func TestSubjectRejectsOtherVersions(t *testing.T) {
	for _, data := range []string{`{"v":2,"holder":"GBR"}`, `{"v":1`, `[]`} {
		if _, err := Subject([]byte(data)); err == nil {
			t.Errorf("Subject(%s) succeeded; want an error", data)
		}
	}
}

// store opens a SQLite node store holding n objects labelled from the pool,
// classified for the holder GBR.
func store(t *testing.T, rel *Releaser, n int) *sqlite.Store {
	t.Helper()
	ctx := context.Background()
	s, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "node.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if _, err := s.CreateCollection(ctx, tearline.Collection{Alias: "c", Title: "c"}); err != nil {
		t.Fatal(err)
	}
	ls := labels(t)
	rng := rand.New(rand.NewPCG(1, 2))
	var objs []*tearline.Object
	for i := range n {
		subj := randomSubject(rng, ls, i)
		class, err := rel.Classify(subj)
		if err != nil {
			t.Fatal(err)
		}
		objs = append(objs, &tearline.Object{ID: subj.ID, Type: subj.Type, SpecVersion: "2.1", Version: subj.Created,
			Hash: [32]byte{byte(i), byte(i >> 8), byte(i >> 16)}, JSON: []byte(fmt.Sprintf(`{"n":%d}`, i)), ReleaseClass: class})
	}
	if _, err := s.PutObjects(ctx, "c", objs); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestRecomputeAfterAgreementChange(t *testing.T) {
	ctx := context.Background()
	at := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	without := examples(t, "GBR", "gbr-fra-security")
	s := store(t, without, 3000)

	// First decision: new classes only.
	first, err := Update(ctx, s, without, at, "test")
	if err != nil {
		t.Fatal(err)
	}
	if first.Impact.Objects != 3000 {
		t.Fatalf("first update decided %d objects; want 3000", first.Impact.Objects)
	}
	again, err := Update(ctx, s, without, at, "test")
	if err != nil {
		t.Fatal(err)
	}
	if again.Impact.Classes != 0 || !again.Impact.Empty() {
		t.Errorf("second update decided %d classes with impact %q; want nothing left to decide", again.Impact.Classes, again.Impact.String())
	}

	// Adding the UK-France agreement: a preview, then the change.
	with := examples(t, "GBR")
	plan, err := Compute(ctx, s, with, Options{All: true, At: at, Actor: "test", Cause: "agreement gbr-fra-security@1 added"})
	if err != nil {
		t.Fatal(err)
	}
	var fra PartnerImpact
	for _, p := range plan.Impact.Partners {
		if p.Partner == "FRA" {
			fra = p
		} else if p.Gained > 0 || p.Withdrawn > 0 {
			t.Errorf("adding the UK-France agreement changes what %s may receive: %+v", p.Partner, p)
		}
	}
	if fra.Gained == 0 || fra.Withdrawn != 0 {
		t.Fatalf("impact for FRA = %+v; want objects gained, none withdrawn", fra)
	}
	t.Logf("impact: %s", plan.Impact.String())
	if !strings.Contains(plan.Impact.String(), fmt.Sprintf("%s objects become releasable to FRA", commas(fra.Gained))) {
		t.Errorf("Impact.String() = %q; want it to say how many objects become releasable to FRA", plan.Impact.String())
	}
	// The preview changed nothing.
	if rs, err := s.Releases(ctx); err != nil || releasedTo(rs, "FRA", s, t) != countReleasable(t, ctx, s, without, "FRA", at) {
		t.Fatalf("a preview changed the stored releases (%v)", err)
	}
	if err := Apply(ctx, s, plan); err != nil {
		t.Fatal(err)
	}
	rs, err := s.Releases(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := releasedTo(rs, "FRA", s, t), countReleasable(t, ctx, s, with, "FRA", at); got != want {
		t.Errorf("after applying, %d objects are releasable to FRA; deciding each object says %d", got, want)
	}
	// Recomputing with nothing changed changes nothing.
	idle, err := Compute(ctx, s, with, Options{All: true, At: at})
	if err != nil {
		t.Fatal(err)
	}
	if !idle.Impact.Empty() || len(idle.Change.Set) != 0 {
		t.Errorf("recompute with no change: impact %q, %d pairs set; want none", idle.Impact.String(), len(idle.Change.Set))
	}

	// Dropping the Five Eyes arrangement withdraws releases from its
	// members and removes them from the release sets.
	noFVEY := examples(t, "GBR", "fvey-intel")
	drop, err := Compute(ctx, s, noFVEY, Options{All: true, At: at, Cause: "agreement fvey-intel withdrawn"})
	if err != nil {
		t.Fatal(err)
	}
	withdrawn := map[string]int64{}
	for _, p := range drop.Impact.Partners {
		withdrawn[p.Partner] = p.Withdrawn
	}
	for _, p := range []string{"AUS", "NZL"} {
		if withdrawn[p] == 0 {
			t.Errorf("dropping fvey-intel withdraws nothing from %s: %s", p, drop.Impact.String())
		}
	}
	if err := Apply(ctx, s, drop); err != nil {
		t.Fatal(err)
	}
	rs, err = s.Releases(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		if r.Partner == "NZL" {
			t.Fatalf("after dropping fvey-intel, NZL still has a release set row: %+v", r)
		}
	}
}

func commas(n int64) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// releasedTo counts the object versions the stored release sets allow for
// partner.
func releasedTo(rs []tearline.ClassRelease, partner string, s *sqlite.Store, t *testing.T) int64 {
	t.Helper()
	classes, err := s.ReleaseClasses(context.Background(), false)
	if err != nil {
		t.Fatal(err)
	}
	objects := map[int64]int64{}
	for _, c := range classes {
		objects[c.ID] = c.Objects
	}
	var n int64
	for _, r := range rs {
		if r.Partner == partner && releasable(&r) {
			n += objects[r.Class]
		}
	}
	return n
}

// countReleasable decides every stored object on its own: the slow,
// obvious answer the release sets must agree with.
func countReleasable(t *testing.T, ctx context.Context, s *sqlite.Store, rel *Releaser, partner string, at time.Time) int64 {
	t.Helper()
	ls := labels(t)
	rng := rand.New(rand.NewPCG(1, 2)) // the draws store made
	rc := rel.Recipient(partner, at)
	var n int64
	total, err := s.Count(ctx, "c")
	if err != nil {
		t.Fatal(err)
	}
	for i := range int(total) {
		subj := randomSubject(rng, ls, i)
		if o := rel.Engine.Verdict(&policy.Request{Subject: subj, Recipient: rc, Action: tearline.Release, Time: at}); o == tearline.Allow || o == tearline.AllowVariant {
			n++
		}
	}
	return n
}

// TestExerciseReleaser: an exercise node releases its exercise's material
// to participants only, never to a real partner outside the exercise, and
// never material of another exercise.
func TestExerciseReleaser(t *testing.T) {
	all, err := policy.ExampleAgreements()
	if err != nil {
		t.Fatal(err)
	}
	r, err := NewExerciseReleaser(policy.Builtin(), all, "GBR", "FIVE-NATIONS-26", []string{"GBR", "FRA", "USA"})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	decide := func(banner, to string) tearline.Decision {
		t.Helper()
		l, err := label.Parse(banner)
		if err != nil {
			t.Fatal(err)
		}
		s := &policy.Subject{ID: "report--1", Type: "report", Topics: []string{"counter-terrorism"}, Created: at, Label: l, Verified: true, Holder: "GBR"}
		return r.Engine.Decide(&policy.Request{Subject: s, Recipient: r.Recipient(to, at), Action: tearline.Release, Time: at})
	}
	for _, c := range []struct {
		banner, to string
		want       tearline.Outcome
		code       string
	}{
		{"GBR SECRET//REL TO GBR, FRA//EXERCISE FIVE-NATIONS-26", "FRA", tearline.Allow, policy.ReasonAllowed},
		{"GBR SECRET//REL TO USA, GBR, FVEY//EXERCISE FIVE-NATIONS-26", "USA", tearline.Allow, policy.ReasonAllowed},
		{"GBR SECRET//REL TO USA, GBR, FVEY//EXERCISE FIVE-NATIONS-26", "CAN", tearline.Deny, policy.ReasonUnknownRecipient},
		{"GBR SECRET//REL TO GBR, FRA//EXERCISE LOCKED-SHIELDS", "FRA", tearline.Deny, policy.ReasonExercise},
	} {
		d := decide(c.banner, c.to)
		if d.Outcome != c.want || len(d.Reasons) == 0 || d.Reasons[0].Code != c.code {
			t.Errorf("%s to %s: %s; want %v (%s)", c.banner, c.to, brief(d), c.want, c.code)
		}
	}
	if got := r.Partners(at); !slices.Equal(got, []string{"FRA", "USA"}) {
		t.Errorf("Partners = %v; want the other participants only", got)
	}
	if _, err := NewExerciseReleaser(policy.Builtin(), all, "GBR", "X", []string{"GBR", "ZZZ"}); err == nil {
		t.Error("an exercise with an unknown participant was accepted")
	}
}

// TestReleaserClassifyIsClassify: the releaser reuses the encoding of a
// recent class when the next is equal, and only then: over random
// subjects, runs of equal ones, a few classes in turn, subjects that
// differ in one field, and a caller that changes its subject's slices
// after the call, it returns exactly what Classify returns.
func TestReleaserClassifyIsClassify(t *testing.T) {
	rel := examples(t, "GBR")
	ls := labels(t)
	r := rand.New(rand.NewPCG(7, 9))
	check := func(s *policy.Subject) {
		t.Helper()
		want, err := Classify(s, rel.Epochs)
		if err != nil {
			t.Fatal(err)
		}
		got, err := rel.Classify(s)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("Releaser.Classify(%s) = %s; want %s", s.ID, got, want)
		}
	}
	for i := range 3000 {
		s := randomSubject(r, ls, i)
		check(s)
		check(s) // equal: reused
		// One field changed, in the label or beside it.
		o := *s
		o.Label = s.Label.Clone()
		switch i % 5 {
		case 0:
			o.Label.Purposes = append(o.Label.Purposes, "crime")
		case 1:
			o.Verified = !o.Verified
		case 2:
			o.Originators = append(slices.Clone(o.Originators), "NZL")
		case 3:
			o.Label.ORCON = !o.Label.ORCON
		case 4:
			o.Type = "campaign"
		}
		check(&o)
		// The caller changes what it passed: the class kept does not.
		if len(o.Label.Purposes) > 0 {
			o.Label.Purposes[0] = "changed-after"
			check(s)
			check(&o)
		}
	}
	// A batch of a few classes in turn, as objects of several types
	// arrive: each is reused while it is among the recent ones.
	turn := make([]*policy.Subject, recentClassCount+3)
	for i := range turn {
		turn[i] = randomSubject(r, ls, i)
	}
	for i := range 10 * len(turn) {
		check(turn[i%len(turn)])
		check(turn[(i*7)%4])
	}
}

func BenchmarkReleaserClassify(b *testing.B) {
	rel := examples(b, "GBR")
	ls := labels(b)
	r := rand.New(rand.NewPCG(7, 9))
	subjects := make([]*policy.Subject, 12)
	for i := range subjects {
		subjects[i] = randomSubject(r, ls, i)
	}
	for i := 0; b.Loop(); i++ {
		if _, err := rel.Classify(subjects[i%len(subjects)]); err != nil {
			b.Fatal(err)
		}
	}
}
