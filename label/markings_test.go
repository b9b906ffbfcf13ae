package label

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/tearline/tearline"
	"github.com/tearline/tearline/stix"
)

// indicator returns a valid STIX indicator with the given markings, parsed.
func indicator(t *testing.T, refs []string, granular []map[string]any) *stix.Value {
	t.Helper()
	obj := map[string]any{
		"type": "indicator", "spec_version": "2.1", "id": "indicator--5c1e4d7a-9b2f-4e3a-8c6d-1f0e2a3b4c5d",
		"created": "2024-03-09T10:00:00.000Z", "modified": "2024-03-09T10:00:00.000Z",
		"name": "TIDEGRIP C2", "description": "C2 address seen by two partners",
		"pattern": "[ipv4-addr:value = '203.0.113.45']", "pattern_type": "stix", "valid_from": "2024-03-09T10:00:00Z",
	}
	if refs != nil {
		obj["object_marking_refs"] = refs
	}
	if granular != nil {
		obj["granular_markings"] = granular
	}
	data, err := json.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	_, v, err := stix.Parse(data)
	if err != nil {
		t.Fatalf("stix.Parse(test indicator) = %v", err)
	}
	return v
}

func definitions(t *testing.T, defs ...[]byte) Definitions {
	t.Helper()
	d := Definitions{}
	for _, def := range defs {
		if err := d.Add(def); err != nil {
			t.Fatalf("Definitions.Add(%s) = %v", def, err)
		}
	}
	return d
}

// TestMarkingsRoundTrip: ToMarkings then FromObject gives the label back;
// the marking definitions are valid STIX, canonical and deterministic.
func TestMarkingsRoundTrip(t *testing.T) {
	var labels []tearline.Label
	for _, c := range bannerCases {
		if l, err := Parse(c.in); err == nil {
			labels = append(labels, l)
		}
	}
	labels = append(labels,
		tearline.Label{Policy: "NATO", Classification: "NATO SECRET", Categories: []tearline.Category{
			relTo("GBR"), {Type: tearline.Permissive, Name: "Only", Values: []string{"NATO"}, Narrowing: true},
			{Type: tearline.Informative, Name: "Note", Values: []string{"X"}}}},
		tearline.Label{Purposes: []string{NoPurpose}, TLP: tearline.TLPRed},
	)
	for _, l := range labels {
		defs, refs, err := ToMarkings(l)
		if err != nil {
			t.Errorf("ToMarkings(%q) = %v", Format(l), err)
			continue
		}
		if len(defs) != len(refs) || len(refs) == 0 {
			t.Errorf("ToMarkings(%q) = %d definitions, %d refs", Format(l), len(defs), len(refs))
			continue
		}
		for i, def := range defs {
			obj, _, err := stix.Parse(def)
			if err != nil {
				t.Errorf("stix.Parse(ToMarkings(%q)[%d]) = %v", Format(l), i, err)
				continue
			}
			if obj.ID != refs[i] {
				t.Errorf("ToMarkings(%q): definition %d has id %s, ref %s", Format(l), i, obj.ID, refs[i])
			}
			if c, err := stix.Canonicalize(def); err != nil || !bytes.Equal(c, def) {
				t.Errorf("ToMarkings(%q)[%d] is not in canonical form", Format(l), i)
			}
		}
		again, againRefs, _ := ToMarkings(l)
		if !reflect.DeepEqual(again, defs) || !slices.Equal(againRefs, refs) {
			t.Errorf("ToMarkings(%q) differs between two calls", Format(l))
		}
		got, err := FromObject(indicator(t, refs, nil), definitions(t, defs...))
		if err != nil {
			t.Errorf("FromObject(ToMarkings(%q)) = %v", Format(l), err)
			continue
		}
		if want := Normalize(l); !reflect.DeepEqual(got, want) {
			t.Errorf("FromObject(ToMarkings(%q)) = %+v; want %+v", Format(l), got, want)
		}
	}
}

