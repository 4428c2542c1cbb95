package eventual

import "context"

const adoptKey ctxKey = correlationKey + 100

// WithAdoptPlaceholders returns a context whose upserts by primary key
// adopt a placeholder holding the record's alternate key under another
// id: the placeholder takes the record's id, and lookups follow (the Web
// API's x-eventual-adopt-placeholders request header). The sync sets it
// when its target is eventual.
func WithAdoptPlaceholders(ctx context.Context) context.Context {
	return context.WithValue(ctx, adoptKey, true)
}

// AdoptPlaceholders reports whether WithAdoptPlaceholders marked the
// context.
func AdoptPlaceholders(ctx context.Context) bool {
	v, _ := ctx.Value(adoptKey).(bool)
	return v
}
