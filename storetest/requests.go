package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/tearline/tearline"
	"github.com/tearline/tearline/federation/mailbox"
	"github.com/tearline/tearline/ledger"
)

// RequestStore is a store that keeps consent requests.
type RequestStore interface {
	mailbox.RequestStore
	Close() error
}

// RequestOpener returns a new, empty store and its audit log storage.
type RequestOpener func(t *testing.T) (RequestStore, ledger.Storage)

// RunRequests checks consent request storage: a request is kept in its box
// with its audit entry, kept again unchanged without a second entry, and
// refused when another request takes its id in the same box (the other box
// is separate); requests are listed oldest first with their times to the
// nanosecond; a pending request is decided once, with its entries, the
// same answer again is a no-op, another is ErrRequestDecided; delivery of
// an inbox answer is recorded; unknown requests are tearline.ErrNotFound.
func RunRequests(t *testing.T, open RequestOpener) {
	ctx := context.Background()
	s, st := open(t)
	t.Cleanup(func() { s.Close() })
	size := func() uint64 {
		t.Helper()
		n, err := st.Size(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	ev := func(what string) ledger.Event {
		return ledger.Event{Kind: ledger.KindReleaseDecided, Time: base, Actor: "CAN", Subjects: []string{id("report", 1)},
			Details: map[string]string{"consent-request": what}}
	}
	version := base.Add(-time.Hour + 123456789)
	r1 := mailbox.Request{Box: mailbox.RequestInbox, ID: "req-1", Requester: "CAN", Originator: "USA", Recipient: "GBR",
		Object: id("report", 1), Version: version, Note: "for the joint brief", Created: base}
	r2 := r1
	r2.ID, r2.Created, r2.Note = "req-2", base.Add(time.Second), ""
	before := size()
	for _, r := range []mailbox.Request{r1, r2, r1} {
		if err := s.PutRequest(ctx, r, ev("received")); err != nil {
			t.Fatalf("PutRequest(%s): %v", r.ID, err)
		}
	}
	if got := size(); got != before+2 {
		t.Errorf("audit log grew by %d entries for two requests (one kept twice); want 2", got-before)
	}
	other := r1
	other.Recipient = "AUS"
	if err := s.PutRequest(ctx, other, ev("received")); !errors.Is(err, mailbox.ErrRequestExists) {
		t.Errorf("PutRequest(another request under req-1) = %v; want ErrRequestExists", err)
	}
	out := r1
	out.Box = mailbox.RequestOutbox
	if err := s.PutRequest(ctx, out, ev("sent")); err != nil {
		t.Fatalf("PutRequest(req-1 in the outbox): %v", err)
	}
	got, err := s.GetRequest(ctx, mailbox.RequestInbox, "req-1")
	if err != nil {
		t.Fatal(err)
	}
	if got.State != mailbox.RequestPending || !got.Version.Equal(version) || !got.Created.Equal(base) || got.Note != r1.Note ||
		got.Recipient != "GBR" || got.Requester != "CAN" || got.Originator != "USA" || got.Box != mailbox.RequestInbox {
		t.Fatalf("GetRequest(inbox, req-1) = %+v; want it pending, as kept", got)
	}
	inbox, err := s.Requests(ctx, mailbox.RequestInbox)
	if err != nil {
		t.Fatal(err)
	}
	if len(inbox) != 2 || inbox[0].ID != "req-1" || inbox[1].ID != "req-2" {
		t.Fatalf("Requests(inbox) = %+v; want req-1, req-2", inbox)
	}
	if outbox, err := s.Requests(ctx, mailbox.RequestOutbox); err != nil || len(outbox) != 1 || outbox[0].Box != mailbox.RequestOutbox {
		t.Fatalf("Requests(outbox) = %+v, %v; want req-1 alone", outbox, err)
	}
	if _, err := s.GetRequest(ctx, mailbox.RequestOutbox, "req-2"); !errors.Is(err, tearline.ErrNotFound) {
		t.Errorf("GetRequest(outbox, req-2) = %v; want ErrNotFound", err)
	}

	decided := base.Add(time.Minute + 7)
	approve := mailbox.Answer{State: mailbox.RequestApproved, At: decided, Record: []byte(`{"consent":1}`)}
	before = size()
	if err := s.DecideRequest(ctx, mailbox.RequestInbox, "req-1", approve, []ledger.Event{ev("given")}); err != nil {
		t.Fatalf("DecideRequest(approve): %v", err)
	}
	if err := s.DecideRequest(ctx, mailbox.RequestInbox, "req-1", approve, []ledger.Event{ev("given")}); err != nil {
		t.Fatalf("DecideRequest(the same approval again): %v", err)
	}
	if got := size(); got != before+1 {
		t.Errorf("audit log grew by %d entries for one approval recorded twice; want 1", got-before)
	}
	deny := mailbox.Answer{State: mailbox.RequestDenied, At: decided, Reason: "source at risk", Record: []byte(`{"denial":1}`)}
	if err := s.DecideRequest(ctx, mailbox.RequestInbox, "req-1", deny, []ledger.Event{ev("denied")}); !errors.Is(err, mailbox.ErrRequestDecided) {
		t.Errorf("DecideRequest(deny an approved request) = %v; want ErrRequestDecided", err)
	}
	if err := s.DecideRequest(ctx, mailbox.RequestInbox, "req-2", deny, []ledger.Event{ev("denied")}); err != nil {
		t.Fatalf("DecideRequest(deny): %v", err)
	}
	if err := s.DecideRequest(ctx, mailbox.RequestInbox, "req-9", deny, nil); !errors.Is(err, tearline.ErrNotFound) {
		t.Errorf("DecideRequest(unknown) = %v; want ErrNotFound", err)
	}
	got, err = s.GetRequest(ctx, mailbox.RequestInbox, "req-1")
	if err != nil {
		t.Fatal(err)
	}
	if got.State != mailbox.RequestApproved || !got.Decided.Equal(decided) || string(got.Record) != `{"consent":1}` || !got.Delivered.IsZero() {
		t.Errorf("req-1 after approval = %+v; want approved at %s with its record, not delivered", got, decided)
	}
	if got, err := s.GetRequest(ctx, mailbox.RequestOutbox, "req-1"); err != nil || got.State != mailbox.RequestPending {
		t.Errorf("GetRequest(outbox, req-1) = %+v, %v; want pending: the boxes are separate", got, err)
	}
	if got, _ := s.GetRequest(ctx, mailbox.RequestInbox, "req-2"); got.State != mailbox.RequestDenied || got.Reason != "source at risk" {
		t.Errorf("req-2 after denial = %+v; want denied with its reason", got)
	}

	if err := s.SetDelivered(ctx, mailbox.RequestInbox, "req-1", time.Time{}, "connection refused"); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.GetRequest(ctx, mailbox.RequestInbox, "req-1"); got.DeliveryError != "connection refused" || !got.Delivered.IsZero() {
		t.Errorf("req-1 after a failed delivery = %+v; want the error, not delivered", got)
	}
	if err := s.SetDelivered(ctx, mailbox.RequestInbox, "req-1", decided, ""); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.GetRequest(ctx, mailbox.RequestInbox, "req-1"); got.DeliveryError != "" || !got.Delivered.Equal(decided) {
		t.Errorf("req-1 after delivery = %+v; want delivered at %s with no error", got, decided)
	}
	if got, _ := s.GetRequest(ctx, mailbox.RequestOutbox, "req-1"); !got.Delivered.IsZero() {
		t.Errorf("outbox req-1 = %+v; want not delivered: delivery is recorded per box", got)
	}
	if err := s.SetDelivered(ctx, mailbox.RequestOutbox, "req-2", decided, ""); !errors.Is(err, tearline.ErrNotFound) {
		t.Errorf("SetDelivered(unknown) = %v; want ErrNotFound", err)
	}
}
