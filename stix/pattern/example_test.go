package pattern_test

import (
	"fmt"

	"github.com/tearline/tearline/stix/pattern"
)

// Extract the observables a pattern names, for correlation: positive
// equalities on strings, and the members of positive IN sets.
func ExamplePattern_Comparisons() {
	p, err := pattern.Parse(`([ipv4-addr:value = '198.51.100.7' OR domain-name:value = 'c2.example'] FOLLOWEDBY ` +
		`[file:hashes.'SHA-256' = 'aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f' AND file:size > 1024]) WITHIN 600 SECONDS ` +
		`OR [url:value IN ('http://a.example/x', 'http://b.example/y')] OR [email-addr:value NOT = 'ceo@example.com']`)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, c := range p.Comparisons() {
		if c.Negated || (c.Op != pattern.Equal && c.Op != pattern.In) {
			continue
		}
		for _, v := range c.Value.Values() {
			if v.Kind == pattern.String {
				fmt.Printf("%s %s %s\n", c.Path.ObjectType, c.Path.Property(), v.Str)
			}
		}
	}
	// Output:
	// ipv4-addr value 198.51.100.7
	// domain-name value c2.example
	// file hashes.'SHA-256' aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f
	// url value http://a.example/x
	// url value http://b.example/y
}

func ExampleParse() {
	p, err := pattern.Parse(`[file:name == 'a.exe']  AND([file:size>1024])`)
	fmt.Println(p, err)

	_, err = pattern.Parse(`[file:name = 'a.exe'] WITHIN 5 MINUTES`)
	fmt.Println(err)
	// Output:
	// [file:name = 'a.exe'] AND [file:size > 1024] <nil>
	// pattern: at offset 31: expected SECONDS after WITHIN 5, found "MINUTES"
}
