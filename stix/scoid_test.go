package stix

import "testing"

// TestDeterministicIDSpecExamples checks identifiers against the examples of the
// STIX 2.1 specification (section 2.9 and the observable examples), which
// every conforming producer derives the same way.
func TestDeterministicIDSpecExamples(t *testing.T) {
	cases := []struct {
		json string
		want string
	}{
		{`{"type":"ipv4-addr","value":"198.51.100.3"}`, "ipv4-addr--28bb3599-77cd-5a82-a950-b5bc3caf07c4"},
		{`{"type":"domain-name","value":"example.com"}`, "domain-name--bedb4899-d24b-5401-bc86-8f6b4cc18ec7"},
		// Non-contributing properties do not change the id.
		{`{"type":"domain-name","value":"example.com","resolves_to_refs":["ipv4-addr--28bb3599-77cd-5a82-a950-b5bc3caf07c4"]}`, "domain-name--bedb4899-d24b-5401-bc86-8f6b4cc18ec7"},
	}
	for _, c := range cases {
		v, err := ParseJSON([]byte(c.json))
		if err != nil {
			t.Fatal(err)
		}
		got, ok, err := DeterministicID(&v)
		if err != nil || !ok || got != c.want {
			t.Errorf("DeterministicID(%s) = %s, %v, %v; want %s", c.json, got, ok, err, c.want)
		}
	}
}

func TestDeterministicIDHashChoice(t *testing.T) {
	// With several hashes, MD5 is preferred, then SHA-1, SHA-256, SHA-512;
	// the id must not depend on which other hashes are present.
	a, _ := ParseJSON([]byte(`{"type":"file","hashes":{"SHA-256":"` + sha256Hex + `","MD5":"d41d8cd98f00b204e9800998ecf8427e"}}`))
	b, _ := ParseJSON([]byte(`{"type":"file","hashes":{"MD5":"d41d8cd98f00b204e9800998ecf8427e"}}`))
	ida, _, _ := DeterministicID(&a)
	idb, _, _ := DeterministicID(&b)
	if ida != idb {
		t.Errorf("DeterministicID with MD5+SHA-256 = %s; with MD5 alone = %s; want equal", ida, idb)
	}
	none, _ := ParseJSON([]byte(`{"type":"process","pid":4}`))
	if id, ok, _ := DeterministicID(&none); ok {
		t.Errorf("DeterministicID(process) = %s, true; want no deterministic id", id)
	}
}

const sha256Hex = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
