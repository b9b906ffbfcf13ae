package analytics

import (
	"fmt"

	"github.com/tearline/tearline"
)

// ActionLevel is how far a recipient may act on a piece of information,
// from the strictest to the freest: the common scale of PAP and of IEP 2.0
// permitted_actions.
type ActionLevel uint8

// The levels, strictest first.
const (
	// ActionsNone: no action at all (IEP "none").
	ActionsNone ActionLevel = iota + 1
	// ActionsContact: ask the originator before any action (IEP
	// "contact-for-instruction").
	ActionsContact
	// ActionsPassive: only what the adversary cannot detect: search your
	// own logs, captures and holdings (PAP:RED, IEP
	// "internally-visible-actions").
	ActionsPassive
	// ActionsIndirect: also checks the adversary could notice only
	// indirectly: third-party reputation services, monitoring, a passive
	// honeypot (PAP:AMBER, IEP "externally-visible-indirect-actions").
	ActionsIndirect
	// ActionsDirect: also actions against the target: block, sinkhole,
	// probe, interact (PAP:GREEN, IEP "externally-visible-direct-actions").
	ActionsDirect
	// ActionsUnrestricted: no restriction on use (PAP:CLEAR).
	ActionsUnrestricted
)

var actionNames = [...]string{
	ActionsNone: "none", ActionsContact: "contact-originator-first", ActionsPassive: "passive-only",
	ActionsIndirect: "indirect", ActionsDirect: "direct", ActionsUnrestricted: "unrestricted",
}

var actionWords = [...]string{
	ActionsNone:         "no action may be taken on it",
	ActionsContact:      "contact the originator for instructions before any action",
	ActionsPassive:      "passive only: search your own logs and holdings; no lookup, block or probe the adversary could detect",
	ActionsIndirect:     "indirect checks allowed (third-party reputation services, monitoring); no blocking or interaction with the target",
	ActionsDirect:       "active measures allowed: block, sinkhole, probe or interact with the target",
	ActionsUnrestricted: "no restriction on the actions taken",
}

func (l ActionLevel) String() string {
	if int(l) < len(actionNames) && actionNames[l] != "" {
		return actionNames[l]
	}
	return fmt.Sprintf("ActionLevel(%d)", uint8(l))
}

// MarshalText writes the level's name; the zero level, of Actions not
// yet known, is "".
func (l ActionLevel) MarshalText() ([]byte, error) {
	if l == 0 {
		return nil, nil
	}
	return []byte(l.String()), nil
}

// Actions is what a recipient may do with one piece of information, and
// why.
type Actions struct {
	Level ActionLevel `json:"level"`
	// Basis names the marking the level comes from: "PAP:RED",
	// "IEP permitted_actions=contact-for-instruction", or the reason for a
	// default.
	Basis string `json:"basis"`
	// Text says what the level allows, for an analyst.
	Text string `json:"text"`
}

var papLevels = map[tearline.TLP]ActionLevel{
	tearline.TLPClear: ActionsUnrestricted, tearline.TLPGreen: ActionsDirect,
	tearline.TLPAmber: ActionsIndirect, tearline.TLPRed: ActionsPassive,
}

var iepLevels = map[string]ActionLevel{
	"none": ActionsNone, "contact-for-instruction": ActionsContact,
	"internally-visible-actions":          ActionsPassive,
	"externally-visible-indirect-actions": ActionsIndirect,
	"externally-visible-direct-actions":   ActionsDirect,
}

var papNames = map[tearline.TLP]string{tearline.TLPClear: "CLEAR", tearline.TLPGreen: "GREEN", tearline.TLPAmber: "AMBER", tearline.TLPRed: "RED"}

// actionsFor returns what a label permits. PAP and IEP permitted_actions
// are read on one scale and the stricter wins. A label that sets neither
// permits everything on this node's own information and only passive use
// of anyone else's: acting visibly on a partner's report can burn its
// source, so silence is not permission.
func actionsFor(l tearline.Label, own bool) Actions {
	var a Actions
	set := func(level ActionLevel, basis string) {
		if a.Level == 0 || level < a.Level {
			a.Level, a.Basis = level, basis
		}
	}
	if lv, ok := papLevels[l.PAP]; ok {
		set(lv, "PAP:"+papNames[l.PAP])
	} else if l.PAP != tearline.TLPNone {
		// AMBER+STRICT or an unknown colour: not a PAP colour, so the
		// strictest reading.
		set(ActionsPassive, "PAP colour not defined by PAP; read as PAP:RED")
	}
	if l.IEP != nil && l.IEP.PermittedActions != "" {
		if lv, ok := iepLevels[l.IEP.PermittedActions]; ok {
			set(lv, "IEP permitted_actions="+l.IEP.PermittedActions)
		} else {
			set(ActionsContact, fmt.Sprintf("IEP permitted_actions %q is not an IEP 2.0 value; read as contact-for-instruction", shown(l.IEP.PermittedActions)))
		}
	}
	if a.Level == 0 {
		if own {
			a.Level, a.Basis = ActionsUnrestricted, "this node's own information, no PAP or IEP set"
		} else {
			a.Level, a.Basis = ActionsPassive, "no PAP or IEP set by the originator: passive use until it says more"
		}
	}
	a.Text = actionWords[a.Level]
	return a
}

// strictest returns the stricter of two Actions; the zero Actions is
// "nothing known yet".
func strictest(a, b Actions) Actions {
	if a.Level == 0 || b.Level != 0 && b.Level < a.Level {
		return b
	}
	return a
}
