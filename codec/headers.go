package codec

// HeaderAdoptPlaceholders is eventual's request header that lets the
// upserts of a request adopt placeholders (eventual.WithAdoptPlaceholders):
// with the value "true", an upsert by primary key whose alternate-key
// values match a placeholder turns the placeholder into the record with
// that key, instead of failing with the duplicate-key error. Dataverse has
// no such header and ignores it; the sync sends it, and eventual's server
// reads it.
const HeaderAdoptPlaceholders = "x-eventual-adopt-placeholders"