func TestToMarkingsIDs(t *testing.T) {
	defs, refs, err := ToMarkings(mustParse(t, "TLP:AMBER"))
	if err != nil || len(refs) != 1 || refs[0] != "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421" {
		t.Fatalf("ToMarkings(TLP:AMBER) = %q, %v; want the TLP 2.0 AMBER id alone", refs, err)
	}
	want := `{"created":"2022-10-01T00:00:00.000Z","extensions":{"extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d":{"extension_type":"property-extension","tlp_2_0":"amber"}},"id":"marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421","name":"TLP:AMBER","spec_version":"2.1","type":"marking-definition"}`
	if string(defs[0]) != want {
		t.Errorf("TLP 2.0 AMBER definition = %s; want %s", defs[0], want)
	}

	_, a, _ := ToMarkings(mustParse(t, "SECRET//REL TO USA, GBR"))
	_, b, _ := ToMarkings(mustParse(t, "secret//rel to gbr, usa"))
	_, c, _ := ToMarkings(mustParse(t, "SECRET//REL TO USA, GBR, CAN"))
	if len(a) != 1 || !slices.Equal(a, b) || slices.Equal(a, c) {
		t.Errorf("marking ids: %q, %q, %q; want one id, equal for the same label, different for another", a, b, c)
	}
	if id := a[0]; !strings.HasPrefix(id, "marking-definition--") || id[len("marking-definition--")+14] != '5' {
		t.Errorf("marking id %s is not a UUIDv5", id)
	}
	// A fixed vector: the id depends only on the label, so it must not
	// change between versions without a reason.
	if want := "marking-definition--d923aee0-baae-537b-8ad7-711e503223e3"; mustID(t, "SECRET//REL TO USA, GBR, FVEY") != want {
		t.Errorf("id of SECRET//REL TO USA, GBR, FVEY = %s; want %s", mustID(t, "SECRET//REL TO USA, GBR, FVEY"), want)
	}
	if _, _, err := ToMarkings(tearline.Label{}); err == nil {
		t.Errorf("ToMarkings(zero label) = nil error; want empty-label")
	}
}

func mustID(t *testing.T, banner string) string {
	t.Helper()
	_, refs, err := ToMarkings(mustParse(t, banner))
	if err != nil || len(refs) != 1 {
		t.Fatalf("ToMarkings(%q) = %q, %v", banner, refs, err)
	}
	return refs[0]
}

func TestFromObjectTLP(t *testing.T) {
	cases := []struct {
		ref  string
		want tearline.TLP
	}{
		{"marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9", tearline.TLPClear}, // TLP 1.0 WHITE
		{"marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da", tearline.TLPGreen},
		{"marking-definition--f88d31f6-486f-44da-b317-01333bde0b82", tearline.TLPAmber},
		{"marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed", tearline.TLPRed},
		{"marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487", tearline.TLPClear}, // TLP 2.0
		{"marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb", tearline.TLPGreen},
		{"marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421", tearline.TLPAmber},
		{"marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003", tearline.TLPAmberStrict},
		{"marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1", tearline.TLPRed},
	}
	for _, c := range cases {
		got, err := FromObject(indicator(t, []string{c.ref}, nil), nil)
		if err != nil || !reflect.DeepEqual(got, tearline.Label{TLP: c.want}) {
			t.Errorf("FromObject(%s) = %+v, %v; want TLP:%s", c.ref, got, err, tlpName(c.want))
		}
	}
	for i, c := range cases {
		if t2, ok := TLPMarkingID(c.want); !ok || (i >= 4 && t2 != c.ref) {
			t.Errorf("TLPMarkingID(%s) = %s, %v", tlpName(c.want), t2, ok)
		}
	}
	// TLP 1.0 AMBER and TLP 2.0 AMBER agree; AMBER and RED do not.
	same := []string{"marking-definition--f88d31f6-486f-44da-b317-01333bde0b82", "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421"}
	if got, err := FromObject(indicator(t, same, nil), nil); err != nil || got.TLP != tearline.TLPAmber {
		t.Errorf("FromObject(TLP 1.0 AMBER, TLP 2.0 AMBER) = %+v, %v; want TLP:AMBER", got, err)
	}
	two := []string{"marking-definition--f88d31f6-486f-44da-b317-01333bde0b82", "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1"}
	expectRule(t, "FromObject(AMBER, RED)", "tlp-conflict", func() error { _, err := FromObject(indicator(t, two, nil), nil); return err })

	// A TLP 2.0 definition under another id is read by its content.
	custom := []byte(`{"type":"marking-definition","spec_version":"2.1","id":"marking-definition--0d6c3c7b-0a2a-4a5e-9f5c-2a8c1f1d0e11","created":"2024-01-01T00:00:00.000Z","extensions":{"extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d":{"extension_type":"property-extension","tlp_2_0":"amber+strict"}}}`)
	got, err := FromObject(indicator(t, []string{"marking-definition--0d6c3c7b-0a2a-4a5e-9f5c-2a8c1f1d0e11"}, nil), definitions(t, custom))
	if err != nil || got.TLP != tearline.TLPAmberStrict {
		t.Errorf("FromObject(custom TLP 2.0 definition) = %+v, %v; want TLP:AMBER+STRICT", got, err)
	}
}

