package web

import (
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/tearline/tearline/fuzzseed"
	"github.com/tearline/tearline/label"
	"github.com/tearline/tearline/ledger"
)

// FuzzParseSearch: any query string is read without panic, and a query
// that is accepted writes back (as the next page's link) to the same
// query.
func FuzzParseSearch(f *testing.F) {
	fuzzseed.Require(f)
	f.Fuzz(func(t *testing.T, raw string) {
		v, _ := url.ParseQuery(raw)
		q, err := parseSearch(v)
		if err != nil {
			return
		}
		back, err := parseSearch(q.values(q.After))
		if err != nil {
			t.Fatalf("parseSearch(%q) = %+v, whose query string %q is refused: %v", raw, q, q.values(q.After).Encode(), err)
		}
		if back.Collection != q.Collection || back.Type != q.Type || back.Label != q.Label || back.Text != q.Text ||
			!back.From.Equal(q.From) || !back.Until.Equal(q.Until) || !back.After.Equal(q.After) {
			t.Fatalf("parseSearch(%q) = %+v; written back and read again: %+v", raw, q, back)
		}
	})
}

// FuzzParseAuditQuery: any query string is read without panic; an
// accepted kind is a kind of entry.
func FuzzParseAuditQuery(f *testing.F) {
	fuzzseed.Require(f)
	f.Fuzz(func(t *testing.T, raw string) {
		v, _ := url.ParseQuery(raw)
		q, err := parseAuditQuery(v)
		if err != nil {
			return
		}
		if q.Kind != "" && !slices.Contains(auditKinds, ledger.Kind(q.Kind)) {
			t.Fatalf("parseAuditQuery(%q) accepted kind %q", raw, q.Kind)
		}
	})
}

// FuzzParseLabelForm: any form is read without panic, and a label it
// accepts is valid, names only offered codes, and survives the banner
// round trip that its marking definitions and pages rely on.
func FuzzParseLabelForm(f *testing.F) {
	fuzzseed.Require(f)
	codes := []string{"GBR", "USA", "AUS", "CAN", "NZL", "FVEY", "NATO"}
	f.Fuzz(func(t *testing.T, raw string) {
		v, _ := url.ParseQuery(raw)
		l, _, err := parseLabelForm(v, codes)
		if err != nil {
			if _, ok := err.(*ruleView); !ok {
				t.Fatalf("parseLabelForm(%q): error %T, want *ruleView", raw, err)
			}
			return
		}
		if err := label.Validate(l); err != nil {
			t.Fatalf("parseLabelForm(%q) accepted an invalid label: %v", raw, err)
		}
		for _, c := range l.Categories {
			for _, code := range c.Values {
				if !slices.Contains(codes, code) {
					t.Fatalf("parseLabelForm(%q) accepted code %q", raw, code)
				}
			}
		}
		back, err := label.Parse(label.Format(l))
		if err != nil || !label.Equal(back, l) {
			t.Fatalf("parseLabelForm(%q): banner %q reads back as %+v (%v); want %+v", raw, label.Format(l), back, err, l)
		}
	})
}

// FuzzParsePaste: any paste is read without panic, and nothing it accepts
// carries markings of its own or is a marking definition.
func FuzzParsePaste(f *testing.F) {
	fuzzseed.Require(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		objs, problems := parsePaste(data)
		if len(objs)+len(problems) == 0 {
			t.Fatalf("parsePaste(%q) returned neither objects nor problems", data)
		}
		if len(objs) > maxPastedObject {
			t.Fatalf("parsePaste returned %d objects; at most %d", len(objs), maxPastedObject)
		}
		for _, o := range objs {
			if o.Type == "marking-definition" || has(o.v, "object_marking_refs") || has(o.v, "granular_markings") {
				t.Fatalf("parsePaste(%q) accepted %s with markings of its own", data, o.ID)
			}
		}
	})
}

// FuzzLineDiff: any two texts compare without panic, and the diff holds
// both: its kept and removed lines are the first text, its kept and added
// lines the second, with the counts it reports.
func FuzzLineDiff(f *testing.F) {
	fuzzseed.Require(f)
	f.Fuzz(func(t *testing.T, a, b string) {
		lines, added, removed, err := lineDiff(a, b)
		if err != nil {
			return
		}
		var left, right []string
		na, nr := 0, 0
		for _, l := range lines {
			switch l.Op {
			case " ":
				left, right = append(left, l.Text), append(right, l.Text)
			case "-":
				left = append(left, l.Text)
				nr++
			case "+":
				right = append(right, l.Text)
				na++
			default:
				t.Fatalf("lineDiff: operation %q", l.Op)
			}
		}
		if strings.Join(left, "\n") != a || strings.Join(right, "\n") != b || na != added || nr != removed {
			t.Fatalf("lineDiff(%q, %q) = %+v, +%d -%d; it does not rebuild both texts", a, b, lines, added, removed)
		}
	})
}

// FuzzOutgoingRefs: any stored JSON is read for references without panic;
// every reference read is a bounded string of a *_ref or *_refs property,
// never a marking's.
func FuzzOutgoingRefs(f *testing.F) {
	fuzzseed.Require(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, n := range outgoingRefs(data) {
			if n.id == "" || len(n.id) > 300 || n.label == "object_marking_refs" ||
				!strings.HasSuffix(n.label, "_ref") && !strings.HasSuffix(n.label, "_refs") {
				t.Fatalf("outgoingRefs(%q) read %+v", data, n)
			}
		}
	})
}
