package audithttp

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"maps"
	"net/http"

	"github.com/sqlaudit/sqlaudit"
)

// DefaultRequestIDHeader is the header read and written for the request id.
const DefaultRequestIDHeader = "X-Request-Id"

// MetadataKey is the metadata key of the request id.
const MetadataKey = "request_id"

// Options configure Middleware. The zero value records no actor and the
// request id only.
type Options struct {
	// User returns the authenticated user of a request, recorded as the
	// actor of its writes; "" (or a nil User) records none.
	User func(*http.Request) string
	// RequestIDHeader names the header of the request id (default
	// X-Request-Id).
	RequestIDHeader string
	// Metadata, when set, returns more metadata for a request's records
	// (a tenant, the client address …); values must be JSON-encodable. The
	// request id is added under MetadataKey.
	Metadata func(*http.Request) map[string]any
}

type requestIDKey struct{}

// RequestID returns the request id Middleware put into ctx, "" if none.
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// Middleware returns the middleware of opts: for each request it sets the
// actor, the request id and the metadata in the request's context and the
// request id in the response header, then calls next.
func Middleware(opts Options) func(http.Handler) http.Handler {
	header := opts.RequestIDHeader
	if header == "" {
		header = DefaultRequestIDHeader
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ctx := r.Context()
			if opts.User != nil {
				if user := opts.User(r); user != "" {
					ctx = sqlaudit.WithActor(ctx, user)
				}
			}
			id := r.Header.Get(header)
			if !sensible(id) {
				id = newID()
			}
			w.Header().Set(header, id)
			meta := map[string]any{}
			if opts.Metadata != nil {
				maps.Copy(meta, opts.Metadata(r))
			}
			meta[MetadataKey] = id
			ctx = sqlaudit.WithMetadata(context.WithValue(ctx, requestIDKey{}, id), meta)
			next.ServeHTTP(w, r.WithContext(ctx))
		})
	}
}

// sensible accepts an incoming id of 1 to 128 printable ASCII characters:
// anything else (a client's junk, a newline meant for a log) is replaced.
func sensible(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for i := 0; i < len(id); i++ {
		if id[i] < 0x21 || id[i] > 0x7e {
			return false
		}
	}
	return true
}

// newID is 16 random bytes in hex.
func newID() string {
	b := make([]byte, 16)
	rand.Read(b) // never fails (crypto/rand)
	return hex.EncodeToString(b)
}