func expectRule(t *testing.T, what, rule string, f func() error) {
	t.Helper()
	err := f()
	var re *RuleError
	if !errors.As(err, &re) || re.Rule != rule {
		t.Errorf("%s = %v; want rule %s", what, err, rule)
		return
	}
	if !errors.Is(err, tearline.ErrInvalid) {
		t.Errorf("%s = %v; want it to wrap tearline.ErrInvalid", what, err)
	}
}

const (
	statementID = "marking-definition--fa42a846-8d90-4e51-bc29-71d5b4802168"
	statement   = `{"type":"marking-definition","spec_version":"2.1","id":"marking-definition--fa42a846-8d90-4e51-bc29-71d5b4802168","created":"2017-06-01T00:00:00.000Z","definition_type":"statement","definition":{"statement":"Copyright 2015-2024, The MITRE Corporation."}}`
	iepID       = "marking-definition--da05d443-ad8d-46fc-abf5-31d3d00290f1"
	// The IEP 2.0 example of cti-stix-common-objects.
	iepDef = `{"type":"marking-definition","spec_version":"2.1","id":"marking-definition--da05d443-ad8d-46fc-abf5-31d3d00290f1","created":"2024-01-10T14:52:41.853121Z","name":"IEP data marking","extensions":{"extension-definition--762e2e97-ee51-43e5-a9ea-165fbb862c4a":{"extension_type":"property-extension","encrypt_in_transit":"may","permitted_actions":"externally-visible-direct-actions","affected_party_notifications":"may","tlp":"amber","provider_attribution":"must-not","unmodified_resale":"must-not","iep_id":"0224bfdf-ea3a-49c3-96f6-66d908bb1845","iep_version":2.0,"description":"This is a TLP-AMBER Information Exchange Policy","start_date":"2022-10-01T00:00:00Z"}}}`
	acsID  = "marking-definition--6010b3f4-a603-4d3b-9098-8708cdbe151b"
	// After use case 2 of the ACS 3.0 extension's examples.
	acsDef = `{"type":"marking-definition","spec_version":"2.1","created":"2020-06-18T00:00:00.000Z","id":"marking-definition--6010b3f4-a603-4d3b-9098-8708cdbe151b","extensions":{"extension-definition--3a65884d-005a-4290-8335-cb2d778a83ce":{
		"access_privilege":[
			{"privilege_action":"INTEL","privilege_scope":{"entity":["ALL"],"permitted_nationalities":["ALL"],"permitted_organizations":["ALL"],"shareability":["ALL"]},"rule_effect":"permit"},
			{"privilege_action":"DSPLY","privilege_scope":{"entity":["ALL"],"permitted_nationalities":["ALL"],"permitted_organizations":["ALL"],"shareability":["ALL"]},"rule_effect":"permit"},
			{"privilege_action":"REQUEST","privilege_scope":{"entity":["ALL"],"permitted_nationalities":["ALL"],"permitted_organizations":["ALL"],"shareability":["ALL"]},"rule_effect":"permit"},
			{"privilege_action":"NETDEF","privilege_scope":{"permitted_nationalities":["USA"]},"rule_effect":"permit"}],
		"control_set":{"classification":"U","formal_determination":["FOUO","AIS"]},
		"create_date_time":"2018-05-27T14:10:26.723Z","extension_type":"property-extension",
		"identifier":"isa:guide.19001.ACS3-76342cc9-1440-4031-84a3-d498c404cab3","name":"Use Case 2: Access Privilege",
		"policy_reference":"urn:isa:policy:acs:ns:v3.0?privdefault=deny&sharedefault=permit","responsible_entity_custodian":"USA.DOJ.FBI"}}}`
)

