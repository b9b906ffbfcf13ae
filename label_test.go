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
	c := l.Clone()
	if !reflect.DeepEqual(c, l) {
		t.Fatalf("Clone = %+v, want %+v", c, l)
	}
	cv := reflect.ValueOf(c)
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
