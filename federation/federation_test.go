package federation

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tearline/tearline"
	"github.com/tearline/tearline/envelope"
	"github.com/tearline/tearline/label"
	"github.com/tearline/tearline/ledger"
	"github.com/tearline/tearline/partner"
	"github.com/tearline/tearline/policy"
	"github.com/tearline/tearline/release"
	"github.com/tearline/tearline/stix"
)

// matrixObject is a labelled object published on its originator's node
// and the nodes that must hold it once the federation is at rest.
type matrixObject struct {
	id, origin, banner, topic string
	holders                   []string // besides the origin
}

func matrixID(n int) string { return fmt.Sprintf("indicator--00000000-0000-4000-8000-%012d", n) }

// releasabilityMatrix is published on five nodes under the example
// agreements (FVEY, NATO, GBR-FRA, police). Releases happen under FVEY and
// GBR-FRA; the NATO and police arrangements restrict purposes, so a
// release for no stated purpose is not theirs to allow.
var releasabilityMatrix = []matrixObject{
	// FVEY members get it from GBR; USA and CAN may also pass it to each
	// other (the REL TO pre-authorises them), and each still holds it once.
	{matrixID(1), "GBR", "GBR SECRET//REL TO USA, GBR, FVEY", "counter-terrorism", []string{"USA", "CAN"}},
	{matrixID(2), "GBR", "GBR SECRET//REL TO GBR, FRA", "counter-terrorism", []string{"FRA"}},
	// Outside the GBR-FRA scope (topic), and no other agreement covers FRA.
	{matrixID(3), "GBR", "GBR SECRET//REL TO GBR, FRA", "fisheries", nil},
	// A NATO-policy label from a national node needs a person.
	{matrixID(4), "GBR", "NATO SECRET//REL TO NATO", "counter-terrorism", nil},
	// ORCON: the originator releases it; nobody passes it on.
	{matrixID(5), "GBR", "GBR SECRET//ORCON//REL TO USA, GBR, FVEY//ORIGINATOR GBR", "counter-terrorism", []string{"USA", "CAN"}},
	{matrixID(6), "GBR", "GBR SECRET//NOFORN", "counter-terrorism", nil},
	{matrixID(7), "GBR", "GBR SECRET//REL TO USA, GBR, FVEY//TLP:RED", "counter-terrorism", nil},
	{matrixID(8), "GBR", "GBR TOP SECRET//REL TO GBR, FRA", "counter-terrorism", nil}, // above the GBR-FRA ceiling
	{matrixID(9), "FRA", "FRA SECRET//REL TO GBR, FRA", "counter-terrorism", []string{"GBR"}},
	{matrixID(10), "USA", "SECRET//REL TO USA, GBR, FVEY", "cyber", []string{"GBR", "CAN"}},
	// USA holds GBR's ORCON material: it may give it back to GBR, not pass
	// it to CAN; GBR, its originator, may.
	{matrixID(11), "USA", "SECRET//ORCON//REL TO USA, CAN, GBR//ORIGINATOR GBR", "counter-terrorism", []string{"GBR", "CAN"}},
	{matrixID(12), "DEU", "DEU GEHEIM//REL TO NATO", "counter-terrorism", nil},
	{matrixID(13), "CAN", "CAN SECRET//REL TO USA, CAN", "counter-terrorism", []string{"USA"}},
	{matrixID(14), "DEU", "DEU VS-NUR FÜR DEN DIENSTGEBRAUCH//REL TO DEU, FRA//H0", "crime", nil},
}