func TestFromObjectIEP(t *testing.T) {
	got, err := FromObject(indicator(t, []string{iepID}, nil), definitions(t, []byte(iepDef)))
	want := tearline.Label{TLP: tearline.TLPAmber, IEP: &tearline.IEP{
		EncryptInTransit: "may", PermittedActions: "externally-visible-direct-actions", AffectedPartyNotify: true,
		TLP: tearline.TLPAmber, NoAttribution: true, StartDate: date("2022-10-01T00:00:00Z"),
	}}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("FromObject(IEP 2.0 example) = %+v, %v; want %+v", got, err, want)
	}
	// The IEP colour must agree with a TLP marking on the same object.
	red := "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1"
	expectRule(t, "FromObject(IEP amber, TLP RED)", "tlp-conflict", func() error {
		_, err := FromObject(indicator(t, []string{iepID, red}, nil), definitions(t, []byte(iepDef)))
		return err
	})
	incomplete := strings.Replace(iepDef, `"encrypt_in_transit":"may",`, "", 1)
	expectRule(t, "FromObject(IEP without encrypt_in_transit)", "marking-definition", func() error {
		_, err := FromObject(indicator(t, []string{iepID}, nil), definitions(t, []byte(incomplete)))
		return err
	})
	v1 := strings.Replace(iepDef, `"iep_version":2.0`, `"iep_version":1.0`, 1)
	expectRule(t, "FromObject(IEP 1.0)", "marking-definition", func() error {
		_, err := FromObject(indicator(t, []string{iepID}, nil), definitions(t, []byte(v1)))
		return err
	})
}

