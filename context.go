package sqlaudit

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"

	"go.opentelemetry.io/otel/trace"
)

type actorKey struct{}
type metadataKey struct{}

// WithActor returns a context whose audited statements are recorded with
// actor as the acting user. Without it the record's actor is NULL.
func WithActor(ctx context.Context, actor string) context.Context {
	return context.WithValue(ctx, actorKey{}, actor)
}

// ActorFrom returns the actor set by WithActor, if any.
func ActorFrom(ctx context.Context) (string, bool) {
	a, ok := ctx.Value(actorKey{}).(string)
	return a, ok
}

// WithMetadata returns a context whose audited statements are recorded with
// kv, merged over metadata already in ctx, as the record's metadata JSON
// object (a request id, a client address …). Values must be JSON-encodable.
func WithMetadata(ctx context.Context, kv map[string]any) context.Context {
	merged := maps.Clone(MetadataFrom(ctx))
	if merged == nil {
		merged = make(map[string]any, len(kv))
	}
	maps.Copy(merged, kv)
	return context.WithValue(ctx, metadataKey{}, merged)
}

// MetadataFrom returns the metadata set by WithMetadata; the caller must not
// modify it.
func MetadataFrom(ctx context.Context) map[string]any {
	m, _ := ctx.Value(metadataKey{}).(map[string]any)
	return m
}

// Metadata keys the wrapper fills in itself from the context's
// OpenTelemetry span (unless Options.NoTrace): the trace and span ids as
// lower-case hex, as OpenTelemetry prints them.
const (
	TraceIDKey = "trace_id"
	SpanIDKey  = "span_id"
)

// who renders the actor and metadata of ctx as statement arguments: nil for
// SQL NULL, strings otherwise. With withTrace, a valid span context in ctx
// adds its ids to the metadata (a trace_id or span_id the application set
// with WithMetadata is kept as it set it).
func who(ctx context.Context, withTrace bool) (actor, metadata any, err error) {
	if a, ok := ActorFrom(ctx); ok {
		actor = a
	}
	m := MetadataFrom(ctx)
	if sc := trace.SpanContextFromContext(ctx); withTrace && sc.IsValid() {
		m = withSpan(m, sc)
	}
	if m != nil {
		b, err := json.Marshal(m)
		if err != nil {
			return nil, nil, fmt.Errorf("sqlaudit: metadata from WithMetadata is not JSON-encodable: %w", err)
		}
		metadata = string(b)
	}
	return actor, metadata, nil
}

// withSpan is m with the ids of sc added, m itself left unchanged (it is
// the context's, shared by every statement of it).
func withSpan(m map[string]any, sc trace.SpanContext) map[string]any {
	out := make(map[string]any, len(m)+2)
	out[TraceIDKey] = sc.TraceID().String()
	out[SpanIDKey] = sc.SpanID().String()
	maps.Copy(out, m)
	return out
}
