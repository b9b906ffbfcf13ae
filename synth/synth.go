// Package synth generates realistic, valid STIX 2.1 content deterministically
// from a seed, for benchmarks, load tests and exercises.
//
// The mix follows what national CERTs and intelligence liaison offices
// exchange: mostly indicators with their observables and relationships,
// with threat actors, malware, campaigns, sightings and reports around
// them. The same seed and count always give the same bytes. It MUST only
// produce objects that the stix package accepts.
package synth

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/tearline/tearline/stix"
)

// Generator writes synthetic objects.
type Generator struct {
	rng  *rand.Rand
	base time.Time
	n    int

	identities []string
	actors     []string
	malware    []string
	campaigns  []string
	indicators []string // a ring of recent ids for relationships
	buf        []byte
}

// TLP 2.0 marking definition ids.
var tlp = []string{
	"marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487", // CLEAR
	"marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb", // GREEN
	"marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421", // AMBER
	"marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003", // AMBER+STRICT
}

var (
	agencies = []string{"UK National Liaison Office", "US Joint Terrorism Analysis Cell", "Canadian Integrated Threat Centre",
		"Australian Intelligence Fusion Unit", "NZ Combined Threat Assessment Group", "DGSI Liaison Bureau",
		"BfV Counter-Terrorism Centre", "Europol ECTC Desk"}
	actorNames   = []string{"Crimson Sandstorm", "Ash Cormorant", "Northern Lantern", "Granite Typhoon", "Silent Caravan", "Blue Mistral"}
	malwareNames = []string{"DarkQuill", "HollowReed", "SpecterLoad", "CobaltVein", "NightHarbor", "PaperKite", "GlassRelay"}
	tlds         = []string{"com", "net", "org", "info", "xyz", "top", "ru", "cn", "io"}
	words        = []string{"secure", "update", "cloud", "mail", "portal", "cdn", "sync", "login", "docs", "static", "api", "relay"}
)

// New returns a generator for the given seed.
func New(seed uint64) *Generator {
	g := &Generator{
		rng:  rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		base: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC),
	}
	return g
}

// WriteJSONLines writes n objects, one per line.
func (g *Generator) WriteJSONLines(w io.Writer, n int) error {
	bw := bufio.NewWriterSize(w, 1<<20)
	for i := 0; i < n; i++ {
		bw.Write(g.Next())
		bw.WriteByte('\n')
	}
	return bw.Flush()
}

// WriteBundle writes n objects as one STIX bundle.
func (g *Generator) WriteBundle(w io.Writer, n int) error {
	bw := bufio.NewWriterSize(w, 1<<20)
	fmt.Fprintf(bw, `{"type":"bundle","id":"bundle--%s","objects":[`, g.uuid4())
	for i := 0; i < n; i++ {
		if i > 0 {
			bw.WriteByte(',')
		}
		bw.WriteString("\n")
		bw.Write(g.Next())
	}
	bw.WriteString("\n]}\n")
	return bw.Flush()
}

// Next returns the JSON text of the next object. The slice is reused by the
// following call.
func (g *Generator) Next() []byte {
	g.n++
	g.buf = g.buf[:0]
	// Seed the graph with identities and named entities first.
	switch {
	case len(g.identities) < len(agencies):
		return g.identity()
	case len(g.actors) < len(actorNames):
		return g.threatActor()
	case len(g.malware) < len(malwareNames):
		return g.malwareObj()
	case len(g.campaigns) < 4:
		return g.campaign()
	}
	switch r := g.rng.IntN(100); {
	case r < 40:
		return g.indicator()
	case r < 62:
		return g.relationship()
	case r < 80:
		return g.observable()
	case r < 88:
		return g.sighting()
	case r < 93:
		return g.report()
	case r < 96:
		return g.note()
	case r < 98:
		return g.attackPattern()
	default:
		return g.campaign()
	}
}

func (g *Generator) uuid4() string {
	var u [16]byte
	a, b := g.rng.Uint64(), g.rng.Uint64()
	for i := 0; i < 8; i++ {
		u[i] = byte(a >> (8 * i))
		u[8+i] = byte(b >> (8 * i))
	}
	u[6] = (u[6] & 0x0f) | 0x40
	u[8] = (u[8] & 0x3f) | 0x80
	const digits = "0123456789abcdef"
	var out [36]byte
	j := 0
	for i, c := range u {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			out[j] = '-'
			j++
		}
		out[j], out[j+1] = digits[c>>4], digits[c&0xf]
		j += 2
	}
	return string(out[:])
}

// timestamp returns a time within 2025-2026 at millisecond precision.
func (g *Generator) timestamp() time.Time {
	return g.base.Add(time.Duration(g.rng.Int64N(int64(600*24*time.Hour))) / time.Millisecond * time.Millisecond)
}

func ts(t time.Time) string { return stix.FormatTimestamp(t) }

// appendTS appends ts(t) to b. The generator's times are whole
// milliseconds; another time is formatted by ts.
func appendTS(b []byte, t time.Time) []byte {
	if t.Nanosecond()%1e6 != 0 {
		return append(b, ts(t)...)
	}
	return t.UTC().AppendFormat(b, "2006-01-02T15:04:05.000Z")
}

