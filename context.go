package sqlaudit

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
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

// who renders the actor and metadata of ctx as statement arguments: nil for
// SQL NULL, strings otherwise.
func who(ctx context.Context) (actor, metadata any, err error) {
	if a, ok := ActorFrom(ctx); ok {
		actor = a
	}
	if m := MetadataFrom(ctx); m != nil {
		b, err := json.Marshal(m)
		if err != nil {
			return nil, nil, fmt.Errorf("sqlaudit: metadata from WithMetadata is not JSON-encodable: %w", err)
		}
		metadata = string(b)
	}
	return actor, metadata, nil
}
