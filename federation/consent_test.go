package federation

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tearline/tearline"
	"github.com/tearline/tearline/envelope"
	"github.com/tearline/tearline/federation/mailbox"
	"github.com/tearline/tearline/ledger"
	"github.com/tearline/tearline/partner"
)

func consentStore(t *testing.T, n *testNode) ConsentRecords {
	t.Helper()
	n.mu.Lock()
	defer n.mu.Unlock()
	cs, ok := n.store.(ConsentRecords)
	if !ok {
		t.Fatalf("%s's store keeps no consents", n.code)
	}
	return cs
}

// onwardSetup has GBR release an ORCON object to USA and CAN, then takes
// CAN's copy away, so that only USA's onward share can bring it back.
func onwardSetup(t *testing.T, n int) (*testNet, string) {
	tn := newNet(t, "GBR", "USA", "CAN")
	id := matrixID(n)
	tn.nodes["GBR"].publish(labelled(t, id, "GBR SECRET//ORCON//REL TO USA, GBR, FVEY//ORIGINATOR GBR", "counter-terrorism"))
	tn.startAll()
	usa, can := tn.nodes["USA"], tn.nodes["CAN"]
	eventually(t, 30*time.Second, func() (bool, string) {
		return usa.held()[id] == 1 && can.held()[id] == 1, "USA and CAN do not both hold GBR's ORCON object"
	})
	tn.waitSettled(30 * time.Second)
	if _, err := can.store.DeleteObjects(context.Background(), tearline.ObjectQuery{Collection: "default", IDs: []string{id}}); err != nil {
		t.Fatal(err)
	}
	return tn, id
}