func (g *Generator) pick(list []string) string { return list[g.rng.IntN(len(list))] }

// common writes the properties every domain object carries and returns the
// id; the caller closes the object.
func (g *Generator) common(typ string) string {
	id := typ + "--" + g.uuid4()
	created := g.timestamp()
	modified := created.Add(time.Duration(g.rng.IntN(72)) * time.Hour)
	g.buf = append(g.buf, `{"type":"`...)
	g.buf = append(g.buf, typ...)
	g.buf = append(g.buf, `","spec_version":"2.1","id":"`...)
	g.buf = append(g.buf, id...)
	g.buf = append(g.buf, `","created":"`...)
	g.buf = appendTS(g.buf, created)
	g.buf = append(g.buf, `","modified":"`...)
	g.buf = appendTS(g.buf, modified)
	g.buf = append(g.buf, '"')
	if len(g.identities) > 0 {
		g.str("created_by_ref", g.pick(g.identities))
	}
	g.buf = append(g.buf, `,"object_marking_refs":["`...)
	g.buf = append(g.buf, g.pick(tlp)...)
	g.buf = append(g.buf, `"]`...)
	return id
}

func (g *Generator) str(key, val string) {
	g.buf = append(g.buf, ',', '"')
	g.buf = append(g.buf, key...)
	g.buf = append(g.buf, `":`...)
	for i := 0; i < len(val); i++ {
		if c := val[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			g.buf = strconv.AppendQuote(g.buf, val)
			return
		}
	}
	// Printable ASCII with no quote or backslash: AppendQuote would copy
	// it as it is.
	g.buf = append(append(append(g.buf, '"'), val...), '"')
}

func (g *Generator) num(key string, n int) {
	g.buf = append(g.buf, ',', '"')
	g.buf = append(g.buf, key...)
	g.buf = append(g.buf, `":`...)
	g.buf = strconv.AppendInt(g.buf, int64(n), 10)
}

func (g *Generator) raw(key, jsonText string) {
	g.buf = append(g.buf, ',', '"')
	g.buf = append(g.buf, key...)
	g.buf = append(g.buf, `":`...)
	g.buf = append(g.buf, jsonText...)
}

func (g *Generator) end() []byte { return append(g.buf, '}') }

func (g *Generator) identity() []byte {
	name := agencies[len(g.identities)]
	id := g.common("identity")
	g.str("name", name)
	g.str("identity_class", "organization")
	g.raw("sectors", `["government-national"]`)
	g.identities = append(g.identities, id)
	return g.end()
}

func (g *Generator) threatActor() []byte {
	name := actorNames[len(g.actors)]
	id := g.common("threat-actor")
	g.str("name", name)
	g.raw("threat_actor_types", `["terrorist","crime-syndicate"]`)
	g.str("description", "Network assessed to facilitate attack planning and financing across borders.")
	g.raw("aliases", `["`+name+` Group"]`)
	g.str("primary_motivation", "ideology")
	g.actors = append(g.actors, id)
	return g.end()
}

func (g *Generator) malwareObj() []byte {
	name := malwareNames[len(g.malware)]
	id := g.common("malware")
	g.str("name", name)
	g.raw("is_family", "true")
	g.raw("malware_types", `["remote-access-trojan","spyware"]`)
	g.str("description", name+" implant used against secure messaging users.")
	g.malware = append(g.malware, id)
	return g.end()
}

func (g *Generator) campaign() []byte {
	id := g.common("campaign")
	g.str("name", fmt.Sprintf("Operation %s %d", g.pick(words), g.rng.IntN(1000)))
	g.str("objective", "Recruitment and logistics through compromised messaging accounts")
	first := g.timestamp()
	g.str("first_seen", ts(first))
	g.str("last_seen", ts(first.Add(time.Duration(g.rng.IntN(90*24))*time.Hour)))
	g.campaigns = append(g.campaigns, id)
	return g.end()
}

func (g *Generator) attackPattern() []byte {
	g.common("attack-pattern")
	g.str("name", "Spearphishing via "+g.pick(words)+" service")
	g.raw("kill_chain_phases", `[{"kill_chain_name":"mitre-attack","phase_name":"initial-access"}]`)
	g.raw("external_references", fmt.Sprintf(`[{"source_name":"mitre-attack","external_id":"T%04d"}]`, 1000+g.rng.IntN(700)))
	return g.end()
}

func (g *Generator) domain() string {
	return fmt.Sprintf("%s-%s%d.%s", g.pick(words), g.pick(words), g.rng.IntN(10000), g.pick(tlds))
}

func (g *Generator) ipv4() string {
	return fmt.Sprintf("%d.%d.%d.%d", 1+g.rng.IntN(223), g.rng.IntN(256), g.rng.IntN(256), 1+g.rng.IntN(254))
}

func (g *Generator) sha256hex() string {
	const hex = "0123456789abcdef"
	var b [64]byte
	for i := 0; i < 64; i += 16 {
		x := g.rng.Uint64()
		for j := 0; j < 16; j++ {
			b[i+j] = hex[x&0xf]
			x >>= 4
		}
	}
	return string(b[:])
}

