package analytics

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/tearline/tearline/stix"
)

func TestFromComparisons(t *testing.T) {
	sha := strings.Repeat("AB", 32)
	tests := []struct {
		name string
		in   []Comparison
		want []Observable
	}{
		{"ipv4 equal", []Comparison{{ObjectType: "ipv4-addr", Path: []string{"value"}, Operator: OpEqual, Values: []string{"198.51.100.1"}}},
			[]Observable{{KindIPv4, "198.51.100.1/32"}}},
		{"ipv4 issubset", []Comparison{{ObjectType: "ipv4-addr", Path: []string{"value"}, Operator: OpIsSubset, Values: []string{"198.51.100.0/24"}}},
			[]Observable{{KindIPv4, "198.51.100.0/24"}}},
		{"issuperset names nothing", []Comparison{{ObjectType: "ipv4-addr", Path: []string{"value"}, Operator: OpIsSuperset, Values: []string{"198.51.100.1"}}},
			nil},
		{"issubset on a domain names nothing", []Comparison{{ObjectType: "domain-name", Path: []string{"value"}, Operator: OpIsSubset, Values: []string{"example.com"}}},
			nil},
		{"in", []Comparison{{ObjectType: "domain-name", Path: []string{"value"}, Operator: OpIn, Values: []string{"A.example.com", "b.example.com", "a.example.com"}}},
			[]Observable{{KindDomain, "a.example.com"}, {KindDomain, "b.example.com"}}},
		{"negated", []Comparison{{ObjectType: "domain-name", Path: []string{"value"}, Operator: OpEqual, Negated: true, Values: []string{"example.com"}}},
			nil},
		{"not equal", []Comparison{{ObjectType: "domain-name", Path: []string{"value"}, Operator: OpNotEqual, Values: []string{"example.com"}}},
			nil},
		{"like", []Comparison{{ObjectType: "url", Path: []string{"value"}, Operator: OpLike, Values: []string{"http://%.example.com/"}}},
			nil},
		{"matches", []Comparison{{ObjectType: "file", Path: []string{"name"}, Operator: OpMatches, Values: []string{"^evil"}}},
			nil},
		{"order", []Comparison{{ObjectType: "file", Path: []string{"size"}, Operator: OpGreater, Values: []string{"5"}}},
			nil},
		{"unmatchable path", []Comparison{{ObjectType: "file", Path: []string{"size"}, Operator: OpEqual, Values: []string{"5"}}},
			nil},
		{"file hash", []Comparison{{ObjectType: "file", Path: []string{"hashes", "SHA-256"}, Operator: OpEqual, Values: []string{sha}}},
			[]Observable{{KindSHA256, strings.ToLower(sha)}}},
		{"x509 hash", []Comparison{{ObjectType: "x509-certificate", Path: []string{"hashes", "SHA-1"}, Operator: OpEqual, Values: []string{strings.Repeat("1", 40)}}},
			[]Observable{{KindSHA1, strings.Repeat("1", 40)}}},
		{"url with host", []Comparison{{ObjectType: "url", Path: []string{"value"}, Operator: OpEqual, Values: []string{"HTTP://Evil.example/x"}}},
			[]Observable{{KindURL, "http://evil.example/x"}, {KindDomain, "evil.example"}}},
		{"email refs", []Comparison{
			{ObjectType: "email-message", Path: []string{"from_ref", "value"}, Operator: OpEqual, Values: []string{"a@Example.com"}},
			{ObjectType: "email-message", Path: []string{"to_refs", "*", "value"}, Operator: OpEqual, Values: []string{"b@example.com"}},
			{ObjectType: "email-message", Path: []string{"cc_refs", "0", "value"}, Operator: OpEqual, Values: []string{"c@example.com"}},
		}, []Observable{{KindEmail, "a@example.com"}, {KindEmail, "b@example.com"}, {KindEmail, "c@example.com"}}},
		{"network-traffic refs", []Comparison{
			{ObjectType: "network-traffic", Path: []string{"dst_ref", "value"}, Operator: OpEqual, Values: []string{"203.0.113.9"}},
			{ObjectType: "network-traffic", Path: []string{"src_ref", "value"}, Operator: OpIn, Values: []string{"2001:db8::1", "Evil.Example", "00:00:5e:00:53:01", "203.0.113.0/24"}},
		}, []Observable{{KindIPv4, "203.0.113.9/32"}, {KindIPv6, "2001:db8::1/128"}, {KindDomain, "evil.example"}, {KindMAC, "00:00:5e:00:53:01"}, {KindIPv4, "203.0.113.0/24"}}},
		{"others", []Comparison{
			{ObjectType: "autonomous-system", Path: []string{"number"}, Operator: OpEqual, Values: []string{"64496"}},
			{ObjectType: "mutex", Path: []string{"name"}, Operator: OpEqual, Values: []string{"m1"}},
			{ObjectType: "windows-registry-key", Path: []string{"key"}, Operator: OpEqual, Values: []string{`hkcu\run`}},
			{ObjectType: "file", Path: []string{"name"}, Operator: OpEqual, Values: []string{"a.exe"}},
			{ObjectType: "process", Path: []string{"image_ref", "name"}, Operator: OpEqual, Values: []string{"b.exe"}},
			{ObjectType: "mac-addr", Path: []string{"value"}, Operator: OpEqual, Values: []string{"00:00:5E:00:53:02"}},
		}, []Observable{{KindASN, "64496"}, {KindMutex, "m1"}, {KindRegistryKey, `HKEY_CURRENT_USER\RUN`}, {KindFileName, "a.exe"}, {KindFileName, "b.exe"}, {KindMAC, "00:00:5e:00:53:02"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := FromComparisons(tt.in)
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("FromComparisons(%v) = %v, %v; want %v", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestFromComparisonsErrors(t *testing.T) {
	in := []Comparison{
		{ObjectType: "ipv4-addr", Path: []string{"value"}, Operator: OpEqual, Values: []string{"300.0.0.1"}},
		{ObjectType: "domain-name", Path: []string{"value"}, Operator: OpEqual, Values: []string{"good.example"}},
		{ObjectType: "file", Path: []string{"hashes", "x-custom"}, Operator: OpEqual, Values: []string{"abc"}},
	}
	got, err := FromComparisons(in)
	if want := []Observable{{KindDomain, "good.example"}}; !reflect.DeepEqual(got, want) {
		t.Errorf("FromComparisons() = %v; want the valid %v despite errors", got, want)
	}
	var ee *ExtractError
	if !errors.As(err, &ee) || ee.Where != "comparison 0" || ee.Path != "ipv4-addr:value" {
		t.Fatalf("FromComparisons() error %v; want an *ExtractError for comparison 0 at ipv4-addr:value", err)
	}
	if !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), "comparison 2, file:hashes.'x-custom'") {
		t.Errorf("FromComparisons() error %q; want the unsupported hash of comparison 2 reported", err)
	}
}

func TestFromSCO(t *testing.T) {
	sha := strings.Repeat("ab", 32)
	tests := []struct {
		name string
		json string
		want []Observable
	}{
		{"ipv4", `{"type":"ipv4-addr","spec_version":"2.1","id":"ipv4-addr--ff26c055-6336-5bc5-b98d-13d6226742dd","value":"198.51.100.3"}`,
			[]Observable{{KindIPv4, "198.51.100.3/32"}}},
		{"ipv6 cidr", `{"type":"ipv6-addr","value":"2001:0db8::/96"}`, []Observable{{KindIPv6, "2001:db8::/96"}}},
		{"domain", `{"type":"domain-name","value":"Example.COM"}`, []Observable{{KindDomain, "example.com"}}},
		{"url", `{"type":"url","value":"https://example.com/research/index.html"}`,
			[]Observable{{KindURL, "https://example.com/research/index.html"}, {KindDomain, "example.com"}}},
		{"email", `{"type":"email-addr","value":"john@example.com","display_name":"John Doe"}`, []Observable{{KindEmail, "john@example.com"}}},
		{"file", `{"type":"file","name":"foo.exe","hashes":{"SHA-256":"` + sha + `","MD5":"D41D8CD98F00B204E9800998ECF8427E"}}`,
			[]Observable{{KindFileName, "foo.exe"}, {KindSHA256, sha}, {KindMD5, "d41d8cd98f00b204e9800998ecf8427e"}}},
		{"artifact", `{"type":"artifact","url":"http://example.com/a.bin","hashes":{"SHA-256":"` + sha + `"}}`,
			[]Observable{{KindURL, "http://example.com/a.bin"}, {KindDomain, "example.com"}, {KindSHA256, sha}}},
		{"x509", `{"type":"x509-certificate","hashes":{"SHA-1":"` + strings.Repeat("c", 40) + `"},"serial_number":"1"}`,
			[]Observable{{KindSHA1, strings.Repeat("c", 40)}}},
		{"asn", `{"type":"autonomous-system","number":15139,"name":"Slime Industries"}`, []Observable{{KindASN, "15139"}}},
		{"mac", `{"type":"mac-addr","value":"d2:fb:49:24:37:18"}`, []Observable{{KindMAC, "d2:fb:49:24:37:18"}}},
		{"mutex", `{"type":"mutex","name":"__CLEANSWEEP__"}`, []Observable{{KindMutex, "__CLEANSWEEP__"}}},
		{"registry", `{"type":"windows-registry-key","key":"hkey_local_machine\\system\\bar\\foo"}`,
			[]Observable{{KindRegistryKey, `HKEY_LOCAL_MACHINE\SYSTEM\BAR\FOO`}}},
		{"process yields nothing", `{"type":"process","pid":1221}`, nil},
		{"sdo yields nothing", `{"type":"indicator","pattern":"[ipv4-addr:value = '1.2.3.4']"}`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := stix.ParseJSON([]byte(tt.json))
			if err != nil {
				t.Fatal(err)
			}
			got, err := FromSCO(&v)
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("FromSCO(%s) = %v, %v; want %v", tt.json, got, err, tt.want)
			}
		})
	}
}

func TestFromSCOErrors(t *testing.T) {
	tests := []struct {
		name, json string
		path       string // ExtractError.Path of the first error
		got        int    // observables still read
	}{
		{"bad value", `{"type":"ipv4-addr","id":"ipv4-addr--1","value":"1.2.3"}`, "$.value", 0},
		{"value not a string", `{"type":"domain-name","value":5}`, "$.value", 0},
		{"asn not integer", `{"type":"autonomous-system","number":1.5}`, "$.number", 0},
		{"asn negative", `{"type":"autonomous-system","number":-1}`, "$.number", 0},
		{"hashes not object", `{"type":"file","name":"a","hashes":"x"}`, "$.hashes", 1},
		{"hash not string", `{"type":"file","hashes":{"MD5":1,"SHA-1":"` + strings.Repeat("a", 40) + `"}}`, "$.hashes.MD5", 1},
		{"custom hash", `{"type":"file","hashes":{"x-ours":"abcd"}}`, "$.hashes.x-ours", 0},
		{"no type", `{"value":"1.2.3.4"}`, "$.type", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := stix.ParseJSON([]byte(tt.json))
			if err != nil {
				t.Fatal(err)
			}
			got, err := FromSCO(&v)
			var ee *ExtractError
			if !errors.As(err, &ee) || ee.Path != tt.path {
				t.Fatalf("FromSCO(%s) error %v; want an *ExtractError at %s", tt.json, err, tt.path)
			}
			if len(got) != tt.got {
				t.Errorf("FromSCO(%s) = %v; want %d observables read despite the error", tt.json, got, tt.got)
			}
		})
	}
	if _, err := FromSCO(nil); err == nil {
		t.Errorf("FromSCO(nil) succeeded; want an error")
	}
}

func TestFromSCOParsedObject(t *testing.T) {
	// The way the node calls it: on the Value stix.Parse returns.
	data := []byte(`{"type":"domain-name","spec_version":"2.1","id":"domain-name--3c10e93f-798e-5a26-a0c1-08156efab7f5","value":"WWW.Example.com"}`)
	_, v, err := stix.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	got, err := FromSCO(v)
	if want := []Observable{{KindDomain, "www.example.com"}}; err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("FromSCO(parsed) = %v, %v; want %v", got, err, want)
	}
}
