package analytics

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tearline/tearline"
	"github.com/tearline/tearline/release"
)

// TestCorpusMatchKinds: a sighting finds partner indicators through the
// store by each kind of match, with each report's originator, label and
// permitted actions from the label.
func TestCorpusMatchKinds(t *testing.T) {
	h := newHarness(t)
	exact, cidr, domain, url := newID("indicator"), newID("indicator"), newID("indicator"), newID("indicator")
	h.put(
		obj{indicator(exact, "[ipv4-addr:value = '203.0.113.9']", 80, created), "GBR SECRET//REL TO GBR, FRA//ORIGINATOR FRA//GRADE B2//PAP:RED", "FRA"},
		obj{indicator(cidr, "[ipv4-addr:value ISSUBSET '203.0.113.0/24']", -1, created), "GBR SECRET//REL TO USA, GBR, FVEY//PAP:GREEN", "USA"},
		obj{indicator(domain, "[domain-name:value = 'evil.example']", 60, created), "GBR OFFICIAL", ""},
		obj{indicator(url, "[url:value = 'http://c2.example/gate.php']", 50, created), "GBR OFFICIAL//IEP:ACTIONS=CONTACT-FOR-INSTRUCTION", "FRA"},
	)
	c := h.build(Options{})
	v := user(t, c, h.rel, "analyst", "TOP SECRET")

	cases := []struct {
		kind      Kind
		value     string
		want      string // originator/match/reported of each report, best first
		corrob    int
		actions   ActionLevel
		actionsBy string
	}{
		{KindIPv4, "203.0.113.9", "FRA/exact/203.0.113.9/32 USA/cidr/203.0.113.0/24", 2, ActionsPassive, "PAP:RED"},
		{KindIPv4, "203.0.113.200", "USA/cidr/203.0.113.0/24", 1, ActionsDirect, "PAP:GREEN"},
		{KindDomain, "a.b.evil.example", "GBR/domain-suffix/evil.example", 1, ActionsUnrestricted, "this node's own information, no PAP or IEP set"},
		{KindDomain, "c2.example", "FRA/exact/c2.example", 1, ActionsContact, "IEP permitted_actions=contact-for-instruction"},
		{KindURL, "HTTP://C2.example:80/a/../gate.php", "FRA/exact/http://c2.example/gate.php", 1, ActionsContact, "IEP permitted_actions=contact-for-instruction"},
	}
	for _, tc := range cases {
		a, ok, err := c.Match(v, Sighting{Observable: Observable{tc.kind, tc.value}, Source: "test"})
		if err != nil || !ok {
			t.Fatalf("Match(%s) = %v, %v", tc.value, ok, err)
		}
		f := a.Findings[0]
		if got := reportsBy(f); got != tc.want || f.Corroboration != tc.corrob {
			t.Errorf("Match(%s) reports %q, corroboration %d; want %q, %d", tc.value, got, f.Corroboration, tc.want, tc.corrob)
		}
		if a.Actions.Level != tc.actions || a.Actions.Basis != tc.actionsBy {
			t.Errorf("Match(%s) actions %v (%s); want %v (%s)", tc.value, a.Actions.Level, a.Actions.Basis, tc.actions, tc.actionsBy)
		}
		for _, r := range f.Reports {
			if r.Label == "" || r.Object == "" || r.Assessment.Score <= 0 {
				t.Errorf("Match(%s) report %+v lacks provenance or a score", tc.value, r)
			}
		}
	}
	if _, ok, err := c.Match(v, Sighting{Observable: Observable{KindIPv4, "198.51.100.1"}}); ok || err != nil {
		t.Errorf("Match of an unreported address = %v, %v; want no alert", ok, err)
	}
	var ve *ValueError
	if _, _, err := c.Match(v, Sighting{Observable: Observable{KindIPv4, "999.1.1.1"}}); !errors.As(err, &ve) {
		t.Errorf("Match of an invalid address: %v; want a *ValueError", err)
	}
}