func (g *Generator) indicator() []byte {
	id := g.common("indicator")
	var pattern, name string
	switch g.rng.IntN(4) {
	case 0:
		ip := g.ipv4()
		pattern, name = "[ipv4-addr:value = '"+ip+"']", "C2 server "+ip
	case 1:
		d := g.domain()
		pattern, name = "[domain-name:value = '"+d+"']", "Phishing domain "+d
	case 2:
		u := "https://" + g.domain() + "/" + g.pick(words) + "/" + strconv.Itoa(g.rng.IntN(99999))
		pattern, name = "[url:value = '"+u+"']", "Payload URL"
	default:
		h := g.sha256hex()
		pattern, name = "[file:hashes.'SHA-256' = '"+h+"']", "Implant sample"
	}
	g.str("name", name)
	g.raw("indicator_types", `["malicious-activity"]`)
	g.str("pattern", pattern)
	g.str("pattern_type", "stix")
	from := g.timestamp()
	g.str("valid_from", ts(from))
	g.num("confidence", 10*g.rng.IntN(11))
	g.raw("kill_chain_phases", `[{"kill_chain_name":"lockheed-martin-cyber-kill-chain","phase_name":"command-and-control"}]`)
	g.raw("labels", `["counter-terrorism"]`)
	g.remember(id)
	return g.end()
}

func (g *Generator) remember(id string) {
	if len(g.indicators) < 4096 {
		g.indicators = append(g.indicators, id)
	} else {
		g.indicators[g.rng.IntN(len(g.indicators))] = id
	}
}

func (g *Generator) relationship() []byte {
	if len(g.indicators) == 0 {
		return g.indicator()
	}
	g.common("relationship")
	g.str("relationship_type", "indicates")
	g.str("source_ref", g.pick(g.indicators))
	if g.rng.IntN(2) == 0 {
		g.str("target_ref", g.pick(g.malware))
	} else {
		g.str("target_ref", g.pick(g.campaigns))
	}
	return g.end()
}

func (g *Generator) observable() []byte {
	// Observables carry the object counter so that none repeats: a
	// repeated observable would be the same object, stored once.
	var typ, value string
	switch g.rng.IntN(3) {
	case 0:
		typ, value = "ipv4-addr", fmt.Sprintf("%d.%d.%d.%d", 1+g.n>>24&0x7f, g.n>>16&0xff, g.n>>8&0xff, g.n&0xff)
	case 1:
		typ, value = "domain-name", fmt.Sprintf("%s-%d.%s", g.pick(words), g.n, g.pick(tlds))
	default:
		typ, value = "url", fmt.Sprintf("https://%s/%s/%d", g.domain(), g.pick(words), g.n)
	}
	v := stix.Value{Kind: stix.Object, Obj: []stix.Member{
		{Key: "type", Value: stix.Value{Kind: stix.String, Str: typ}},
		{Key: "value", Value: stix.Value{Kind: stix.String, Str: value}},
	}}
	id, _, _ := stix.DeterministicID(&v)
	g.buf = append(g.buf, `{"type":"`...)
	g.buf = append(g.buf, typ...)
	g.buf = append(g.buf, `","spec_version":"2.1","id":"`...)
	g.buf = append(g.buf, id...)
	g.buf = append(g.buf, '"')
	g.str("value", value)
	return g.end()
}

func (g *Generator) sighting() []byte {
	if len(g.indicators) == 0 {
		return g.indicator()
	}
	g.common("sighting")
	g.str("sighting_of_ref", g.pick(g.indicators))
	first := g.timestamp()
	g.str("first_seen", ts(first))
	g.str("last_seen", ts(first.Add(time.Duration(g.rng.IntN(48))*time.Hour)))
	g.num("count", 1+g.rng.IntN(50))
	g.raw("where_sighted_refs", `["`+g.pick(g.identities)+`"]`)
	return g.end()
}

func (g *Generator) refs(n int) string {
	b := []byte{'['}
	for i := 0; i < n; i++ {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendQuote(b, g.pick(g.indicators))
	}
	return string(append(b, ']'))
}

func (g *Generator) report() []byte {
	if len(g.indicators) == 0 {
		return g.indicator()
	}
	g.common("report")
	g.str("name", fmt.Sprintf("Threat assessment %d: %s activity", g.rng.IntN(10000), g.pick(actorNames)))
	g.str("description", "Assessment of infrastructure and tooling linked to recent plotting; sources and methods withheld.")
	g.raw("report_types", `["threat-actor","indicator"]`)
	g.str("published", ts(g.timestamp()))
	g.raw("object_refs", g.refs(2+g.rng.IntN(6)))
	return g.end()
}

func (g *Generator) note() []byte {
	if len(g.indicators) == 0 {
		return g.indicator()
	}
	g.common("note")
	g.str("content", "Partner liaison confirms overlap with infrastructure seen in a separate investigation.")
	g.raw("object_refs", g.refs(1+g.rng.IntN(3)))
	return g.end()
}
