// Package analytics owns Tearline's early-warning arithmetic: observables
// (the matchable values that indicators and cyber-observables name), an
// in-memory index that correlates them across documents and partners,
// corroboration by independent originators, and a documented confidence
// score that combines the STIX confidence, the Admiralty source grading,
// corroboration and age.
//
// Everything a viewer learns from this package is computed over the
// documents that viewer may see: every query takes a Visibility, and counts,
// corroboration and scores never reflect a document it hides. The package
// MUST NOT decide what a viewer may see (package policy does) and knows
// nothing of storage or transport: its owner rebuilds the index from the
// store at start and keeps it current with Add and Remove.
//
// Values come from partners, so every parser here treats its input as
// hostile: an invalid value is an error that names the value and the rule
// it breaks, never a panic.
package analytics
