package release

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/tearline/tearline"
	"github.com/tearline/tearline/policy"
)

// TestClassIdentical changes every field of a class in turn and checks
// that identical tells it, both ways, and that identical classes encode
// alike. A field added to class and not compared fails here.
func TestClassIdentical(t *testing.T) {
	base := class{V: classVersion, Holder: "GBR", Type: "indicator", Topics: []string{"cyber"},
		Created: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), Verified: true, Originators: []string{"USA"}, HolderOrg: "gchq",
		Label: tearline.Label{Policy: "GBR", Classification: "SECRET"}}
	clone := func() class {
		c := base
		c.Topics, c.Originators, c.Label = append([]string(nil), base.Topics...), append([]string(nil), base.Originators...), base.Label.Clone()
		return c
	}
	c := clone()
	if !base.identical(&c) {
		t.Fatal("a copy is not identical")
	}
	a, _ := json.Marshal(base)
	b, _ := json.Marshal(c)
	if string(a) != string(b) {
		t.Fatalf("identical classes encode as %s and %s", a, b)
	}
	bv := reflect.ValueOf(base)
	for i := range bv.NumField() {
		name := bv.Type().Field(i).Name
		m := clone()
		f := reflect.ValueOf(&m).Elem().Field(i)
		switch name {
		case "Label":
			m.Label.Classification = "TOP SECRET"
		case "Variants":
			m.Variants = []policy.Variant{}
		case "Consents":
			m.Consents = []policy.Consent{}
		case "Created":
			m.Created = base.Created.Add(time.Second)
		default:
			switch f.Kind() {
			case reflect.String:
				f.SetString(f.String() + "x")
			case reflect.Bool:
				f.SetBool(!f.Bool())
			case reflect.Int:
				f.SetInt(f.Int() + 1)
			case reflect.Slice:
				f.Set(reflect.Append(f, reflect.Zero(f.Type().Elem())))
			default:
				t.Fatalf("class.%s: the test cannot change a %s", name, f.Kind())
			}
		}
		if base.identical(&m) || m.identical(&base) {
			t.Errorf("a change of class.%s is not told", name)
		}
	}
}
