// Package web is the analyst's console: a server-rendered web interface,
// served by the node on its users' HTTPS listener, in which the node's own
// users browse and search what their clearance allows, see each object's
// label and the release decision for every partner with its reasons,
// publish STIX under a label after a release preview, search the audit log
// and check an entry's inclusion proof in their browser, and read the
// node's agreements and partner cards.
//
// The package owns the console's pages, sessions, CSRF protection and
// security headers, and the rule that nothing about an object reaches a
// user unless the release engine allows that user the object: every list,
// count, search result, page, fragment and download is decided for
// access.Recipient(user) before anything is written, and an object a user
// may not see answers exactly like one that does not exist.
//
// It MUST NOT decide releases itself, store objects other than through the
// Publisher, or know how the node is wired: it reads the node through the
// small interfaces of Config, which cmd/tearline implements.
//
// Everything the browser loads (templates, style sheet, script) is embedded
// in the binary and served from the node; pages carry a strict Content
// Security Policy and no inline script or style.
package web
