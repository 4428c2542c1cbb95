package webapi

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/eventual-pp/eventual/codec"
)

// preferences are the Prefer header values the Web API honours.
type preferences struct {
	returnRepresentation bool
	maxPageSize          int // 0 when absent or invalid
	maxPageSizeRaw       string
	trackChanges         bool
	continueOnError      bool
	annotations          annotationFilter
	annotationsRaw       string
}

// annotationFilter matches annotation names against the patterns of
// odata.include-annotations ("*", "Microsoft.Dynamics.CRM.*",
// "OData.Community.Display.V1.FormattedValue", "-name" to exclude).
type annotationFilter struct {
	include, exclude []string
}

func (f annotationFilter) any() bool { return len(f.include) > 0 }

func (f annotationFilter) match(name string) bool {
	m := func(patterns []string) bool {
		for _, p := range patterns {
			if p == "*" || p == name || (strings.HasSuffix(p, "*") && strings.HasPrefix(name, strings.TrimSuffix(p, "*"))) {
				return true
			}
		}
		return false
	}
	return m(f.include) && !m(f.exclude)
}

// Annotation names.
const (
	annFormatted   = codec.AnnotationFormatted
	annLookupTable = codec.AnnotationLookupTable
	annLookupNav   = codec.AnnotationLookupNav
	annTotal       = "Microsoft.Dynamics.CRM.totalrecordcount"
	annTotalLimit  = "Microsoft.Dynamics.CRM.totalrecordcountlimitexceeded"
	annMetaVersion = "Microsoft.Dynamics.CRM.globalmetadataversion"
)

// MaxPageSize is the largest page Dataverse returns.
const MaxPageSize = 5000

// parsePrefer reads every Prefer header; preferences are comma-separated,
// and values may be quoted.
func parsePrefer(h http.Header) preferences {
	var p preferences
	for _, line := range h.Values("Prefer") {
		for _, item := range splitPrefer(line) {
			name, value, _ := strings.Cut(strings.TrimSpace(item), "=")
			name = strings.ToLower(strings.TrimSpace(name))
			value = strings.TrimSpace(value)
			switch name {
			case "return":
				p.returnRepresentation = strings.EqualFold(value, "representation")
			case "odata.maxpagesize":
				if n, err := strconv.Atoi(strings.Trim(value, `"`)); err == nil && n > 0 {
					p.maxPageSize = min(n, MaxPageSize)
					p.maxPageSizeRaw = strconv.Itoa(p.maxPageSize)
				}
			case "odata.track-changes":
				p.trackChanges = true
			case "odata.continue-on-error":
				p.continueOnError = true
			case "odata.include-annotations":
				p.annotationsRaw = value
				for _, pat := range strings.Split(strings.Trim(value, `"`), ",") {
					pat = strings.TrimSpace(pat)
					if pat == "" {
						continue
					}
					if strings.HasPrefix(pat, "-") {
						p.annotations.exclude = append(p.annotations.exclude, pat[1:])
					} else {
						p.annotations.include = append(p.annotations.include, pat)
					}
				}
			}
		}
	}
	return p
}

// splitPrefer splits a Prefer header on commas outside quotes.
func splitPrefer(s string) []string {
	var out []string
	start, quoted := 0, false
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '"':
			quoted = !quoted
		case ',':
			if !quoted {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	return append(out, s[start:])
}