// TestReleasabilityMatrix publishes the matrix on five nodes linked over
// mutual TLS and inspects every store once the federation is at rest:
// every object is held, once, by exactly the nodes allowed to hold it.
func TestReleasabilityMatrix(t *testing.T) {
	codes := []string{"GBR", "USA", "FRA", "DEU", "CAN"}
	tn := newNet(t, codes...)
	// Half is published before the links start, half while they run.
	publish := func(first bool) {
		for i, o := range releasabilityMatrix {
			if (i%2 == 0) == first {
				tn.nodes[o.origin].publish(labelled(t, o.id, o.banner, o.topic))
			}
		}
	}
	publish(true)
	tn.startAll()
	publish(false)
	tn.waitSettled(60 * time.Second)

	want := map[string]map[string]int{}
	for _, c := range codes {
		want[c] = map[string]int{}
	}
	for _, o := range releasabilityMatrix {
		for _, h := range append([]string{o.origin}, o.holders...) {
			want[h][o.id] = 1
		}
	}
	for _, c := range codes {
		if got := tn.nodes[c].held(); !maps.Equal(got, want[c]) {
			t.Errorf("%s holds %v (versions per object)\nwant %v", c, got, want[c])
		}
	}
	for _, c := range codes {
		tn.nodes[c].verifyLedger()
	}

	// What CAN holds of GBR's says where it came from, and verifies again
	// from the stored batch with the key on GBR's card.
	can := tn.nodes["CAN"]
	origins, err := can.store.Origins(context.Background(), matrixID(5))
	if err != nil {
		t.Fatal(err)
	}
	if len(origins) != 1 || origins[0].Sender != "GBR" || !slices.Equal(origins[0].Originators, []string{"GBR"}) {
		t.Fatalf("CAN's provenance of %s = %+v; want one record from GBR", matrixID(5), origins)
	}
	o := origins[0]
	sig, err := envelope.ParseSignature(o.Signature)
	if err != nil {
		t.Fatal(err)
	}
	proof, err := envelope.ParseProof(o.Proof)
	if err != nil {
		t.Fatal(err)
	}
	pinned, err := partner.NewStore(can.dir, "CAN").Get("GBR")
	if err != nil {
		t.Fatal(err)
	}
	page, err := can.store.Objects(context.Background(), tearline.ObjectQuery{Collection: "default", IDs: []string{matrixID(5)}})
	if err != nil || len(page.Objects) != 1 {
		t.Fatalf("CAN's copy of %s: %v", matrixID(5), err)
	}
	lh := labelHashOf(t, can.store, page.Objects[0].JSON)
	if _, err := envelope.VerifyObject(o.Header, sig, ed25519.PublicKey(pinned.Card.SigningKey.Public), page.Objects[0].Hash, lh, proof); err != nil {
		t.Errorf("CAN's copy of %s does not verify against the batch it came in: %v", matrixID(5), err)
	}

	// Both ledgers name the exchange: GBR sent to CAN, CAN received from GBR.
	if !hasEvent(tn.nodes["GBR"].events(ledger.KindEnvelopeSent), func(e ledger.Event) bool {
		return e.Details["recipient"] == "CAN" && slices.Contains(e.Subjects, matrixID(1))
	}) {
		t.Error("GBR's audit log has no envelope-sent entry naming what it sent to CAN")
	}
	if !hasEvent(can.events(ledger.KindEnvelopeReceived), func(e ledger.Event) bool { return e.Actor == "GBR" && e.Details["added"] != "0" }) {
		t.Error("CAN's audit log has no envelope-received entry for GBR's batches")
	}

	// Link state: every link with a node caught up, without errors; AUS
	// and NZL, FVEY members with no node here, have what GBR released to
	// them waiting.
	states, err := tn.nodes["GBR"].fed.Links(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var linked []string
	for _, s := range states {
		linked = append(linked, s.Partner)
		switch s.Partner {
		case "AUS", "NZL":
			if s.OutLag != 3 || s.Endpoint != "" || !s.LastServed.IsZero() {
				t.Errorf("GBR's link with %s = %+v; want 3 objects waiting, never served", s.Partner, s)
			}
		default:
			if s.OutLag != 0 || s.InLag != 0 || s.SendError != "" || s.ReceiveError != "" || s.Endpoint == "" {
				t.Errorf("GBR's link with %s = %+v; want caught up, without errors", s.Partner, s)
			}
		}
	}
	if !slices.Equal(linked, []string{"AUS", "CAN", "DEU", "FRA", "NZL", "USA"}) {
		t.Errorf("GBR's links = %v; want the four nodes and the two FVEY partners without one", linked)
	}
}

func hasEvent(evs []ledger.Event, match func(ledger.Event) bool) bool {
	return slices.ContainsFunc(evs, match)
}

// TestOnwardWithoutEntitlementRefused: a node whose release set wrongly
// lets it pass on another's ORCON material (a misconfigured or dishonest
// node) sends it; the third node refuses it, records why, and tells the
// sender, which records it too. With a label that authorises the third
// node, the same path delivers.
func TestOnwardWithoutEntitlementRefused(t *testing.T) {
	tn := newNet(t, "GBR", "USA", "CAN")
	orcon := matrixObject{matrixID(21), "GBR", "GBR SECRET//ORCON//REL TO USA, GBR, FVEY//ORIGINATOR GBR", "counter-terrorism", nil}
	tn.nodes["GBR"].publish(labelled(t, orcon.id, orcon.banner, orcon.topic))
	tn.startAll()
	usa, can := tn.nodes["USA"], tn.nodes["CAN"]
	eventually(t, 30*time.Second, func() (bool, string) {
		return usa.held()[orcon.id] == 1, "USA does not hold GBR's ORCON object"
	})
	tn.waitSettled(30 * time.Second)
	if can.held()[orcon.id] != 1 {
		t.Fatalf("CAN does not hold GBR's object that GBR released to it: %v", can.held())
	}

	// USA's release set for its copy says "needs consent" for CAN; forge
	// an allow, as a node that ignores the third-party rule would.
	ctx := context.Background()
	class, releases, err := usa.store.ReleaseOf(ctx, "default", orcon.id, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range releases {
		if r.Partner == "CAN" && r.Outcome == tearline.Allow {
			t.Fatalf("USA's release set allows GBR's ORCON object to CAN: %+v", r)
		}
	}
	// CAN first loses its own copy, so that nothing masks the refusal.
	if _, err := can.store.DeleteObjects(ctx, tearline.ObjectQuery{Collection: "default", IDs: []string{orcon.id}}); err != nil {
		t.Fatal(err)
	}
	if err := usa.store.ApplyReleases(ctx, tearline.ReleaseChange{Set: []tearline.ClassRelease{{Class: class, Partner: "CAN", Outcome: tearline.Allow}},
		Time: time.Now(), Actor: "rogue", Cause: "ignores the third-party rule", Summary: map[string]string{"CAN": "+1 -0 ~0"}}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, func() (bool, string) {
		return hasEvent(can.events(ledger.KindEnvelopeReceived), func(e ledger.Event) bool {
			return e.Actor == "USA" && slices.Contains(e.Subjects, orcon.id) && strings.Contains(fmt.Sprint(e.Details), "orcon")
		}), "CAN's audit log does not record refusing USA's onward share for ORCON"
	})
	eventually(t, 30*time.Second, func() (bool, string) {
		return hasEvent(usa.events(ledger.KindEnvelopeSent), func(e ledger.Event) bool {
			return e.Actor == "CAN" && e.Details["receipt"] == "refused" && slices.Contains(e.Subjects, orcon.id)
		}), "USA's audit log does not record CAN's refusal"
	})
	if got := can.held()[orcon.id]; got != 0 {
		t.Errorf("CAN holds %d copies of the object USA was not entitled to send; want none", got)
	}
	// The link carries on: the refusal was applied, not retried.
	tn.waitSettled(30 * time.Second)
	for _, n := range tn.nodes {
		n.verifyLedger()
	}
}

// TestWithdrawnBeforeSent: objects queued for FRA while its node is down
// are withdrawn before it comes back (the agreement is gone); nothing of
// them leaves, because the release set is read again when sending.
func TestWithdrawnBeforeSent(t *testing.T) {
	tn := newNet(t, "GBR", "FRA")
	tn.pin()
	gbr, fra := tn.nodes["GBR"], tn.nodes["FRA"]
	tn.start(gbr)
	for i := 1; i <= 20; i++ {
		gbr.publish(labelled(t, matrixID(30+i), "GBR SECRET//REL TO GBR, FRA", "counter-terrorism"))
	}
	ctx := context.Background()
	heads, err := gbr.store.OutboxHeads(ctx)
	if err != nil || len(heads) != 1 || heads[0].Partner != "FRA" || heads[0].Last != 20 {
		t.Fatalf("GBR's outbox heads = %+v, %v; want 20 queued for FRA", heads, err)
	}
	// The GBR-FRA agreement ends: every class is decided again without it.
	rels, err := gbr.store.Releases(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var remove []tearline.ClassRelease
	for _, r := range rels {
		if r.Partner == "FRA" {
			remove = append(remove, tearline.ClassRelease{Class: r.Class, Partner: "FRA"})
		}
	}
	if err := gbr.store.ApplyReleases(ctx, tearline.ReleaseChange{Remove: remove, Time: time.Now(), Actor: "test", Cause: "agreement ended",
		Summary: map[string]string{"FRA": "+0 -20 ~0"}}); err != nil {
		t.Fatal(err)
	}
	gbr.stop()
	// GBR's node runs without the agreement from now on.
	agreements := slices.DeleteFunc(slices.Clone(gbr.rel.Agreements), func(a tearline.Agreement) bool { return a.ID == "gbr-fra-security" })
	gbr.rel = mustReleaser(t, agreements, "GBR")
	tn.start(gbr)
	tn.start(fra)
	tn.waitSettled(30 * time.Second)
	if got := fra.held(); len(got) != 0 {
		t.Errorf("FRA holds %v after the release was withdrawn; want nothing", keys(got))
	}
	sent := gbr.events(ledger.KindEnvelopeSent)
	if hasEvent(sent, func(e ledger.Event) bool { return e.Details["recipient"] == "FRA" && e.Details["objects"] != "0" }) {
		t.Errorf("GBR's audit log records objects sent to FRA after the withdrawal: %+v", sent)
	}
	if c, _ := fra.store.InboxCursor(ctx, "GBR"); c.Through != 20 {
		t.Errorf("FRA's cursor for GBR = %d; want 20 (the withheld range passed)", c.Through)
	}
}

// labelHashOf reads an object's label with the marking definitions its
// store holds.
func labelHashOf(t *testing.T, s MarkingSource, data []byte) [32]byte {
	t.Helper()
	_, v, err := stix.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	defs := label.Definitions{}
	refs, _ := v.Get("object_marking_refs")
	var ids []string
	for _, r := range refs.Arr {
		ids = append(ids, r.Str)
	}
	page, err := s.Objects(context.Background(), tearline.ObjectQuery{Collection: "default", IDs: ids, Types: []string{"marking-definition"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range page.Objects {
		if err := defs.Add(m.JSON); err != nil {
			t.Fatal(err)
		}
	}
	l, err := label.FromObject(v, defs)
	if err != nil {
		t.Fatal(err)
	}
	return label.Hash(l)
}

func mustReleaser(t *testing.T, agreements []tearline.Agreement, holder string) *release.Releaser {
	t.Helper()
	r, err := release.NewReleaser(policy.Builtin(), agreements, holder)
	if err != nil {
		t.Fatal(err)
	}
	return r
}
