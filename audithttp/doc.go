// Package audithttp is net/http middleware that puts what the audit trail
// records about a request into its context: the authenticated user as the
// actor (sqlaudit.WithActor) and the request id in the metadata
// (sqlaudit.WithMetadata, key "request_id"), so that every audited write a
// handler makes is recorded with them.
//
//	mux := http.NewServeMux()
//	…
//	h := audithttp.Middleware(audithttp.Options{
//		User: func(r *http.Request) string { return currentUser(r) }, // your authentication
//	})(mux)
//	http.ListenAndServe(addr, requireLogin(h))
//
// The request id comes from the X-Request-Id header (Options.RequestIDHeader)
// when the client or a proxy sent a sensible one, else it is made up; either
// way it is echoed in the response's header and available to handlers
// through RequestID. Mount the middleware inside the authentication, so that
// User can read what it established.
package audithttp
