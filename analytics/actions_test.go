package analytics

import (
	"testing"

	"github.com/tearline/tearline"
	"github.com/tearline/tearline/label"
)

func TestActionsFor(t *testing.T) {
	cases := []struct {
		banner string
		own    bool
		want   ActionLevel
		basis  string
	}{
		{"TLP:AMBER//PAP:CLEAR", false, ActionsUnrestricted, "PAP:CLEAR"},
		{"TLP:AMBER//PAP:GREEN", false, ActionsDirect, "PAP:GREEN"},
		{"TLP:AMBER//PAP:AMBER", false, ActionsIndirect, "PAP:AMBER"},
		{"TLP:AMBER//PAP:RED", true, ActionsPassive, "PAP:RED"},
		{"TLP:AMBER//IEP:ACTIONS=NONE", false, ActionsNone, "IEP permitted_actions=none"},
		{"TLP:AMBER//IEP:ACTIONS=CONTACT-FOR-INSTRUCTION", false, ActionsContact, "IEP permitted_actions=contact-for-instruction"},
		{"TLP:AMBER//IEP:ACTIONS=EXTERNALLY-VISIBLE-DIRECT-ACTIONS", false, ActionsDirect, "IEP permitted_actions=externally-visible-direct-actions"},
		// The stricter of PAP and IEP wins, whichever it is.
		{"TLP:AMBER//PAP:GREEN//IEP:ACTIONS=INTERNALLY-VISIBLE-ACTIONS", false, ActionsPassive, "IEP permitted_actions=internally-visible-actions"},
		{"TLP:AMBER//PAP:RED//IEP:ACTIONS=EXTERNALLY-VISIBLE-DIRECT-ACTIONS", false, ActionsPassive, "PAP:RED"},
		// Silence: permission on the node's own information only.
		{"TLP:AMBER", false, ActionsPassive, "no PAP or IEP set by the originator: passive use until it says more"},
		{"TLP:AMBER", true, ActionsUnrestricted, "this node's own information, no PAP or IEP set"},
	}
	for _, c := range cases {
		l, err := label.Parse(c.banner)
		if err != nil {
			t.Fatalf("label.Parse(%q): %v", c.banner, err)
		}
		a := actionsFor(l, c.own)
		if a.Level != c.want || a.Basis != c.basis || a.Text == "" {
			t.Errorf("actionsFor(%s, own %v) = %+v; want %v because %q", c.banner, c.own, a, c.want, c.basis)
		}
	}
	// Values no banner can carry, from a label decoded elsewhere: the
	// strictest reading.
	if a := actionsFor(tearline.Label{PAP: tearline.TLPAmberStrict}, true); a.Level != ActionsPassive {
		t.Errorf("PAP AMBER+STRICT = %+v; want passive", a)
	}
	if a := actionsFor(tearline.Label{IEP: &tearline.IEP{PermittedActions: "whatever"}}, true); a.Level != ActionsContact {
		t.Errorf("unknown IEP permitted_actions = %+v; want contact the originator", a)
	}
	if s := strictest(Actions{}, Actions{Level: ActionsDirect}); s.Level != ActionsDirect {
		t.Errorf("strictest of nothing and direct = %v", s.Level)
	}
}