func TestFromObjectACS(t *testing.T) {
	got, err := FromObject(indicator(t, []string{acsID}, nil), definitions(t, []byte(acsDef)))
	want := Normalize(tearline.Label{Policy: "USA", Classification: "UNCLASSIFIED", FOUO: true,
		Categories: []tearline.Category{{Type: tearline.Informative, Name: "ACS Formal Determination", Values: []string{"AIS"}}},
		Purposes:   []string{"acs:dsply", "acs:intel", "acs:request"}, // NETDEF is permitted to USA only: not counted
	})
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("FromObject(ACS use case 2) = %+v, %v; want %+v", got, err, want)
	}

	restricted := strings.NewReplacer(
		`"classification":"U","formal_determination":["FOUO","AIS"]`,
		`"classification":"S","formal_determination":["PII-NECESSARY-TO-UNDERSTAND-THREAT"],"caveat":["FISA"],"sensitivity":["LES"],"permitted_nationalities":["USA","GBR"],"entity":["GOV"]`,
		`privdefault=deny&sharedefault=permit`, `privdefault=permit&sharedefault=deny`,
		`"responsible_entity_custodian":"USA.DOJ.FBI"`,
		`"responsible_entity_custodian":"USA.DOJ.FBI","responsible_entity_originator":"USA.DOJ.FBI","resource_disposition":{"disposition_date":"2030-01-01T00:00:00Z","disposition_process":"DESTROY"},"further_sharing":[{"sharing_scope":["USA.USG"],"rule_effect":"permit"}]`,
		`{"privilege_action":"REQUEST","privilege_scope":{"entity":["ALL"],"permitted_nationalities":["ALL"],"permitted_organizations":["ALL"],"shareability":["ALL"]},"rule_effect":"permit"}`,
		`{"privilege_action":"LEGAL","privilege_scope":{"entity":["GOV"]},"rule_effect":"deny"}`,
	).Replace(acsDef)
	got, err = FromObject(indicator(t, []string{acsID}, nil), definitions(t, []byte(restricted)))
	var every []string
	for _, a := range acsActions {
		if a != "LEGAL" {
			every = append(every, "acs:"+strings.ToLower(a))
		}
	}
	want = Normalize(tearline.Label{Policy: "USA", Classification: "SECRET", PersonalData: true,
		Categories: []tearline.Category{
			{Type: tearline.Restrictive, Name: "ACS Caveat", Values: []string{"FISA"}},
			{Type: tearline.Restrictive, Name: "ACS Sensitivity", Values: []string{"LES"}},
			relTo("USA", "GBR"),
			{Type: tearline.Permissive, Name: "ACS Entity", Values: []string{"GOV"}},
		},
		Handling: []tearline.HandlingCode{tearline.H2}, Originators: []string{"USA.DOJ.FBI"},
		RetainUntil: date("2030-01-01"), Purposes: every,
	})
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("FromObject(restricted ACS) = %+v, %v; want %+v", got, err, want)
	}

	denyAll := strings.Replace(acsDef, `"rule_effect":"permit"`, `"rule_effect":"deny"`, -1)
	got, err = FromObject(indicator(t, []string{acsID}, nil), definitions(t, []byte(denyAll)))
	if err != nil || !slices.Equal(got.Purposes, []string{NoPurpose}) {
		t.Errorf("FromObject(ACS denying everything) = %+v, %v; want the purpose %q alone", got, err, NoPurpose)
	}

	for name, bad := range map[string]string{
		"unknown determination": strings.Replace(acsDef, `"AIS"`, `"SOMETHING-NEW"`, 1),
		"unknown property":      strings.Replace(acsDef, `"identifier":`, `"x_new":1,"identifier":`, 1),
		"unknown control":       strings.Replace(acsDef, `"classification":"U"`, `"classification":"U","x_new":["A"]`, 1),
		"classification R":      strings.Replace(acsDef, `"classification":"U"`, `"classification":"R"`, 1),
		"no control set":        strings.Replace(acsDef, `"control_set":{"classification":"U","formal_determination":["FOUO","AIS"]},`, ``, 1),
		"bad policy reference":  strings.Replace(acsDef, `privdefault=deny`, `privdefault=maybe`, 1),
	} {
		expectRule(t, "FromObject(ACS "+name+")", "marking-definition", func() error {
			_, err := FromObject(indicator(t, []string{acsID}, nil), definitions(t, []byte(bad)))
			return err
		})
	}
	// NF with a nationality list contradicts itself.
	nfRel := strings.Replace(acsDef, `"formal_determination":["FOUO","AIS"]`, `"formal_determination":["NF"],"permitted_nationalities":["GBR"]`, 1)
	expectRule(t, "FromObject(ACS NF with nationalities)", "relto-with-noforn", func() error {
		_, err := FromObject(indicator(t, []string{acsID}, nil), definitions(t, []byte(nfRel)))
		return err
	})
}

