package codec

import (
	"strconv"
	"strings"
)

// ParseETag returns the row version in a weak ETag (W/"123"), or "*".
// It reports false for anything else.
func ParseETag(tag string) (string, bool) {
	tag = strings.TrimSpace(tag)
	if tag == "*" {
		return tag, true
	}
	tag = strings.TrimPrefix(tag, "W/")
	if len(tag) < 2 || tag[0] != '"' || tag[len(tag)-1] != '"' {
		return "", false
	}
	v := tag[1 : len(tag)-1]
	if _, err := strconv.ParseInt(v, 10, 64); err != nil {
		return "", false
	}
	return v, true
}

// ETag returns the weak ETag of a row version.
func ETag(version int64) string { return `W/"` + strconv.FormatInt(version, 10) + `"` }
