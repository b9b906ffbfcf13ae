package main

import (
	"strings"
	"testing"
)

// TestExerciseRecall plays a recall on three real nodes: GBR's object
// reaches USA and CAN, GBR recalls it, and both purge it.
func TestExerciseRecall(t *testing.T) {
	out, errs, code := run(t, "", "exercise", "run", "testdata/recall.yaml", "--speed", "5")
	if code != 0 || !strings.Contains(out, "PASSED: 5 expectations met, 0 missed, 0 policy violations") {
		t.Fatalf("exercise run: exit %d\n%s%s", code, out, errs)
	}
}
