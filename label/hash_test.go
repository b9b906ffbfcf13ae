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
