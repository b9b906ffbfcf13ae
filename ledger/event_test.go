package ledger

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"
)

func TestEventRoundTrip(t *testing.T) {
	for i := range 24 {
		e := testEvent(i)
		b, err := e.Encode()
		if err != nil {
			t.Fatalf("Encode(%d): %v", i, err)
		}
		got, err := DecodeEvent(b)
		if err != nil {
			t.Fatalf("DecodeEvent(%s): %v", b, err)
		}
		if !got.Time.Equal(e.Time) {
			t.Fatalf("DecodeEvent time = %v; want %v", got.Time, e.Time)
		}
		got.Time = e.Time
		if !reflect.DeepEqual(got, e) {
			t.Fatalf("DecodeEvent(%s) = %+v; want %+v", b, got, e)
		}
	}
}

func TestEventCanonical(t *testing.T) {
	paris := time.FixedZone("CET", 3600)
	e := Event{Kind: KindRecallIssued, Time: time.Date(2026, 1, 2, 4, 4, 5, 0, paris), Actor: "a<b", Subjects: []string{"x"}, Details: map[string]string{"z": "1", "a": "é"}}
	b, err := e.Encode()
	if err != nil {
		t.Fatal(err)
	}
	want := `{"actor":"a<b","details":{"a":"é","z":"1"},"kind":"recall-issued","subjects":["x"],"time":"2026-01-02T03:04:05Z"}`
	if string(b) != want {
		t.Fatalf("Encode = %s; want %s", b, want)
	}
	for _, bad := range []string{
		`{"actor":"a<b","details":{"z":"1","a":"é"},"kind":"recall-issued","subjects":["x"],"time":"2026-01-02T03:04:05Z"}`,
		`{"actor":"a\u003cb","details":{"a":"é","z":"1"},"kind":"recall-issued","subjects":["x"],"time":"2026-01-02T03:04:05Z"}`,
		`{"actor":"a<b","details":{"a":"é","z":"1"},"kind":"recall-issued","subjects":["x"],"time":"2026-01-02T04:04:05+01:00"}`,
		`{"actor":"a<b","details":{"a":"é","z":"1"},"kind":"recall-issued","subjects":["x"],"time":"2026-01-02T03:04:05Z"} `,
		`{"actor":"a<b","details":{"a":"é","z":"1"},"extra":1,"kind":"recall-issued","subjects":["x"],"time":"2026-01-02T03:04:05Z"}`,
		`{"actor":"a<b","kind":"recall-issued","subjects":[],"time":"2026-01-02T03:04:05Z"}`,
	} {
		if _, err := DecodeEvent([]byte(bad)); !errors.Is(err, ErrInvalidEvent) {
			t.Errorf("DecodeEvent(%s) error = %v; want ErrInvalidEvent", bad, err)
		}
	}
}

func TestEventInvalid(t *testing.T) {
	for name, e := range map[string]Event{
		"kind":    {Kind: "object-shredded", Time: t0, Actor: "a"},
		"time":    {Kind: KindKeyRotated, Actor: "a"},
		"actor":   {Kind: KindKeyRotated, Time: t0},
		"subject": {Kind: KindKeyRotated, Time: t0, Actor: "a", Subjects: []string{""}},
		"details": {Kind: KindKeyRotated, Time: t0, Actor: "a", Details: map[string]string{"": "x"}},
	} {
		if _, err := e.Encode(); !errors.Is(err, ErrInvalidEvent) {
			t.Errorf("Encode(bad %s) error = %v; want ErrInvalidEvent", name, err)
		}
	}
}

func TestIngestEventsFitInEntries(t *testing.T) {
	ids := make([]string, 2500)
	for i := range ids {
		ids[i] = fmt.Sprintf("indicator--00000000-0000-4000-8000-%012d", i)
	}
	evs := IngestEvents("91a7b528-80eb-42ed-a74d-c6fbd5a26116", ids, time.Unix(0, 0))
	if len(evs) != 3 {
		t.Fatalf("IngestEvents(2500 ids) = %d events; want 3", len(evs))
	}
	var named []string
	for _, ev := range evs {
		if _, err := ev.Encode(); err != nil {
			t.Errorf("event %s: %v", ev.Details["part"], err)
		}
		named = append(named, ev.Subjects...)
	}
	if !slices.Equal(named, ids) {
		t.Error("the events do not name every id once, in order")
	}
}
