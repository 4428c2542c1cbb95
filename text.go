package eventual

import (
	"errors"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// Text values: how long they are and which ones a column can hold.
//
// Dataverse measures the MaxLength of string and memo columns in UTF-16
// code units, the unit of SQL Server's nvarchar and of .NET strings: a
// character outside the Basic Multilingual Plane (most emoji) takes two.
// Every check or truncation against MaxLength goes through UTF16Len and
// TruncateUTF16, so that a value eventual accepts is one Dataverse
// accepts.

// UTF16Len returns the length of s in UTF-16 code units. Each invalid
// UTF-8 byte counts as one unit (it would be replaced by U+FFFD).
func UTF16Len(s string) int {
	n := 0
	for _, r := range s {
		n += utf16.RuneLen(r)
	}
	return n
}

// TruncateUTF16 returns the longest prefix of s that is at most n UTF-16
// code units long. It never cuts a character in two: a character that
// would need a surrogate pair across the limit is left out whole.
func TruncateUTF16(s string, n int) string {
	units := 0
	for i, r := range s {
		units += utf16.RuneLen(r)
		if units > n {
			return s[:i]
		}
	}
	return s
}

// Errors of ValidText.
var (
	// ErrInvalidUTF8 means a text value is not valid UTF-8.
	ErrInvalidUTF8 = errors.New("not valid UTF-8 text")
	// ErrNUL means a text value contains the character U+0000, which
	// PostgreSQL text cannot store and which no client means to send.
	ErrNUL = errors.New("contains the character U+0000 (NUL)")
)

// ValidText returns an error (ErrInvalidUTF8 or ErrNUL) unless s can be
// stored as a text value on every store: valid UTF-8 without U+0000. The
// instance checks every string and memo value with it before a store sees
// it, so that bad text gets the same 400 on SQLite and PostgreSQL.
func ValidText(s string) error {
	if !utf8.ValidString(s) {
		return ErrInvalidUTF8
	}
	if strings.IndexByte(s, 0) >= 0 {
		return ErrNUL
	}
	return nil
}
