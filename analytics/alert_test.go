package analytics

import (
	"context"
	"encoding/json"
	"slices"
	"sync"
	"testing"
	"time"
)

// receive waits for the next alert of sub, failing after a second.
func receive(t *testing.T, sub *Subscription) Alert {
	t.Helper()
	select {
	case a := <-sub.C:
		return a
	case <-time.After(time.Second):
		t.Fatal("no alert")
		return Alert{}
	}
}

// quiet fails if sub holds an alert.
func quiet(t *testing.T, sub *Subscription, why string) {
	t.Helper()
	select {
	case a := <-sub.C:
		t.Fatalf("%s: got alert %+v", why, a)
	default:
	}
}

// TestStoredSightingAlerts: the node's own STIX sightings of partner
// indicators raise alerts to each subscriber that may see the indicator,
// with provenance and actions; a partner's sighting raises none.
func TestStoredSightingAlerts(t *testing.T) {
	h := newHarness(t)
	ind, sco := newID("indicator"), ""
	scoID, scoJSON := ipv4SCO("192.0.2.200")
	sco = scoJSON
	od := newID("observed-data")
	other := newID("indicator")
	h.put(
		obj{indicator(ind, "[domain-name:value = 'relay.example']", 75, created), "GBR SECRET//REL TO USA, GBR//ORIGINATOR USA//PAP:RED//GRADE B2", "USA"},
		obj{indicator(other, "[ipv4-addr:value = '192.0.2.200']", 40, created), "GBR OFFICIAL", "FRA"},
		obj{sco, "GBR OFFICIAL", ""},
		obj{observedData(od, scoID), "GBR OFFICIAL", ""},
	)
	c := h.build(Options{})
	cleared := user(t, c, h.rel, "cleared", "SECRET")
	restricted := user(t, c, h.rel, "restricted", "OFFICIAL")
	subC, err := c.Subscribe(cleared, 8)
	if err != nil {
		t.Fatal(err)
	}
	defer subC.Close()
	subR, _ := c.Subscribe(restricted, 8)
	defer subR.Close()

	ctx := context.Background()
	own := newID("sighting")
	if err := c.Apply(ctx, h.coll, h.put(obj{sighting(own, ind, 3, asOf, od), "GBR OFFICIAL", ""})); err != nil {
		t.Fatal(err)
	}
	a := receive(t, subC)
	if a.Kind != AlertMatch || a.SightingObject != own || a.Viewer != "cleared" || len(a.Findings) != 2 {
		t.Fatalf("cleared alert = %+v; want a match alert on %s with two findings (the indicator's domain, the observed address)", a, own)
	}
	var origins []string
	for _, f := range a.Findings {
		for _, r := range f.Reports {
			origins = append(origins, r.Originator+" "+r.Label)
		}
	}
	slices.Sort(origins)
	want := []string{"FRA GBR OFFICIAL", "USA GBR SECRET//REL TO USA, GBR//PAP:RED//ORIGINATOR USA//GRADE B2"}
	if !slices.Equal(origins, want) {
		t.Errorf("alert provenance %q; want %q", origins, want)
	}
	if a.Actions.Level != ActionsPassive || a.Actions.Basis != "no PAP or IEP set by the originator: passive use until it says more" && a.Actions.Basis != "PAP:RED" {
		t.Errorf("alert actions %+v; want passive only", a.Actions)
	}
	// The restricted user may not see USA's indicator: it learns only of
	// FRA's, through the observed address.
	r := receive(t, subR)
	if len(r.Findings) != 1 || r.Findings[0].Reports[0].Originator != "FRA" {
		t.Fatalf("restricted alert = %+v; want only FRA's report", r)
	}
	quiet(t, subC, "after one sighting")
	quiet(t, subR, "after one sighting")

	// A partner's sighting is counted, not alerted on.
	if err := c.Apply(ctx, h.coll, h.put(obj{sighting(newID("sighting"), ind, 1, asOf, od), "GBR OFFICIAL", "FRA"})); err != nil {
		t.Fatal(err)
	}
	quiet(t, subC, "a partner's sighting")

	stored, err := c.SightingAlerts(cleared)
	if err != nil || len(stored) != 1 || stored[0].ID != a.ID {
		t.Errorf("SightingAlerts = %d alerts, %v; want the one alert again, same ID", len(stored), err)
	}

	// Record: a log line's value.
	if ok, err := c.Record(Sighting{Observable: mustObs(t, KindIPv4, "192.0.2.200"), Source: "fw.log:9"}); !ok || err != nil {
		t.Fatalf("Record = %v, %v", ok, err)
	}
	if a := receive(t, subR); a.Sighting == nil || a.Sighting.Source != "fw.log:9" {
		t.Errorf("restricted alert for the recorded sighting = %+v", a)
	}
	if ok, err := c.Record(Sighting{Observable: mustObs(t, KindIPv4, "198.51.100.1")}); ok || err != nil {
		t.Errorf("Record of an unreported value = %v, %v; want not kept", ok, err)
	}

	subR.Close()
	subR.Close()
	if _, open := <-subR.C; open {
		t.Error("closed subscription's channel still open")
	}
}

