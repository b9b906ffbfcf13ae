// Package analytics owns Tearline's early-warning arithmetic: observables
// (the matchable values that indicators and cyber-observables name), an
// in-memory index that correlates them across documents and partners,
// corroboration by independent originators, a documented confidence score
// that combines the STIX confidence, the Admiralty source grading,
// corroboration and age, and, on top of them, the Corpus: the node's
// stored objects made ready for matching sightings, raising alerts with
// the actions PAP and IEP permit, detecting unusual rises in sighting
// rates and suggesting entities that partners report under different
// names.
//
// Everything a viewer learns from this package is computed over the
// documents that viewer may see: every Index query takes a Visibility,
// every Corpus query a View, and counts, corroboration, scores, rates and
// suggestions never reflect a document it hides. The package MUST NOT
// decide what a viewer may see: a View asks a Decider, which asks the
// release engine (package policy) or reads the release sets (package
// release). It reads the store only through the domain's interfaces (see
// Store) and knows nothing of transport: package analytics/webhook
// delivers alerts, and the web console reads a Subscription.
//
// Values come from partners, so every parser here treats its input as
// hostile: an invalid value is an error that names the value and the rule
// it breaks, never a panic.
//
// docs/confidence.md documents the confidence score and
// docs/early-warning.md the corpus, alerts, the detector and entity
// resolution.
package analytics
