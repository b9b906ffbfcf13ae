package label

import (
	"errors"
	"reflect"
	"testing"

	"github.com/tearline/tearline"
	"github.com/tearline/tearline/fuzzseed"
	"github.com/tearline/tearline/stix"
)

// FuzzParse: Parse never panics and fails only with a *RuleError; whatever
// it accepts is valid, and Format writes it as a banner that Parse reads
// back to the same label and that Format writes again unchanged.
func FuzzParse(f *testing.F) {
	fuzzseed.Require(f)
	f.Fuzz(func(t *testing.T, banner string) {
		l, err := Parse(banner)
		if err != nil {
			var re *RuleError
			if !errors.As(err, &re) || re.Rule == "" {
				t.Fatalf("Parse(%q) error %T %v; want a *RuleError with a rule", banner, err, err)
			}
			return
		}
		if err := Validate(l); err != nil {
			t.Fatalf("Validate(Parse(%q)) = %v; Parse returned an invalid label", banner, err)
		}
		b := Format(l)
		again, err := Parse(b)
		if err != nil {
			t.Fatalf("Parse(Format(Parse(%q)) = %q) = %v; want it accepted", banner, b, err)
		}
		if !reflect.DeepEqual(again, l) {
			t.Fatalf("Parse(Format(Parse(%q))) = %+v; want %+v (banner %q)", banner, again, l, b)
		}
		if b2 := Format(again); b2 != b {
			t.Fatalf("Format is not canonical for %q: %q then %q", banner, b, b2)
		}
	})
}

// FuzzMarking: FromObject never panics on a marking definition it is given
// and fails only with a *RuleError; a label it reads is valid, and writing
// it with ToMarkings and reading it back gives the same label.
func FuzzMarking(f *testing.F) {
	fuzzseed.Require(f)
	f.Fuzz(func(t *testing.T, def []byte) {
		v, err := stix.ParseJSON(def)
		if err != nil {
			return
		}
		idv, ok := v.Get("id")
		if !ok || idv.Kind != stix.String {
			return
		}
		l, err := FromObject(markedObject(idv.Str), Definitions{idv.Str: &v})
		if err != nil {
			var re *RuleError
			if !errors.As(err, &re) || re.Rule == "" {
				t.Fatalf("FromObject(%s) error %T %v; want a *RuleError with a rule", def, err, err)
			}
			return
		}
		if reflect.DeepEqual(l, tearline.Label{}) {
			return
		}
		if err := Validate(l); err != nil {
			t.Fatalf("Validate(FromObject(%s)) = %v; FromObject returned an invalid label", def, err)
		}
		defs, refs, err := ToMarkings(l)
		if err != nil {
			t.Fatalf("ToMarkings(FromObject(%s)) = %v", def, err)
		}
		d := Definitions{}
		for _, out := range defs {
			if err := d.Add(out); err != nil {
				t.Fatalf("ToMarkings(FromObject(%s)) wrote %s, which STIX rejects: %v", def, out, err)
			}
		}
		again, err := FromObject(markedObject(refs...), d)
		if err != nil || !reflect.DeepEqual(again, l) {
			t.Fatalf("FromObject(ToMarkings(FromObject(%s))) = %+v, %v; want %+v", def, again, err, l)
		}
	})
}

// markedObject is a minimal object carrying the given marking refs.
func markedObject(refs ...string) *stix.Value {
	arr := stix.Value{Kind: stix.Array}
	for _, r := range refs {
		arr.Arr = append(arr.Arr, stix.Value{Kind: stix.String, Str: r})
	}
	return &stix.Value{Kind: stix.Object, Obj: []stix.Member{
		{Key: "type", Value: stix.Value{Kind: stix.String, Str: "indicator"}},
		{Key: "object_marking_refs", Value: arr},
	}}
}
