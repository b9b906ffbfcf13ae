package analytics

import "strings"

// domainTree holds the stored domain names as a tree of labels read from
// the right: com, example.com, www.example.com. Each node is a suffix of a
// stored name; its name shares the stored name's memory. A suffix match
// (is a parent of this sighting stored?) looks up each of the sighting's
// suffixes by name, one map lookup per label; a subdomain match (which
// stored names lie under this one?) walks the node's subtree.
//
// A node knows its position among its parent's children, so removing a
// name under a crowded parent (com) costs O(1), not a scan of its
// siblings.
type domainTree struct {
	nodes  []dnode // nodes[0] is the root above the top-level domains
	free   []uint32
	byName map[string]uint32
}

type dnode struct {
	name     string
	parent   uint32
	pos      uint32 // index in the parent's children
	val      uint32 // value id when name is stored, else 0
	children []uint32
}

func newDomainTree() domainTree {
	return domainTree{nodes: make([]dnode, 1), byName: make(map[string]uint32)}
}

// find returns the value id stored for name, or 0.
func (d *domainTree) find(name string) uint32 {
	if id, ok := d.byName[name]; ok {
		return d.nodes[id].val
	}
	return 0
}

// insert stores val for name, which MUST NOT hold a value yet. name is
// kept: it must be the index's own copy.
func (d *domainTree) insert(name string, val uint32) {
	parent := uint32(0)
	end := len(name)
	for {
		start := strings.LastIndexByte(name[:end], '.') // label before the suffix so far
		var suffix string
		if start < 0 {
			suffix = name
		} else {
			suffix = name[start+1:]
		}
		id, ok := d.byName[suffix]
		if !ok {
			id = d.alloc(suffix, parent)
		}
		if start < 0 {
			d.nodes[id].val = val
			return
		}
		parent, end = id, start
	}
}

func (d *domainTree) alloc(name string, parent uint32) uint32 {
	nd := dnode{name: name, parent: parent, pos: uint32(len(d.nodes[parent].children))}
	var id uint32
	if k := len(d.free); k > 0 {
		id = d.free[k-1]
		d.free = d.free[:k-1]
		d.nodes[id] = nd
	} else {
		d.nodes = append(d.nodes, nd)
		id = uint32(len(d.nodes) - 1)
	}
	d.nodes[parent].children = append(d.nodes[parent].children, id)
	d.byName[name] = id
	return id
}

// remove clears name's value and drops the nodes left holding nothing.
func (d *domainTree) remove(name string) {
	id, ok := d.byName[name]
	if !ok {
		return
	}
	d.nodes[id].val = 0
	for id != 0 {
		nd := &d.nodes[id]
		if nd.val != 0 || len(nd.children) > 0 {
			return
		}
		parent := nd.parent
		siblings := d.nodes[parent].children
		last := siblings[len(siblings)-1]
		siblings[nd.pos] = last
		d.nodes[last].pos = nd.pos
		d.nodes[parent].children = siblings[:len(siblings)-1]
		if len(d.nodes[parent].children) == 0 {
			d.nodes[parent].children = nil // give the array back
		}
		delete(d.byName, nd.name)
		d.nodes[id] = dnode{}
		d.free = append(d.free, id)
		id = parent
	}
}

// suffixes appends the stored proper parents of name (www.example.com has
// example.com), nearest first. A stored single label (a top-level domain)
// is never a suffix match: without the Public Suffix List the index cannot
// tell a registrable domain from a public suffix, and a report of "com"
// matching every sighting under it would bury the real matches.
func (d *domainTree) suffixes(dst []hit, name string) []hit {
	for {
		i := strings.IndexByte(name, '.')
		if i < 0 {
			return dst
		}
		name = name[i+1:]
		if strings.IndexByte(name, '.') < 0 {
			return dst
		}
		if v := d.find(name); v != 0 {
			dst = append(dst, hit{v, MatchDomainSuffix})
		}
	}
}

// subdomains appends every stored name strictly under name.
func (d *domainTree) subdomains(dst []hit, name string) []hit {
	id, ok := d.byName[name]
	if !ok {
		return dst
	}
	stack := append([]uint32(nil), d.nodes[id].children...)
	for len(stack) > 0 {
		c := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		nd := &d.nodes[c]
		if nd.val != 0 {
			dst = append(dst, hit{nd.val, MatchSubdomain})
		}
		stack = append(stack, nd.children...)
	}
	return dst
}

func (d *domainTree) size() int { return len(d.nodes) - 1 - len(d.free) }
