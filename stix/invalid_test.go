package stix

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tearline/tearline"
)

const invalidDir = "testdata/corpus/invalid"

// invalidCase is what one file of the invalid corpus must be rejected for.
type invalidCase struct {
	rule string
	path string
	// bundle files are read through the Decoder, with maxSize as the
	// per-object limit when it is not 0.
	bundle  bool
	maxSize int
	// noID is set when the object's id cannot be known (the JSON does not
	// parse, or the Decoder rejected the element unread).
	noID bool
}

var invalidCases = map[string]invalidCase{
	"id-format":                          {rule: "identifier-format", path: "$.id"},
	"id-type-mismatch":                   {rule: "identifier-type", path: "$.id"},
	"id-uuid-version-0":                  {rule: "identifier-uuid-version", path: "$.id"},
	"id-uuid-version-6":                  {rule: "identifier-uuid-version", path: "$.id"},
	"id-uuid-variant":                    {rule: "identifier-uuid-variant", path: "$.id"},
	"type-name-uppercase":                {rule: "type-name", path: "$.type"},
	"timestamp-no-z":                     {rule: "timestamp-format", path: "$.created"},
	"timestamp-offset":                   {rule: "timestamp-format", path: "$.modified"},
	"timestamp-leap-second":              {rule: "timestamp-format", path: "$.created"},
	"timestamp-second-precision":         {rule: "timestamp-precision", path: "$.created"},
	"modified-before-created":            {rule: "modified-before-created", path: "$.modified"},
	"valid-until-before-valid-from":      {rule: "timestamp-order", path: "$.valid_until"},
	"confidence-101":                     {rule: "value-range", path: "$.confidence"},
	"confidence-string":                  {rule: "property-type", path: "$.confidence"},
	"number-observed-zero":               {rule: "value-range", path: "$.number_observed"},
	"spec-version":                       {rule: "vocabulary", path: "$.spec_version"},
	"created-by-ref-malware":             {rule: "reference-type", path: "$.created_by_ref"},
	"object-marking-ref-identity":        {rule: "reference-type", path: "$.object_marking_refs[0]"},
	"relationship-source-marking":        {rule: "reference-type", path: "$.source_ref"},
	"relationship-type-uppercase":        {rule: "relationship-type", path: "$.relationship_type"},
	"sighting-of-sco":                    {rule: "reference-type", path: "$.sighting_of_ref"},
	"indicator-without-pattern":          {rule: "required-property", path: "$.pattern"},
	"pattern-unclosed-bracket":           {rule: "indicator-pattern", path: "$.pattern"},
	"pattern-stop-before-start":          {rule: "indicator-pattern", path: "$.pattern"},
	"pattern-lowercase-keyword":          {rule: "indicator-pattern", path: "$.pattern"},
	"malware-without-is-family":          {rule: "required-property", path: "$.is_family"},
	"report-without-object-refs":         {rule: "required-property", path: "$.object_refs"},
	"custom-object-without-spec-version": {rule: "required-property", path: "$.spec_version"},
	"kill-chain-phase-name":              {rule: "required-property", path: "$.kill_chain_phases[1].phase_name"},
	"external-reference-no-locator":      {rule: "required-property", path: "$.external_references[0]"},
	"ntfs-stream-without-name":           {rule: "required-property", path: "$.extensions.ntfs-ext.alternate_data_streams[1].name"},
	"empty-extension":                    {rule: "empty-extension", path: "$.extensions.pdf-ext"},
	"dictionary-key-space":               {rule: "dictionary-key", path: "$.environment_variables.HOME DIR"},
	"observed-data-ref-to-report":        {rule: "reference-type", path: "$.object_refs[1]"},
	"empty-list":                         {rule: "empty-list", path: "$.labels"},
	"selector-absent":                    {rule: "granular-selector", path: "$.granular_markings[0].selectors[0]"},
	"selector-index-out-of-range":        {rule: "granular-selector", path: "$.granular_markings[0].selectors[1]"},
	"granular-lang-and-marking-ref":      {rule: "granular-marking", path: "$.granular_markings[0]"},
	"opinion-vocabulary":                 {rule: "vocabulary", path: "$.opinion"},
	"socket-address-family":              {rule: "vocabulary", path: "$.extensions.socket-ext.address_family"},
	"extension-types-vocabulary":         {rule: "vocabulary", path: "$.extension_types[0]"},
	"extension-type-vocabulary":          {rule: "vocabulary", path: "$.extensions.extension-definition--a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d.extension_type"},
	"extension-definition-key":           {rule: "extension-name", path: "$.extensions.extension-definition--1234"},
	"marking-definition-modified":        {rule: "property-not-allowed", path: "$.modified"},
	"tlp-wrong-id":                       {rule: "marking-definition", path: "$.id"},
	"sha256-length":                      {rule: "hash-value", path: "$.hashes.SHA-256"},
	"payload-bin-base64":                 {rule: "binary-format", path: "$.payload_bin"},
	"artifact-payload-and-url":           {rule: "mutually-exclusive", path: "$"},
	"mac-addr-uppercase":                 {rule: "mac-address-format", path: "$.value"},
	"mac-addr-seven-octets":              {rule: "mac-address-format", path: "$.value"},
	"location-latitude-only":             {rule: "dependent-property", path: "$.latitude"},
	"network-traffic-no-endpoints":       {rule: "required-property", path: "$"},
	"network-traffic-active-with-end":    {rule: "dependent-property", path: "$.end"},
	"observed-data-objects-and-refs":     {rule: "mutually-exclusive", path: "$"},
	"email-multipart-body":               {rule: "multipart-body", path: "$.body"},
	"email-not-multipart-body-multipart": {rule: "multipart-body", path: "$.body_multipart"},
	"mime-part-body-and-raw":             {rule: "mutually-exclusive", path: "$.body_multipart[1]"},
	"property-name-characters":           {rule: "property-name", path: "$.x-ct-score"},
	"property-name-two-chars":            {rule: "property-name", path: "$.xy"},
	"json-syntax":                        {rule: "json-syntax", path: "$", noID: true},
	"duplicate-member":                   {rule: "json-syntax", path: "$", noID: true},
	"bundle-element-not-object":          {rule: "object-type", path: "$", bundle: true, noID: true},
	"bundle-object-too-large":            {rule: "object-too-large", path: "$", bundle: true, maxSize: 1024, noID: true},
}