func TestFromObjectFailsClosed(t *testing.T) {
	tearlineDef := func(props string) []byte {
		return []byte(`{"type":"marking-definition","spec_version":"2.1","id":"marking-definition--3f6b2a8e-1c4d-4e5f-8a9b-0c1d2e3f4a5b","created":"2024-01-01T00:00:00.000Z","extensions":{"` +
			ExtensionID + `":{"extension_type":"property-extension",` + props + `}}}`)
	}
	const tid = "marking-definition--3f6b2a8e-1c4d-4e5f-8a9b-0c1d2e3f4a5b"
	secretRel, _, _ := ToMarkings(mustParse(t, "SECRET//REL TO USA, GBR"))
	_, secretRelRefs, _ := ToMarkings(mustParse(t, "SECRET//REL TO USA, GBR"))
	noforn, noRefs, _ := ToMarkings(mustParse(t, "SECRET//NOFORN"))
	top, topRefs, _ := ToMarkings(mustParse(t, "TOP SECRET"))

	cases := []struct {
		name string
		refs []string
		defs [][]byte
		rule string
	}{
		{"unknown id", []string{"marking-definition--0c7b5e1a-3d2f-4a6b-9c8d-7e6f5a4b3c2d"}, nil, "unknown-marking-definition"},
		{"unknown extension", []string{tid}, [][]byte{[]byte(`{"type":"marking-definition","spec_version":"2.1","id":"` + tid +
			`","created":"2024-01-01T00:00:00.000Z","extensions":{"extension-definition--0c7b5e1a-3d2f-4a6b-9c8d-7e6f5a4b3c2d":{"extension_type":"property-extension","level":"x"}}}`)}, "unknown-marking-extension"},
		{"unknown definition type", []string{tid}, [][]byte{[]byte(`{"type":"marking-definition","spec_version":"2.1","id":"` + tid +
			`","created":"2024-01-01T00:00:00.000Z","definition_type":"x-acme","definition":{"level":"x"}}`)}, "unknown-marking-extension"},
		{"unknown property", []string{tid}, [][]byte{tearlineDef(`"policy":"USA","classification":"SECRET","nofrn":true`)}, "marking-definition"},
		{"property in another case", []string{tid}, [][]byte{tearlineDef(`"policy":"USA","classification":"SECRET","NOFORN":false`)}, "marking-definition"},
		{"wrong type", []string{tid}, [][]byte{tearlineDef(`"policy":"USA","classification":"SECRET","noforn":"yes"`)}, "marking-definition"},
		{"unknown policy", []string{tid}, [][]byte{tearlineDef(`"policy":"XYZ","classification":"SECRET"`)}, "unknown-policy"},
		{"bad handling", []string{tid}, [][]byte{tearlineDef(`"handling":["H5"]`)}, "unknown-handling-code"},
		{"TLP 1.0 colour in a TLP 2.0 field", []string{tid}, [][]byte{tearlineDef(`"tlp":"white"`)}, "unknown-tlp"},
		{"REL TO and NOFORN from two markings", append(secretRelRefs, noRefs...), append(secretRel, noforn...), "relto-with-noforn"},
		{"two classifications", append(secretRelRefs, topRefs...), append(secretRel, top...), "marking-conflict"},
	}
	for _, c := range cases {
		expectRule(t, "FromObject("+c.name+")", c.rule, func() error {
			_, err := FromObject(indicator(t, c.refs, nil), definitions(t, c.defs...))
			return err
		})
	}

	// A resolver that answers with another object, or a TLP 1.0 definition
	// under an id STIX did not predefine.
	other, _ := stix.ParseJSON([]byte(statement))
	tlp1, _ := stix.ParseJSON([]byte(`{"type":"marking-definition","spec_version":"2.1","id":"` + tid + `","created":"2017-01-20T00:00:00.000Z","definition_type":"tlp","definition":{"tlp":"white"}}`))
	for name, d := range map[string]Definitions{"another id": {tid: &other}, "TLP 1.0 elsewhere": {tid: &tlp1}} {
		expectRule(t, "FromObject("+name+")", "marking-definition", func() error {
			_, err := FromObject(indicator(t, []string{tid}, nil), d)
			return err
		})
	}
}

func TestFromObjectStatements(t *testing.T) {
	defs := definitions(t, []byte(statement))
	got, err := FromObject(indicator(t, []string{statementID}, nil), defs)
	if err != nil || !reflect.DeepEqual(got, tearline.Label{}) {
		t.Errorf("FromObject(statement only) = %+v, %v; want the zero label", got, err)
	}
	amber := "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82"
	got, err = FromObject(indicator(t, []string{statementID, amber}, nil), defs)
	if err != nil || got.TLP != tearline.TLPAmber {
		t.Errorf("FromObject(statement, TLP:AMBER) = %+v, %v; want TLP:AMBER", got, err)
	}
	got, err = FromObject(indicator(t, nil, nil), nil)
	if err != nil || !reflect.DeepEqual(got, tearline.Label{}) {
		t.Errorf("FromObject(unmarked) = %+v, %v; want the zero label", got, err)
	}
}

