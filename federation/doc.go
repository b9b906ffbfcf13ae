// Package federation exchanges intelligence between partner nodes in near
// real time: each node keeps an outbox per partner, fed by its release sets
// (see package release and federation/mailbox), tells the partner when
// there is something for it (push), and the partner pulls sealed batches by
// cursor over mutual TLS. Nothing is lost, duplicated or over-shared:
//
//   - nothing leaves unless the release set allows it for the recipient at
//     the moment it is sent, and only inside an envelope sealed to that
//     recipient alone and signed by the sender (package envelope);
//   - the receiver verifies the envelope with the keys on the sender's
//     pinned card, checks each object's label against the label bound to
//     it and that the sender was entitled to send it (originator,
//     pre-authorised by the label, or consent), and stores what passes
//     through package ingest, with its provenance: a version passed on by
//     a holder comes with the signed proof of every hop it came by from its
//     source, which the receiver verifies, stores and passes on with its
//     own hop (provenance.go);
//   - the receiver's cursor for the sender advances in the transaction that
//     stores the batch, so a batch is applied exactly once, in order, across
//     crashes and retries; refusals are recorded in both nodes' audit logs;
//   - links back off exponentially across outages and resume where they
//     stopped; batches and the work in flight are bounded, so a slow partner
//     cannot make a node hold unbounded memory.
//
// The package owns the sync protocol (protocol.go), the sending and
// receiving checks, and the link loops. It MUST NOT decide releases (the
// release sets do), parse envelopes itself (package envelope does), or
// write to the store other than through the interfaces of store.go and
// package ingest.
package federation
