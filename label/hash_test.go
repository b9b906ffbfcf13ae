package label

import "testing"

func TestHash(t *testing.T) {
	a, err := Parse("SECRET//REL TO GBR, USA, FVEY")
	if err != nil {
		t.Fatal(err)
	}
	b, err := Parse("secret//rel to usa, fvey, gbr")
	if err != nil {
		t.Fatal(err)
	}
	c, err := Parse("SECRET//REL TO USA, GBR")
	if err != nil {
		t.Fatal(err)
	}
	if Hash(a) != Hash(b) {
		t.Errorf("Hash differs for the same label written in another order")
	}
	if Hash(a) == Hash(c) {
		t.Errorf("Hash(%s) == Hash(%s); want different hashes", Format(a), Format(c))
	}
}

func TestBuiltin(t *testing.T) {
	for id, want := range map[string]bool{
		"marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9": true,  // TLP 1.0 WHITE
		"marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003": true,  // TLP 2.0 AMBER+STRICT
		"marking-definition--99999999-9999-4999-8999-999999999999": false, // anyone's own
	} {
		if got := Builtin(id); got != want {
			t.Errorf("Builtin(%s) = %v; want %v", id, got, want)
		}
	}
}