// TestCorpusCorroboration: independent originators are partner codes,
// whatever the number of objects; the score rises with them; observed
// cyber-observables do not corroborate an indicator.
func TestCorpusCorroboration(t *testing.T) {
	h := newHarness(t)
	ip := "192.0.2.77"
	pat := "[ipv4-addr:value = '" + ip + "']"
	_, sco := ipv4SCO(ip)
	h.put(
		obj{indicator(newID("indicator"), pat, 70, created), "GBR SECRET//REL TO GBR, FRA", "FRA"},
		obj{indicator(newID("indicator"), pat, 70, created), "GBR SECRET//REL TO GBR, FRA", "FRA"},
		obj{indicator(newID("indicator"), pat, 70, created), "GBR SECRET//REL TO USA, GBR", "USA"},
		obj{indicator(newID("indicator"), pat, 70, created), "GBR SECRET", ""},
		// a derived product of FRA and CAN material that CAN sent: CAN's
		obj{indicator(newID("indicator"), pat, 70, created), "GBR SECRET//ORIGINATOR CAN, FRA", "CAN"},
		obj{sco, "GBR SECRET", "DEU"},
	)
	c := h.build(Options{})
	v := user(t, c, h.rel, "analyst", "SECRET")
	f, err := c.Correlate(v, mustObs(t, KindIPv4, ip), 0, asOf)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"CAN", "FRA", "GBR", "USA"}; !slices.Equal(f.Originators, want) || f.Corroboration != 4 {
		t.Fatalf("Correlate(%s) originators %v (%d); want %v: FRA's two reports count once, DEU's observed value not at all", ip, f.Originators, f.Corroboration, want)
	}
	if len(f.Reports) != 6 {
		t.Errorf("Correlate(%s) has %d reports; want all 6 listed", ip, len(f.Reports))
	}
	single := newHarness(t)
	single.put(obj{indicator(newID("indicator"), pat, 70, created), "GBR SECRET", ""})
	cs := single.build(Options{})
	fs, err := cs.Correlate(user(t, cs, single.rel, "analyst", "SECRET"), mustObs(t, KindIPv4, ip), 0, asOf)
	if err != nil {
		t.Fatal(err)
	}
	if f.Best.Score <= fs.Best.Score || f.Best.Evidence.Corroboration != 4 || fs.Best.Evidence.Corroboration != 1 {
		t.Errorf("score with 4 originators %d (%+v), with 1 %d; want it higher with corroboration", f.Best.Score, f.Best.Evidence, fs.Best.Score)
	}
	// Age decay: two 30-day half-lives later, the score is a quarter.
	later, err := c.Correlate(v, mustObs(t, KindIPv4, ip), 0, created.Add(60*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if later.Best.Decay != 0.25 || later.Best.Age != 60*24*time.Hour {
		t.Errorf("60 days on: decay %v, age %v; want 0.25 and 60 days (IPv4 half-life 30 days)", later.Best.Decay, later.Best.Age)
	}
}

// leakFixture is a store's worth of objects, some SECRET (hidden from a
// user cleared to OFFICIAL-SENSITIVE), and the sightings and links around
// them.
type leakFixture struct {
	all, visible []obj
	ip, domain   string
	hiddenIDs    []string
}

func newLeakFixture() leakFixture {
	var f leakFixture
	f.ip, f.domain = "203.0.113.50", "bad.example"
	pat := "[ipv4-addr:value = '" + f.ip + "' OR domain-name:value = '" + f.domain + "']"
	campaign := newID("campaign")
	indOfficial, indSecret, indSecret2 := newID("indicator"), newID("indicator"), newID("indicator")
	actorFRA, actorUSA, actorSecret := newID("threat-actor"), newID("intrusion-set"), newID("threat-actor")
	relHidden := newID("relationship")
	add := func(o obj, hidden bool, id string) {
		f.all = append(f.all, o)
		if hidden {
			f.hiddenIDs = append(f.hiddenIDs, id)
		} else {
			f.visible = append(f.visible, o)
		}
	}
	add(obj{sdo("campaign", campaign, "Operation Glass"), "GBR OFFICIAL", ""}, false, campaign)
	add(obj{indicator(indOfficial, pat, 60, created), "GBR OFFICIAL//GRADE C3//PAP:AMBER", "FRA"}, false, indOfficial)
	add(obj{indicator(indSecret, pat, 90, created.Add(24*time.Hour)), "GBR SECRET//REL TO USA, GBR//GRADE A1", "USA"}, true, indSecret)
	add(obj{indicator(indSecret2, "[ipv4-addr:value ISSUBSET '203.0.113.0/24']", 90, created), "GBR SECRET//GRADE A1//PAP:RED", ""}, true, indSecret2)
	add(obj{relationship(newID("relationship"), "indicates", indOfficial, campaign), "GBR OFFICIAL", ""}, false, "")
	add(obj{relationship(relHidden, "indicates", indSecret, campaign), "GBR SECRET", ""}, true, relHidden)
	add(obj{sdo("threat-actor", actorFRA, "Glass Spider"), "GBR OFFICIAL", "FRA"}, false, actorFRA)
	add(obj{sdo("intrusion-set", actorUSA, "GlassSpider", "Spider of Glass"), "GBR OFFICIAL", "DEU"}, false, actorUSA)
	add(obj{sdo("threat-actor", actorSecret, "Glass Spiders"), "GBR SECRET", "CAN"}, true, actorSecret)
	add(obj{relationship(newID("relationship"), "indicates", indOfficial, actorFRA), "GBR OFFICIAL", ""}, false, "")
	add(obj{relationship(newID("relationship"), "indicates", indOfficial, actorUSA), "GBR OFFICIAL", ""}, false, "")
	// Sightings: history over two days, then a burst; some of it hidden,
	// starting a day earlier, so that a detector counting hidden history
	// would show more of it.
	for i := 72; i >= 1; i -= 4 {
		if i <= 48 {
			add(obj{sighting(newID("sighting"), indOfficial, 1, asOf.Add(-time.Duration(i)*time.Hour)), "GBR OFFICIAL", ""}, false, "")
		}
		id := newID("sighting")
		add(obj{sighting(id, indSecret, 2, asOf.Add(-time.Duration(i)*time.Hour+time.Minute)), "GBR SECRET", ""}, true, id)
	}
	add(obj{sighting(newID("sighting"), indOfficial, 6, asOf.Add(-time.Minute)), "GBR OFFICIAL", ""}, false, "")
	id := newID("sighting")
	add(obj{sighting(id, indSecret, 9, asOf.Add(-2*time.Minute)), "GBR SECRET", ""}, true, id)
	return f
}

// everything is what a viewer can learn from a corpus, as JSON: matches,
// correlation, rises, stored sighting alerts and suggestions.
func everything(t *testing.T, c *Corpus, v *View, f leakFixture) string {
	t.Helper()
	var parts []any
	for _, o := range []Observable{mustObs(t, KindIPv4, f.ip), mustObs(t, KindDomain, "www."+f.domain), mustObs(t, KindIPv4, "203.0.113.1")} {
		a, ok, err := c.Match(v, Sighting{Observable: o, Source: "log:1", At: asOf})
		if err != nil {
			t.Fatal(err)
		}
		cf, err := c.Correlate(v, o, MatchExact|MatchCIDR|MatchDomainSuffix|MatchSubdomain, asOf)
		if err != nil {
			t.Fatal(err)
		}
		parts = append(parts, ok, a, cf)
	}
	rises, err := c.Rises(v, asOf)
	if err != nil {
		t.Fatal(err)
	}
	stored, err := c.SightingAlerts(v)
	if err != nil {
		t.Fatal(err)
	}
	sugg, err := c.Suggestions(v, ResolveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	parts = append(parts, rises, stored, sugg)
	b, err := json.MarshalIndent(parts, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestCorpusNoLeak: two local users with different clearances get
// different counts and scores from the same store, and the restricted
// user's answers are exactly those of a store that never held what it may
// not see.
func TestCorpusNoLeak(t *testing.T) {
	f := newLeakFixture()
	full := newHarness(t)
	full.put(f.all...)
	without := newHarness(t)
	without.put(f.visible...)
	c := full.build(Options{})
	cw := without.build(Options{})

	restricted := user(t, c, full.rel, "restricted", "OFFICIAL-SENSITIVE")
	cleared := user(t, c, full.rel, "cleared", "SECRET")
	got := everything(t, c, restricted, f)
	want := everything(t, cw, user(t, cw, without.rel, "restricted", "OFFICIAL-SENSITIVE"), f)
	if got != want {
		t.Fatalf("restricted user's answers differ from a store without the hidden objects:\n%s\nwant\n%s", got, want)
	}
	for _, id := range f.hiddenIDs {
		if strings.Contains(got, id) {
			t.Errorf("restricted user's answers name hidden object %s", id)
		}
	}
	if strings.Contains(got, "USA") || strings.Contains(got, "Glass Spiders") {
		t.Errorf("restricted user's answers name a hidden originator or entity:\n%s", got)
	}

	ip := mustObs(t, KindIPv4, f.ip)
	fr, _ := c.Correlate(restricted, ip, 0, asOf)
	fc, _ := c.Correlate(cleared, ip, 0, asOf)
	if fr.Corroboration != 1 || fc.Corroboration != 3 || len(fr.Reports) != 1 || len(fc.Reports) != 3 || fr.Best.Score >= fc.Best.Score {
		t.Errorf("restricted: %d originators, %d reports, score %d; cleared: %d, %d, %d; want 1, 1 and 3, 3 with a higher score",
			fr.Corroboration, len(fr.Reports), fr.Best.Score, fc.Corroboration, len(fc.Reports), fc.Best.Score)
	}
	if _, err := c.CorrelateObject(restricted, f.hiddenIDs[0], 0, asOf); !errors.Is(err, tearline.ErrNotFound) {
		t.Errorf("CorrelateObject of a hidden object: %v; want ErrNotFound", err)
	}
	if _, err := c.CorrelateObject(restricted, "indicator--00000000-0000-4000-8000-999999999999", 0, asOf); !errors.Is(err, tearline.ErrNotFound) {
		t.Errorf("CorrelateObject of an absent object: %v; want ErrNotFound", err)
	}
	rr, _ := c.Rises(restricted, asOf)
	rc, _ := c.Rises(cleared, asOf)
	if len(rr) == 0 || len(rc) <= len(rr) {
		t.Errorf("rises: restricted %d, cleared %d; want some for both, more for the cleared user (hidden sightings and partner USA)", len(rr), len(rc))
	}
}

// TestCorpusApply: the corpus follows the store: new objects, newer
// versions, revocations and forgotten objects.
func TestCorpusApply(t *testing.T) {
	h := newHarness(t)
	c := h.build(Options{})
	v := user(t, c, h.rel, "analyst", "SECRET")
	id := newID("indicator")
	o1 := mustObs(t, KindIPv4, "198.51.100.1")
	o2 := mustObs(t, KindIPv4, "198.51.100.2")
	match := func(o Observable) int {
		a, ok, err := c.Match(v, Sighting{Observable: o})
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			return 0
		}
		return len(a.Findings[0].Reports)
	}
	if match(o1) != 0 {
		t.Fatal("empty corpus matched")
	}
	ctx := context.Background()
	if err := c.Apply(ctx, h.coll, h.put(obj{indicator(id, "[ipv4-addr:value = '198.51.100.1']", 50, created), "GBR OFFICIAL", ""})); err != nil {
		t.Fatal(err)
	}
	if match(o1) != 1 {
		t.Fatal("Apply: new indicator not matched")
	}
	v2 := strings.Replace(indicator(id, "[ipv4-addr:value = '198.51.100.2']", 50, created), `"modified":"`+ts(created), `"modified":"`+ts(created.Add(time.Hour)), 1)
	if err := c.Apply(ctx, h.coll, h.put(obj{v2, "GBR OFFICIAL", ""})); err != nil {
		t.Fatal(err)
	}
	if match(o1) != 0 || match(o2) != 1 {
		t.Fatalf("newer version: old value matches %d, new %d; want 0 and 1", match(o1), match(o2))
	}
	revoked := strings.Replace(v2, `"modified":"`+ts(created.Add(time.Hour))+`"`, `"modified":"`+ts(created.Add(2*time.Hour))+`","revoked":true`, 1)
	if err := c.Apply(ctx, h.coll, h.put(obj{revoked, "GBR OFFICIAL", ""})); err != nil {
		t.Fatal(err)
	}
	if match(o2) != 0 {
		t.Fatal("revoked indicator still matched")
	}
	other := newID("indicator")
	if err := c.Apply(ctx, h.coll, h.put(obj{indicator(other, "[ipv4-addr:value = '198.51.100.1']", 50, created), "GBR OFFICIAL", ""})); err != nil {
		t.Fatal(err)
	}
	c.Forget(other)
	if match(o1) != 0 {
		t.Fatal("forgotten indicator still matched")
	}
	// A rebuild from the store agrees with the corpus kept by Apply.
	rebuilt := h.build(Options{})
	rv := user(t, rebuilt, h.rel, "analyst", "SECRET")
	a1, _, _ := rebuilt.Match(rv, Sighting{Observable: o1})
	if len(a1.Findings) != 1 {
		t.Fatalf("rebuilt corpus: %+v; want the indicator that was only forgotten in memory", a1)
	}
	st := rebuilt.Stats()
	if st.Documents != 1 || st.Indexed != 1 {
		t.Errorf("rebuilt stats %+v; want 1 document (the revoked one left)", st)
	}
}

// TestCorpusUnclassifiedIsHidden: an object without a release class is
// seen by nobody.
func TestCorpusUnclassifiedIsHidden(t *testing.T) {
	h := newHarness(t)
	id := newID("indicator")
	o, _, err := parseObj(indicator(id, "[ipv4-addr:value = '198.51.100.9']", 50, created))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.s.PutObjects(context.Background(), h.coll, []*tearline.Object{o}); err != nil {
		t.Fatal(err)
	}
	c := h.build(Options{})
	v := user(t, c, h.rel, "analyst", "TOP SECRET")
	if _, ok, _ := c.Match(v, Sighting{Observable: mustObs(t, KindIPv4, "198.51.100.9")}); ok {
		t.Error("an unclassified indicator was matched")
	}
	if st := c.Stats(); st.Unclassified != 1 {
		t.Errorf("stats %+v; want 1 unclassified", st)
	}
}

// TestCorpusPartnerView: a partner sees what its release sets allow.
func TestCorpusPartnerView(t *testing.T) {
	h := newHarness(t)
	rel, hidden := newID("indicator"), newID("indicator")
	pat := "[domain-name:value = 'partner.example']"
	h.put(
		obj{indicator(rel, pat, 50, created), "GBR SECRET//REL TO USA, GBR, FVEY", ""},
		obj{indicator(hidden, pat, 50, created), "GBR SECRET//REL TO GBR, FRA", ""},
	)
	ctx := context.Background()
	if _, err := release.Update(ctx, h.s, h.rel, asOf, "test"); err != nil {
		t.Fatal(err)
	}
	c := h.build(Options{})
	for _, tc := range []struct {
		partner string
		want    []string
	}{
		{"USA", []string{rel}},
		// The UK-France agreement covers the topics defence,
		// counter-terrorism and cyber; this indicator has none.
		{"FRA", nil},
		{"JPN", nil},
	} {
		d, err := PartnerDecider(ctx, h.s, tc.partner)
		if err != nil {
			t.Fatal(err)
		}
		v, _ := c.NewView(tc.partner, d)
		f, err := c.Correlate(v, mustObs(t, KindDomain, "partner.example"), 0, asOf)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, r := range f.Reports {
			got = append(got, r.Object)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("partner %s sees %v; want %v", tc.partner, got, tc.want)
		}
	}
	if _, err := c.NewView("x", nil); !errors.Is(err, ErrNoDecider) {
		t.Errorf("NewView without a decider: %v", err)
	}
}
