package web

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/tearline/tearline"
)

// The object page's graph: the objects an object references (its *_ref
// and *_refs properties, markings aside) and the relationships and
// sightings that reference it, drawn server side as SVG, each node a link
// to its page. Only objects the user may see are drawn: a reference to an
// object hidden from the user, or a relationship whose other end is
// hidden, leaves no node, edge, id or count behind.

// Graph limits: neighbours drawn on each side, and relationship and
// sighting versions examined to find those that reference the object (the
// store keeps no index of references).
const (
	graphSide     = 24
	graphScanMax  = 20000
	graphRow      = 56
	graphBoxW     = 240
	graphBoxH     = 40
	graphWidth    = 1100
	graphCenterX  = (graphWidth - graphBoxW) / 2
	graphRightX   = graphWidth - graphBoxW - 10
	graphLeftX    = 10
	graphNameRune = 30
)

type graphNode struct {
	ID, Type, Name string
	Href           string
	X, Y           int
}

type graphEdge struct {
	X1, Y1, X2, Y2 int
	// LX, LY place the label; Href links it to the relationship, if any.
	LX, LY int
	Label  string
	Href   string
}

type graphView struct {
	Center    graphNode
	Nodes     []graphNode
	Edges     []graphEdge
	Height    int
	Width     int
	Truncated bool // more neighbours than drawn
	Partial   bool // the scan for references stopped at graphScanMax
}

// neighbour is an object linked to the center, before layout.
type neighbour struct {
	id    string
	label string // property or relationship type
	via   string // the relationship carrying the link, if any
	// out: the link goes from the center to the neighbour (a reference,
	// or a relationship whose source is the center).
	out bool
}

// visibleIn returns the newest version of each of ids in collection c
// that the user may see.
func (s *Server) visibleIn(ctx context.Context, rq *request, c tearline.Collection, ids []string) (map[string]tearline.StoredObject, error) {
	out := map[string]tearline.StoredObject{}
	if len(ids) == 0 {
		return out, nil
	}
	ids = slices.Compact(slices.Sorted(slices.Values(ids)))
	page, err := s.cfg.Objects.Objects(ctx, tearline.ObjectQuery{Collection: c.ID, IDs: ids})
	if err != nil {
		return nil, err
	}
	newest := map[string]tearline.StoredObject{}
	for _, o := range page.Objects {
		if cur, ok := newest[o.ID]; !ok || !o.EffectiveVersion().Before(cur.EffectiveVersion()) {
			newest[o.ID] = o
		}
	}
	objs := make([]tearline.StoredObject, 0, len(newest))
	for _, o := range newest {
		objs = append(objs, o)
	}
	_, visible, err := s.visibility(rq).filter(ctx, c.ID, objs)
	if err != nil {
		return nil, err
	}
	for i, o := range objs {
		if visible[i] {
			out[o.ID] = o
		}
	}
	return out, nil
}

