package tearline

import (
	"reflect"
	"testing"
	"time"
)

// TestLabelCloneSharesNothing fills every field of a Label and checks that
// Clone copies it and shares no list, map or pointer with it, so that a
// field added later without a copy in Clone fails here.
func TestLabelCloneSharesNothing(t *testing.T) {
	l := fullLabel(t)
	c := l.Clone()
	if !reflect.DeepEqual(c, l) {
		t.Fatalf("Clone = %+v, want %+v", c, l)
	}
	lv, cv := reflect.ValueOf(l), reflect.ValueOf(c)
	for i := range lv.NumField() {
		name := lv.Type().Field(i).Name
		a, b := lv.Field(i), cv.Field(i)
		switch a.Kind() {
		case reflect.Slice, reflect.Pointer, reflect.Map:
			if a.UnsafePointer() == b.UnsafePointer() {
				t.Errorf("Label.%s is shared by the clone", name)
			}
		}
	}
	if &c.Categories[0].Values[0] == &l.Categories[0].Values[0] {
		t.Error("a category's values are shared by the clone")
	}
}

// fullLabel is a label with every field set, so that a field added to
// Label later and not set here fails the tests that use it.
func fullLabel(t *testing.T) Label {
	t.Helper()
	l := Label{
		Policy: "GBR", Classification: "SECRET",
		Categories: []Category{{Type: Permissive, Name: CategoryRelTo, Values: []string{"GBR", "USA"}}},
		NoForn:     true, ORCON: true, RelIDO: true,
		DisplayOnly: []string{"FRA"}, EyesOnly: []string{"CAN"}, FOUO: true,
		Handling: []HandlingCode{H2}, H3Text: "x",
		TLP: TLPAmber, PAP: TLPGreen, IEP: &IEP{EncryptInTransit: "must"},
		Purposes: []string{"ct"}, PersonalData: true, Regime: "law-enforcement",
		RetainUntil: time.Unix(1, 0), Expires: time.Unix(2, 0), ReviewBy: time.Unix(3, 0),
		Successor: "marking-definition--1", Originators: []string{"GBR"},
		Reliability: 'B', Credibility: 2, Exercise: "five-nations",
	}
	lv := reflect.ValueOf(l)
	for i := range lv.NumField() {
		if lv.Field(i).IsZero() {
			t.Fatalf("the test leaves Label.%s zero: fill it", lv.Type().Field(i).Name)
		}
	}
	return l
}

// TestLabelIdentical changes every field of a full label in turn, those of
// its categories and IEP too, and checks that Identical tells the change,
// both ways; a clone is identical, and a nil list is not an empty one. A
// field added to Label and not compared fails here.
func TestLabelIdentical(t *testing.T) {
	l := fullLabel(t)
	if c := l.Clone(); !l.Identical(&c) || !c.Identical(&l) {
		t.Fatal("a clone is not identical")
	}
	changes := 0
	var walk func(path string, at func(*Label) reflect.Value)
	walk = func(path string, at func(*Label) reflect.Value) {
		v := at(&l)
		switch {
		case v.Kind() == reflect.Struct && v.Type() != reflect.TypeOf(time.Time{}):
			for i := range v.NumField() {
				walk(path+"."+v.Type().Field(i).Name, func(m *Label) reflect.Value { return at(m).Field(i) })
			}
			return
		case v.Kind() == reflect.Pointer:
			walk(path, func(m *Label) reflect.Value { return at(m).Elem() })
			return
		case v.Kind() == reflect.Slice && v.Type().Elem().Kind() == reflect.Struct:
			walk(path+"[0]", func(m *Label) reflect.Value { return at(m).Index(0) })
		}
		m := l.Clone()
		f := at(&m)
		switch f.Kind() {
		case reflect.String:
			f.SetString(f.String() + "x")
		case reflect.Bool:
			f.SetBool(!f.Bool())
		case reflect.Int, reflect.Int64:
			f.SetInt(f.Int() + 1)
		case reflect.Uint8:
			f.SetUint(f.Uint() + 1)
		case reflect.Slice:
			f.Set(reflect.Append(f, reflect.Zero(f.Type().Elem())))
		case reflect.Struct: // time.Time
			f.Set(reflect.ValueOf(f.Interface().(time.Time).Add(time.Second)))
		default:
			t.Fatalf("%s: the test cannot change a %s", path, f.Kind())
		}
		changes++
		if l.Identical(&m) || m.Identical(&l) {
			t.Errorf("a change of %s is not told", path)
		}
	}
	walk("Label", func(m *Label) reflect.Value { return reflect.ValueOf(m).Elem() })
	if changes < 30 {
		t.Fatalf("only %d fields changed", changes)
	}

	a, b := Label{Purposes: nil}, Label{Purposes: []string{}}
	if a.Identical(&b) || b.Identical(&a) {
		t.Error("a nil list is identical to an empty one; they encode differently")
	}
	a, b = Label{}, Label{IEP: &IEP{}}
	if a.Identical(&b) || b.Identical(&a) {
		t.Error("no IEP is identical to an empty one")
	}
}