// TestSubscriptionDropsWhenFull: a reader that does not keep up loses its
// own alerts, counted, and never blocks the writer.
func TestSubscriptionDropsWhenFull(t *testing.T) {
	h := newHarness(t)
	h.put(obj{indicator(newID("indicator"), "[ipv4-addr:value = '192.0.2.1']", 40, created), "GBR OFFICIAL", "FRA"})
	c := h.build(Options{})
	sub, _ := c.Subscribe(user(t, c, h.rel, "u", "OFFICIAL"), 2)
	defer sub.Close()
	for i := 0; i < 5; i++ {
		if _, err := c.Record(Sighting{Observable: mustObs(t, KindIPv4, "192.0.2.1"), Source: "x"}); err != nil {
			t.Fatal(err)
		}
	}
	if len(sub.C) != 2 || sub.Dropped() != 3 {
		t.Errorf("buffered %d, dropped %d; want 2 and 3", len(sub.C), sub.Dropped())
	}
}

// TestCorpusRises: the detector through the corpus: per observable,
// campaign and partner, a burst after a steady history rises, the steady
// history alone does not, and a viewer that cannot see the link to the
// campaign gets no campaign rise.
func TestCorpusRises(t *testing.T) {
	h := newHarness(t)
	ind, camp := newID("indicator"), newID("campaign")
	h.put(
		obj{indicator(ind, "[ipv4-addr:value = '192.0.2.10']", 60, created), "GBR OFFICIAL", "FRA"},
		obj{sdo("campaign", camp, "Operation Hourglass"), "GBR OFFICIAL", "FRA"},
		obj{relationship(newID("relationship"), "indicates", ind, camp), "GBR SECRET", "FRA"},
	)
	c := h.build(Options{})
	cleared := user(t, c, h.rel, "cleared", "SECRET")
	restricted := user(t, c, h.rel, "restricted", "OFFICIAL")
	o := mustObs(t, KindIPv4, "192.0.2.10")
	// Two sightings a day for three days.
	for hr := 72; hr > 0; hr -= 12 {
		if _, err := c.Record(Sighting{Observable: o, At: asOf.Add(-time.Duration(hr) * time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	if rs, _ := c.Rises(cleared, asOf); len(rs) != 0 {
		t.Fatalf("steady history: %d rises (%+v); want none", len(rs), rs[0].Rise)
	}
	sub, _ := c.Subscribe(cleared, 16)
	defer sub.Close()
	if _, err := c.Record(Sighting{Observable: o, At: asOf.Add(-10 * time.Minute), Count: 8}); err != nil {
		t.Fatal(err)
	}
	scopes := func(as []Alert) []string {
		var out []string
		for _, a := range as {
			if a.Kind == AlertRise {
				out = append(out, a.Rise.Scope+":"+a.Rise.Subject)
			}
		}
		slices.Sort(out)
		return out
	}
	rs, _ := c.Rises(cleared, asOf)
	want := []string{"campaign:Operation Hourglass", "observable:ipv4-addr:192.0.2.10/32", "partner:FRA"}
	if got := scopes(rs); !slices.Equal(got, want) {
		t.Fatalf("rises for the cleared user %v; want %v", got, want)
	}
	if rs[0].Rise.Test.PValue > DefaultAlpha || rs[0].Rise.Test.History != 71 || rs[0].Rise.Test.Count != 8 {
		t.Errorf("rise test %+v; want p <= %g over 71 buckets of history (the burst is in the hour before asOf), count 8", rs[0].Rise.Test, DefaultAlpha)
	}
	rr, _ := c.Rises(restricted, asOf)
	if got := scopes(rr); !slices.Equal(got, want[1:]) {
		t.Errorf("rises for the restricted user %v; want %v (the link to the campaign is SECRET)", got, want[1:])
	}
	// The live stream: the match alert, then the three rises, each once.
	var streamed []Alert
	for i := 0; i < 4; i++ {
		streamed = append(streamed, receive(t, sub))
	}
	if got := scopes(streamed); !slices.Equal(got, want) {
		t.Errorf("streamed rises %v; want %v", got, want)
	}
	if _, err := c.Record(Sighting{Observable: o, At: asOf.Add(-5 * time.Minute)}); err != nil {
		t.Fatal(err)
	}
	receive(t, sub) // its match alert
	quiet(t, sub, "a further sighting in a bucket that has risen already")
}

// TestAlertJSONRoundTrip: an alert read back from its JSON (as a webhook
// receiver or the console would) writes the same JSON again.
func TestAlertJSONRoundTrip(t *testing.T) {
	f := newLeakFixture()
	h := newHarness(t)
	h.put(f.all...)
	c := h.build(Options{})
	v := user(t, c, h.rel, "cleared", "SECRET")
	a, ok, err := c.Match(v, Sighting{Observable: mustObs(t, KindIPv4, f.ip), Source: "log:1"})
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	rises, _ := c.Rises(v, asOf)
	for _, x := range append([]Alert{a}, rises...) {
		b, err := json.Marshal(x)
		if err != nil {
			t.Fatal(err)
		}
		var back Alert
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatalf("unmarshal %s: %v", b, err)
		}
		again, _ := json.Marshal(back)
		if string(again) != string(b) {
			t.Errorf("JSON round trip:\n%s\nbecame\n%s", b, again)
		}
	}
}

// TestCorpusConcurrent: queries, subscriptions, Apply and Record run
// together (run with -race).
func TestCorpusConcurrent(t *testing.T) {
	f := newLeakFixture()
	h := newHarness(t)
	h.put(f.all[:len(f.all)/2]...)
	c := h.build(Options{})
	rest := h.put(f.all[len(f.all)/2:]...)
	v := user(t, c, h.rel, "cleared", "SECRET")
	sub, _ := c.Subscribe(v, 4)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for range sub.C {
		}
	}()
	ip := mustObs(t, KindIPv4, f.ip)
	for g := 0; g < 3; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				if _, _, err := c.Match(v, Sighting{Observable: ip}); err != nil {
					t.Error(err)
					return
				}
				if _, err := c.Correlate(v, ip, 0, asOf); err != nil {
					t.Error(err)
					return
				}
				if _, err := c.Rises(v, asOf); err != nil {
					t.Error(err)
					return
				}
				if _, err := c.Suggestions(v, ResolveOptions{}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	for i := range rest {
		if err := c.Apply(context.Background(), h.coll, rest[i:i+1]); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Record(Sighting{Observable: ip}); err != nil {
			t.Fatal(err)
		}
	}
	sub.Close()
	wg.Wait()
	fa, _ := c.Correlate(v, ip, 0, asOf)
	if fa.Corroboration != 3 {
		t.Errorf("after concurrent Apply: corroboration %d; want 3", fa.Corroboration)
	}
}

// TestApplyBatchOrder: a batch holding a sighting before the indicator it
// sights still raises the alert.
func TestApplyBatchOrder(t *testing.T) {
	h := newHarness(t)
	c := h.build(Options{})
	sub, _ := c.Subscribe(user(t, c, h.rel, "u", "OFFICIAL"), 4)
	defer sub.Close()
	ind := newID("indicator")
	batch := h.put(
		obj{sighting(newID("sighting"), ind, 1, asOf), "GBR OFFICIAL", ""},
		obj{indicator(ind, "[domain-name:value = 'order.example']", 50, created), "GBR OFFICIAL", "FRA"},
	)
	if err := c.Apply(context.Background(), h.coll, batch); err != nil {
		t.Fatal(err)
	}
	if a := receive(t, sub); a.Kind != AlertMatch || a.Findings[0].Reports[0].Object != ind {
		t.Errorf("alert = %+v; want a match on %s", a, ind)
	}
}