// outgoingRefs lists the references of an object's top-level *_ref and
// *_refs properties, markings aside, in the order of their names.
func outgoingRefs(data []byte) []neighbour {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(data, &m); err != nil {
		return nil
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		if k != "object_marking_refs" && (strings.HasSuffix(k, "_ref") || strings.HasSuffix(k, "_refs")) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	var out []neighbour
	for _, k := range keys {
		var one string
		var many []string
		if json.Unmarshal(m[k], &one) == nil && one != "" {
			many = []string{one}
		} else if json.Unmarshal(m[k], &many) != nil {
			continue
		}
		for _, id := range many {
			if id != "" && len(id) <= 300 && utf8.ValidString(id) {
				out = append(out, neighbour{id: id, label: k, out: true})
			}
		}
	}
	return out
}

// linkObject is what the graph reads of a relationship or sighting.
type linkObject struct {
	Type             string   `json:"type"`
	ID               string   `json:"id"`
	RelationshipType string   `json:"relationship_type"`
	SourceRef        string   `json:"source_ref"`
	TargetRef        string   `json:"target_ref"`
	SightingOfRef    string   `json:"sighting_of_ref"`
	ObservedDataRefs []string `json:"observed_data_refs"`
	WhereSightedRefs []string `json:"where_sighted_refs"`
}

// incomingRefs finds the relationships and sightings in c that reference
// id: for a relationship, its other end, linked through it; for a
// sighting, the sighting itself. partial is set when the scan stopped
// before the end of the store.
func (s *Server) incomingRefs(ctx context.Context, c tearline.Collection, id string) (out []neighbour, links []string, partial bool, err error) {
	q := tearline.ObjectQuery{Collection: c.ID, Types: []string{"relationship", "sighting"}, Limit: storePage}
	needle := []byte(`"` + id + `"`)
	scanned := 0
	for {
		page, err := s.cfg.Objects.Objects(ctx, q)
		if err != nil {
			return nil, nil, false, err
		}
		for _, o := range page.Objects {
			if o.ID == id || !bytes.Contains(o.JSON, needle) {
				continue
			}
			var l linkObject
			if json.Unmarshal(o.JSON, &l) != nil {
				continue
			}
			switch {
			case l.Type == "relationship" && l.TargetRef == id && l.SourceRef != "":
				out = append(out, neighbour{id: l.SourceRef, label: l.RelationshipType, via: o.ID})
				links = append(links, o.ID)
			case l.Type == "relationship" && l.SourceRef == id && l.TargetRef != "":
				out = append(out, neighbour{id: l.TargetRef, label: l.RelationshipType, via: o.ID, out: true})
				links = append(links, o.ID)
			case l.Type == "sighting" && l.SightingOfRef == id:
				out = append(out, neighbour{id: o.ID, label: "sighting of"})
			case l.Type == "sighting" && slices.Contains(l.ObservedDataRefs, id):
				out = append(out, neighbour{id: o.ID, label: "observed in"})
			case l.Type == "sighting" && slices.Contains(l.WhereSightedRefs, id):
				out = append(out, neighbour{id: o.ID, label: "sighted at"})
			}
		}
		scanned += len(page.Objects)
		if !page.More || len(page.Objects) == 0 {
			return out, links, false, nil
		}
		if scanned >= graphScanMax {
			return out, links, true, nil
		}
		q.After = page.Objects[len(page.Objects)-1].DateAdded
	}
}

// objectGraph is the graph of obj's neighbourhood in c, for the user.
func (s *Server) objectGraph(ctx context.Context, rq *request, c tearline.Collection, obj *tearline.StoredObject) (*graphView, error) {
	out := outgoingRefs(obj.JSON)
	in, links, partial, err := s.incomingRefs(ctx, c, obj.ID)
	if err != nil {
		return nil, err
	}
	ids := slices.Clone(links)
	for _, n := range append(slices.Clone(out), in...) {
		ids = append(ids, n.id)
	}
	visible, err := s.visibleIn(ctx, rq, c, ids)
	if err != nil {
		return nil, err
	}
	// Drop every link to a hidden object, and every link carried by a
	// hidden relationship, before anything is counted or drawn.
	keep := func(ns []neighbour) []neighbour {
		var kept []neighbour
		seen := map[string]bool{}
		for _, n := range ns {
			key := n.id + "\x00" + n.label + "\x00" + n.via
			if _, ok := visible[n.id]; !ok || n.id == obj.ID || seen[key] {
				continue
			}
			if _, ok := visible[n.via]; n.via != "" && !ok {
				continue
			}
			seen[key] = true
			kept = append(kept, n)
		}
		return kept
	}
	// Relationships from this object are drawn with its references, on
	// the right; what points at it, on the left.
	for _, n := range in {
		if n.out {
			out = append(out, n)
		}
	}
	in = slices.DeleteFunc(in, func(n neighbour) bool { return n.out })
	out, in = keep(out), keep(in)
	ref := collectionRef(c)
	g := &graphView{Width: graphWidth, Partial: partial}
	if len(out) > graphSide || len(in) > graphSide {
		g.Truncated = true
		out, in = out[:min(len(out), graphSide)], in[:min(len(in), graphSide)]
	}
	rows := max(len(out), len(in), 1)
	g.Height = rows*graphRow + 20
	node := func(id string, x, y int) graphNode {
		o := visible[id]
		name := nameOf(o.JSON)
		if name == "" {
			name = id
		}
		if utf8.RuneCountInString(name) > graphNameRune {
			name = string([]rune(name)[:graphNameRune-1]) + "…"
		}
		return graphNode{ID: id, Type: o.Type, Name: name, Href: Prefix + "/objects/" + ref + "/" + id, X: x, Y: y}
	}
	centerName := nameOf(obj.JSON)
	if centerName == "" {
		centerName = obj.ID
	}
	if utf8.RuneCountInString(centerName) > graphNameRune {
		centerName = string([]rune(centerName)[:graphNameRune-1]) + "…"
	}
	g.Center = graphNode{ID: obj.ID, Type: obj.Type, Name: centerName, X: graphCenterX, Y: (g.Height - graphBoxH) / 2}
	cy := g.Center.Y + graphBoxH/2
	place := func(ns []neighbour, x int, right bool) {
		top := (g.Height - len(ns)*graphRow) / 2
		for i, n := range ns {
			nd := node(n.id, x, top+i*graphRow+(graphRow-graphBoxH)/2)
			g.Nodes = append(g.Nodes, nd)
			e := graphEdge{Label: n.label, Y1: nd.Y + graphBoxH/2, Y2: cy}
			if right {
				e.X1, e.X2 = graphCenterX+graphBoxW, nd.X
			} else {
				e.X1, e.X2 = nd.X+graphBoxW, graphCenterX
			}
			e.LX, e.LY = (e.X1+e.X2)/2, (e.Y1+e.Y2)/2-4
			if n.via != "" {
				e.Href = Prefix + "/objects/" + ref + "/" + n.via
			}
			g.Edges = append(g.Edges, e)
		}
	}
	place(in, graphLeftX, false)
	place(out, graphRightX, true)
	return g, nil
}
