package ledger

import (
	"slices"
	"strconv"
	"time"

	"github.com/tearline/tearline"
)

// idsPerEvent bounds the object ids one object-ingested event names, so
// that an event stays well inside the size limit of an entry.
const idsPerEvent = 1000

// IngestEvents are the audit entries of one committed write that added the
// object versions ids (in input order) to a collection: one object-ingested
// event per 1,000 ids. Stores append them in the write's transaction.
func IngestEvents(collection string, ids []string, now time.Time) []Event {
	var evs []Event
	for start := 0; start < len(ids); start += idsPerEvent {
		part := ids[start:min(start+idsPerEvent, len(ids))]
		evs = append(evs, Event{Kind: KindObjectIngested, Time: now.UTC(), Actor: "store", Subjects: part,
			Details: map[string]string{"collection": collection, "added": strconv.Itoa(len(part)),
				"part": strconv.Itoa(start/idsPerEvent + 1), "parts": strconv.Itoa((len(ids) + idsPerEvent - 1) / idsPerEvent)}})
	}
	return evs
}

// ReleaseEvent records a change of the node's materialised release
// decisions: who made it, why, and for each partner the counts of what
// changed (Summary), with the partners as subjects.
func ReleaseEvent(ch tearline.ReleaseChange) Event {
	partners := make([]string, 0, len(ch.Summary))
	details := map[string]string{"cause": ch.Cause, "set": strconv.Itoa(len(ch.Set)), "removed": strconv.Itoa(len(ch.Remove))}
	for p, s := range ch.Summary {
		partners = append(partners, p)
		details["partner."+p] = s
	}
	slices.Sort(partners)
	actor := ch.Actor
	if actor == "" {
		actor = "node"
	}
	return Event{Kind: KindReleaseDecided, Time: ch.Time.UTC(), Actor: actor, Subjects: partners, Details: details}
}

// LabelChangeEvent records that a new version of object id came in a
// different release class than the newest version before it: its label,
// type, topics or originators changed, and with them what may be released.
func LabelChangeEvent(collection, id string, fromClass, toClass int64, now time.Time) Event {
	return Event{Kind: KindLabelChanged, Time: now.UTC(), Actor: "store", Subjects: []string{id},
		Details: map[string]string{"collection": collection, "from-class": strconv.FormatInt(fromClass, 10), "to-class": strconv.FormatInt(toClass, 10)}}
}