func TestPortions(t *testing.T) {
	defs, refs, err := ToMarkings(mustParse(t, "SECRET//REL TO USA, GBR//ORCON"))
	if err != nil {
		t.Fatal(err)
	}
	red := "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1"
	green := "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"
	obj := indicator(t, []string{green}, []map[string]any{
		{"marking_ref": red, "selectors": []string{"description", "name"}},
		{"marking_ref": refs[0], "selectors": []string{"description"}},
		{"lang": "en", "selectors": []string{"name"}},
		{"marking_ref": statementID, "selectors": []string{"pattern"}},
	})
	all := definitions(t, append(defs, []byte(statement))...)
	got, err := Portions(obj, all)
	if err != nil {
		t.Fatalf("Portions = %v", err)
	}
	want := map[string]tearline.Label{
		"description": mustParse(t, "SECRET//ORCON//REL TO USA, GBR//TLP:RED"),
		"name":        {TLP: tearline.TLPRed},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Portions = %+v; want %+v", got, want)
	}
	whole, err := FromObject(obj, all)
	if err != nil || whole.TLP != tearline.TLPGreen {
		t.Errorf("FromObject = %+v, %v; want TLP:GREEN, granular markings aside", whole, err)
	}
	// The effective label of a portion is the roll-up with the object's.
	eff, err := RollUp(whole, got["description"])
	if err != nil || Format(eff) != "SECRET//ORCON//REL TO USA, GBR//TLP:RED" {
		t.Errorf("RollUp(object, description) = %q, %v", Format(eff), err)
	}

	conflicting := indicator(t, nil, []map[string]any{
		{"marking_ref": red, "selectors": []string{"description"}},
		{"marking_ref": green, "selectors": []string{"description"}},
	})
	expectRule(t, "Portions(RED and GREEN on one portion)", "tlp-conflict", func() error { _, err := Portions(conflicting, nil); return err })
	unknown := indicator(t, nil, []map[string]any{{"marking_ref": "marking-definition--0c7b5e1a-3d2f-4a6b-9c8d-7e6f5a4b3c2d", "selectors": []string{"name"}}})
	expectRule(t, "Portions(unknown marking)", "unknown-marking-definition", func() error { _, err := Portions(unknown, all); return err })
	if got, err := Portions(indicator(t, nil, nil), nil); err != nil || len(got) != 0 {
		t.Errorf("Portions(no granular markings) = %v, %v; want none", got, err)
	}
}

// TestPublishedObjects: the extension definition and identity are valid
// STIX, and the schema describes exactly the properties the code reads.
func TestPublishedObjects(t *testing.T) {
	for name, data := range map[string][]byte{"extension-definition.json": ExtensionDefinition(), "identity.json": Identity()} {
		obj, v, err := stix.Parse(data)
		if err != nil {
			t.Errorf("stix.Parse(%s) = %v", name, err)
			continue
		}
		if name == "extension-definition.json" {
			if obj.ID != ExtensionID {
				t.Errorf("%s has id %s; want %s", name, obj.ID, ExtensionID)
			}
			by, _ := v.Get("created_by_ref")
			if ident, _, _ := stix.Parse(Identity()); by == nil || by.Str != ident.ID {
				t.Errorf("%s is not created by the published identity", name)
			}
		}
	}
	var s struct {
		Properties map[string]struct {
			Properties map[string]json.RawMessage `json:"properties"`
		} `json:"properties"`
	}
	if err := json.Unmarshal(Schema(), &s); err != nil {
		t.Fatalf("label.schema.json: %v", err)
	}
	var keys []string
	for k := range s.Properties {
		keys = append(keys, k)
	}
	if slices.Sort(keys); !slices.Equal(keys, slices.Sorted(slices.Values(extensionKeys))) {
		t.Errorf("schema properties %q; the decoder reads %q", keys, slices.Sorted(slices.Values(extensionKeys)))
	}
	var iep []string
	for k := range s.Properties["iep"].Properties {
		iep = append(iep, k)
	}
	if slices.Sort(iep); !slices.Equal(iep, slices.Sorted(slices.Values(iepKeys))) {
		t.Errorf("schema iep properties %q; the decoder reads %q", iep, slices.Sorted(slices.Values(iepKeys)))
	}
}
