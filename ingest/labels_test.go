package ingest

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/tearline/tearline"
	"github.com/tearline/tearline/label"
	"github.com/tearline/tearline/stix"
)

// TestStreamLabelsOfSharedMarkings: objects that share their marking refs
// get the same label, each its own copy; other refs get their own label;
// and an object whose definitions arrive later in the input is labelled
// once they have.
func TestStreamLabelsOfSharedMarkings(t *testing.T) {
	secret, err := label.Parse("GBR SECRET//REL TO USA, GBR")
	if err != nil {
		t.Fatal(err)
	}
	defs, refs, err := label.ToMarkings(secret)
	if err != nil {
		t.Fatal(err)
	}
	const green = "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"
	obj := func(n int, refs ...string) string {
		id := strings.Repeat(string(rune('0'+n)), 8) + "-1111-4111-8111-111111111111"
		return `{"type":"identity","spec_version":"2.1","id":"identity--` + id + `","created":"2024-01-01T00:00:00.000Z","modified":"2024-01-01T00:00:00.000Z","name":"X","object_marking_refs":["` + strings.Join(refs, `","`) + `"]}` + "\n"
	}
	var input strings.Builder
	input.WriteString(obj(1, refs...)) // before its definitions: unreadable
	for _, d := range defs {
		input.Write(d)
		input.WriteString("\n")
	}
	input.WriteString(obj(2, refs...) + obj(3, green) + obj(4, refs...) + obj(5, refs...))

	labels := map[string]tearline.Label{}
	_, err = Stream(context.Background(), newStore(t), strings.NewReader(input.String()), Options{Collection: "c",
		BatchSize: 1000,
		Classify: func(o *tearline.Object, _ *stix.Value, l tearline.Label) ([]byte, error) {
			if o.Type == "identity" {
				labels[o.ID[len("identity--"):][:1]] = l
			}
			return []byte(`{}`), nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	want, err := label.FromObject(mustValue(t, obj(2, refs...)), definitions(t, defs))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(labels["1"], tearline.Label{}) {
		t.Errorf("object 1, before its definitions: label %+v; want the zero label", labels["1"])
	}
	for _, n := range []string{"2", "4", "5"} {
		if !reflect.DeepEqual(labels[n], want) {
			t.Errorf("object %s: label %+v; want %+v", n, labels[n], want)
		}
	}
	if labels["3"].TLP != tearline.TLPGreen || len(labels["3"].Categories) != 0 {
		t.Errorf("object 3 (TLP:GREEN): label %+v", labels["3"])
	}
	// Each object has its own copy.
	labels["4"].Categories[0].Values[0] = "changed"
	if labels["5"].Categories[0].Values[0] == "changed" {
		t.Error("objects 4 and 5 share their label's memory")
	}
}

func mustValue(t *testing.T, raw string) *stix.Value {
	t.Helper()
	v, err := stix.ParseJSON([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	return &v
}

func definitions(t *testing.T, defs [][]byte) label.Definitions {
	t.Helper()
	d := label.Definitions{}
	for _, def := range defs {
		if err := d.Add(def); err != nil {
			t.Fatal(err)
		}
	}
	return d
}