func TestInvalidCorpus(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(invalidDir, "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 30 {
		t.Fatalf("%d files in %s; want at least 30", len(files), invalidDir)
	}
	seen := map[string]bool{}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".json")
		seen[name] = true
		t.Run(name, func(t *testing.T) {
			tc, ok := invalidCases[name]
			if !ok {
				t.Fatalf("%s has no entry in invalidCases", file)
			}
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			var oe *ObjectError
			if tc.bundle {
				oe = firstBundleError(t, data, tc.maxSize)
			} else {
				_, _, err = Parse(data)
				if err == nil {
					t.Fatalf("Parse(%s) = nil error; want %s", name, tc.rule)
				}
				if !errors.As(err, &oe) {
					t.Fatalf("Parse(%s) error %T (%v); want *ObjectError", name, err, err)
				}
				if !errors.Is(err, tearline.ErrInvalid) {
					t.Errorf("errors.Is(Parse(%s), ErrInvalid) = false; want true", name)
				}
			}
			if oe == nil {
				t.Fatalf("Parse(%s) rules = none; want %s", name, tc.rule)
			}
			found := false
			for _, p := range oe.Problems {
				if p.Rule == tc.rule && p.Path == tc.path {
					found = true
				}
			}
			if !found {
				t.Errorf("Parse(%s) rules = %v; want %s at %s; problems: %v", name, oe.Rules(), tc.rule, tc.path, oe.Problems)
			}
			if tc.noID {
				return
			}
			id := fileID(t, data)
			if oe.ID != id || !strings.Contains(oe.Error(), id) {
				t.Errorf("Parse(%s) error %q, ID %q; want it to name %s", name, oe.Error(), oe.ID, id)
			}
		})
	}
	for name := range invalidCases {
		if !seen[name] {
			t.Errorf("invalidCases names %s; there is no %s/%s.json", name, invalidDir, name)
		}
	}
}

// firstBundleError reads a bundle with the Decoder and returns the first
// ObjectError, from the Decoder or from Parse of an element. Every element
// not rejected must parse, and reading must end cleanly.
func firstBundleError(t *testing.T, data []byte, maxSize int) *ObjectError {
	t.Helper()
	d := NewDecoder(bytes.NewReader(data))
	if maxSize > 0 {
		d.SetMaxObjectSize(maxSize)
	}
	var first *ObjectError
	for {
		raw, i, err := d.Next()
		if err == io.EOF {
			return first
		}
		var oe *ObjectError
		if err != nil {
			if !errors.As(err, &oe) {
				t.Fatalf("Next() = %v; want an *ObjectError or io.EOF", err)
			}
			if oe.Index != i {
				t.Errorf("Next() index %d, ObjectError.Index %d; want equal", i, oe.Index)
			}
		} else if _, _, err := Parse(raw); err != nil {
			if !errors.As(err, &oe) {
				t.Fatalf("Parse(element %d) error %T; want *ObjectError", i, err)
			}
		}
		if first == nil {
			first = oe
		}
	}
}

// fileID reads the id member the way any JSON reader would.
func fileID(t *testing.T, data []byte) string {
	t.Helper()
	var m struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(data, &m); err != nil || m.ID == "" {
		t.Fatalf("cannot read the id of the test object: %v", err)
	}
	return m.ID
}