// TestOnwardWithConsentAccepted: GBR's node signs its consent for USA to
// pass GBR's ORCON object to CAN; USA keeps it, its release set then
// allows the object to CAN, the consent travels with it, and CAN verifies
// it with GBR's pinned key and accepts the object. Every node's audit log
// records the consent.
func TestOnwardWithConsentAccepted(t *testing.T) {
	tn, id := onwardSetup(t, 31)
	gbr, usa, can := tn.nodes["GBR"], tn.nodes["USA"], tn.nodes["CAN"]
	now := time.Now().UTC()
	record, err := SignConsent(Consent{Request: "req-31", Originator: "GBR", Holder: "USA", Recipient: "CAN", Object: id,
		Issued: now, Expires: now.Add(time.Hour)}, envelopeSigner(gbr.node))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	_, n, err := AcceptConsent(ctx, consentStore(t, usa), partner.NewStore(usa.dir, "USA"), usa.rel, "default", record, now)
	if err != nil {
		t.Fatalf("AcceptConsent: %v", err)
	}
	if n != 1 {
		t.Fatalf("AcceptConsent reclassified %d versions; want 1", n)
	}
	_, releases, err := usa.store.ReleaseOf(ctx, "default", id, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(releases, func(r tearline.ClassRelease) bool { return r.Partner == "CAN" && r.Outcome == tearline.Allow }) {
		t.Fatalf("USA's release set for %s after GBR's consent = %+v; want CAN allowed", id, releases)
	}
	eventually(t, 30*time.Second, func() (bool, string) {
		return can.held()[id] == 1, "CAN does not hold the object USA passed on with GBR's consent"
	})
	origins, err := can.store.Origins(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(origins, func(o mailbox.Origin) bool { return o.Sender == "USA" }) {
		t.Errorf("CAN's provenance of %s = %+v; want a copy from USA", id, origins)
	}
	consentEvent := func(n *testNode, what string) func() (bool, string) {
		return func() (bool, string) {
			return hasEvent(n.events(ledger.KindConsentGiven), func(e ledger.Event) bool {
				return e.Details["consent"] == what && e.Details["request"] == "req-31" && slices.Contains(e.Subjects, id)
			}), fmt.Sprintf("%s's audit log has no %q consent entry", n.code, what)
		}
	}
	eventually(t, 5*time.Second, consentEvent(usa, "received"))
	eventually(t, 5*time.Second, consentEvent(usa, "passed-on"))
	eventually(t, 5*time.Second, consentEvent(can, "used"))
	tn.waitSettled(30 * time.Second)
	for _, n := range tn.nodes {
		n.verifyLedger()
	}
}

// TestOnwardWithForgedConsentRefused: a node that writes itself a consent
// in the originator's name (signed with its own key) passes the object on;
// the third node refuses the consent and the object.
func TestOnwardWithForgedConsentRefused(t *testing.T) {
	tn, id := onwardSetup(t, 32)
	usa, can := tn.nodes["USA"], tn.nodes["CAN"]
	now := time.Now().UTC()
	forger := envelopeSigner(usa.node)
	forger.Code = "GBR" // USA's key, GBR's name
	record, err := SignConsent(Consent{Request: "req-32", Originator: "GBR", Holder: "USA", Recipient: "CAN", Object: id, Issued: now}, forger)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	// USA's own check refuses it ...
	if _, _, err := AcceptConsent(ctx, consentStore(t, usa), partner.NewStore(usa.dir, "USA"), usa.rel, "default", record, now); !errors.Is(err, ErrConsent) {
		t.Fatalf("AcceptConsent(forged) = %v; want ErrConsent", err)
	}
	// ... so a rogue USA keeps it without the check.
	p, err := ParseConsent(record)
	if err != nil {
		t.Fatal(err)
	}
	cs := consentStore(t, usa)
	if err := cs.PutConsent(ctx, p.Mailbox(), ConsentEvent("rogue", "received", &p.Consent, now)); err != nil {
		t.Fatal(err)
	}
	if _, err := Reclassify(ctx, cs, usa.rel, "default", id, time.Time{}); err != nil {
		t.Fatal(err)
	}
	usa.publish("") // updates the release sets
	eventually(t, 30*time.Second, func() (bool, string) {
		return hasEvent(can.events(ledger.KindEnvelopeReceived), func(e ledger.Event) bool {
			return e.Actor == "USA" && slices.Contains(e.Subjects, id) && strings.Contains(fmt.Sprint(e.Details), "orcon")
		}), "CAN's audit log does not record refusing USA's onward share with a forged consent"
	})
	if !hasEvent(can.events(ledger.KindEnvelopeReceived), func(e ledger.Event) bool {
		return strings.Contains(fmt.Sprint(e.Details), RefusedConsent)
	}) {
		t.Errorf("CAN's audit log does not record refusing the forged consent itself")
	}
	if got := can.held()[id]; got != 0 {
		t.Errorf("CAN holds %d copies of an object passed on with a forged consent; want none", got)
	}
}

func TestVerifyConsent(t *testing.T) {
	tn := newNet(t, "GBR", "USA", "CAN")
	tn.pin()
	gbr := tn.nodes["GBR"]
	cards := partner.NewStore(tn.nodes["CAN"].dir, "CAN")
	now := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	good := Consent{Request: "r1", Originator: "GBR", Holder: "USA", Recipient: "CAN", Object: matrixID(1),
		Issued: now, Expires: now.Add(time.Hour)}
	sign := func(c Consent, s envelope.Signer) []byte {
		t.Helper()
		b, err := SignConsent(c, s)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	other := envelopeSigner(tn.nodes["USA"].node)
	other.Code = "GBR"
	valid := sign(good, envelopeSigner(gbr.node))
	tampered := strings.Replace(string(valid), `"recipient":"CAN"`, `"recipient":"FRA"`, 1)
	for _, tc := range []struct {
		name   string
		record []byte
		at     time.Time
		ok     bool
	}{
		{"valid", valid, now.Add(time.Minute), true},
		{"expired", valid, now.Add(time.Hour), false},
		{"forged", sign(good, other), now, false},
		{"tampered", []byte(tampered), now, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := ParseConsent(tc.record)
			if err == nil {
				err = VerifyConsent(cards, p, tc.at)
			}
			if (err == nil) != tc.ok {
				t.Fatalf("VerifyConsent(%s) = %v; want ok %v", tc.name, err, tc.ok)
			}
			if err != nil && !errors.Is(err, ErrConsent) {
				t.Errorf("VerifyConsent(%s) = %v; want ErrConsent", tc.name, err)
			}
		})
	}
}
