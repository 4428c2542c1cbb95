package webapi

import (
	"encoding/xml"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/eventual-pp/eventual"
	"github.com/google/uuid"
)

// A $skiptoken has Dataverse's shape, a paging cookie inside a cookie:
//
//	<cookie pagenumber="2" pagingcookie="%3ccookie%20page%3d%221%22%3e...%3c%2fcookie%3e" istracking="False" />
//
// The inner cookie holds the keyset of the last row returned: one element
// per $orderby column with its value, then the primary key, so the next
// page starts strictly after that row whatever was inserted meanwhile.
// Clients treat the token as opaque and must not edit it.

// cursor is the decoded position of a paging cookie.
type cursor struct {
	page      int   // the page just returned
	after     []any // sort keys of the last row, then its primary key
	first     uuid.UUID
	remaining int // rows left under $top; 0 means no $top

	// Change tracking: token is the delta token to hand out when the last
	// page is reached; since is the token a delta started from (empty for
	// the initial read); deleted marks a cursor among deletions.
	tracking bool
	token    string
	since    string
	deleted  bool
}

func lowerEscape(s string) string { return percentEscape(s, "0123456789abcdef", "") }

func isUnreserved(c byte) bool {
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' || c == '~'
}

// upperEscape escapes for the query string, keeping '=' as Dataverse does.
func upperEscape(s string) string { return percentEscape(s, "0123456789ABCDEF", "=") }

// percentEscape percent-encodes every byte of s but the unreserved ones
// and those in keep, with the hex digits given.
func percentEscape(s, hex, keep string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if isUnreserved(c) || strings.IndexByte(keep, c) >= 0 {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}

func xmlAttr(s string) string {
	var b strings.Builder
	xml.EscapeText(&b, []byte(s))
	return strings.ReplaceAll(b.String(), `"`, "&#34;")
}

// sortKeyText formats a sort-key value for the cookie.
func sortKeyText(v any) string {
	switch x := v.(type) {
	case time.Time:
		return x.UTC().Format(time.RFC3339)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case eventual.EntityReference:
		return x.ID.String()
	}
	return fmt.Sprint(v)
}

// encodeSkipToken returns the $skiptoken value (unescaped) that continues
// after the last record of a page.
func encodeSkipToken(t *eventual.Table, order []eventual.Order, c cursor) string {
	tracking := "False"
	if c.tracking {
		tracking = "True"
	}
	return fmt.Sprintf(`<cookie pagenumber="%d" pagingcookie="%s" istracking="%s" />`, c.page+1, lowerEscape(innerCookie(t, order, c)), tracking)
}

// innerCookie is the paging cookie proper, <cookie page="1">…</cookie>:
// the sort keys and the primary key of the last row returned, as
// Dataverse writes it (FetchXML's paging-cookie takes it as it is).
func innerCookie(t *eventual.Table, order []eventual.Order, c cursor) string {
	var in strings.Builder
	fmt.Fprintf(&in, `<cookie page="%d"`, c.page)
	if c.remaining > 0 {
		fmt.Fprintf(&in, ` top="%d"`, c.remaining)
	}
	if c.tracking {
		fmt.Fprintf(&in, ` token="%s"`, xmlAttr(c.token))
		if c.since != "" {
			fmt.Fprintf(&in, ` since="%s"`, xmlAttr(c.since))
		}
		if c.deleted {
			in.WriteString(` deleted="1"`)
		}
	}
	in.WriteString(">")
	for i, o := range order {
		v := c.after[i]
		if v == nil {
			fmt.Fprintf(&in, `<%s isnull="1" />`, o.Column.LogicalName)
			continue
		}
		fmt.Fprintf(&in, `<%s last="%s" />`, o.Column.LogicalName, xmlAttr(sortKeyText(v)))
	}
	last := c.after[len(c.after)-1].(uuid.UUID)
	fmt.Fprintf(&in, `<%s last="{%s}" first="{%s}" />`, t.PrimaryIDAttribute,
		strings.ToUpper(last.String()), strings.ToUpper(c.first.String()))
	in.WriteString("</cookie>")
	return in.String()
}

func errSkipToken() error {
	return errBadRequest("The $skiptoken value is not valid for this query. Send the @odata.nextLink of the previous page unchanged, with the same odata.maxpagesize.")
}

// decodeSkipToken parses a $skiptoken for a query with the given order.
func decodeSkipToken(t *eventual.Table, order []eventual.Order, token string) (cursor, error) {
	var outer struct {
		PageNumber   int    `xml:"pagenumber,attr"`
		PagingCookie string `xml:"pagingcookie,attr"`
	}
	if err := xml.Unmarshal([]byte(token), &outer); err != nil || outer.PageNumber < 2 {
		return cursor{}, errSkipToken()
	}
	inner, err := url.PathUnescape(outer.PagingCookie)
	if err != nil {
		return cursor{}, errSkipToken()
	}
	return cookieCursor(t, order, inner, outer.PageNumber-1)
}

// cookieCursor reads an inner paging cookie (innerCookie) for a query
// with the given order, after the page it names.
func cookieCursor(t *eventual.Table, order []eventual.Order, inner string, page int) (cursor, error) {
	c := cursor{page: page}
	elems, err := c.readCookie(inner, len(order)+1)
	if err != nil {
		return cursor{}, err
	}
	for i, o := range order {
		v, err := sortKeyOf(elems[i], o)
		if err != nil {
			return cursor{}, err
		}
		c.after = append(c.after, v)
	}
	pk := elems[len(order)]
	lastText, ok := attrValue(pk, "last")
	if pk.Name.Local != t.PrimaryIDAttribute || !ok {
		return cursor{}, errSkipToken()
	}
	id, err := uuid.Parse(strings.Trim(lastText, "{}"))
	if err != nil {
		return cursor{}, errSkipToken()
	}
	if firstText, ok := attrValue(pk, "first"); ok {
		c.first, _ = uuid.Parse(strings.Trim(firstText, "{}"))
	}
	c.after = append(c.after, id)
	return c, nil
}

// readCookie reads a paging cookie: the <cookie> element, whose attributes
// it sets on c, and exactly n elements inside it (one per sort column, then
// the primary key), which it returns.
func (c *cursor) readCookie(cookie string, n int) ([]xml.StartElement, error) {
	dec := xml.NewDecoder(strings.NewReader(cookie))
	var elems []xml.StartElement
	rootSeen := false
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, errSkipToken()
		}
		se, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		if !rootSeen {
			if se.Name.Local != "cookie" {
				return nil, errSkipToken()
			}
			rootSeen = true
			if err := c.setCookieAttrs(se.Attr); err != nil {
				return nil, err
			}
			continue
		}
		elems = append(elems, se)
		if len(elems) > n {
			return nil, errSkipToken()
		}
	}
	if len(elems) != n {
		return nil, errSkipToken()
	}
	return elems, nil
}

// setCookieAttrs reads the <cookie> element's attributes: the $top left,
// and the change-tracking state of a tracked read.
func (c *cursor) setCookieAttrs(attrs []xml.Attr) error {
	for _, a := range attrs {
		switch a.Name.Local {
		case "top":
			n, err := strconv.Atoi(a.Value)
			if err != nil || n <= 0 {
				return errSkipToken()
			}
			c.remaining = n
		case "token":
			c.tracking, c.token = true, a.Value
		case "since":
			c.since = a.Value
		case "deleted":
			c.deleted = a.Value == "1"
		}
	}
	return nil
}

// sortKeyOf reads the last value of a sort column from its cookie element:
// isnull="1" for null, else the value in last.
func sortKeyOf(se xml.StartElement, o eventual.Order) (any, error) {
	col := o.Column
	if se.Name.Local != col.LogicalName {
		return nil, errSkipToken()
	}
	if v, _ := attrValue(se, "isnull"); v == "1" {
		return nil, nil
	}
	text, ok := attrValue(se, "last")
	if !ok {
		return nil, errSkipToken()
	}
	if o.SortsAsText() {
		return text, nil
	}
	v, err := parseSortKey(col, text)
	if err != nil {
		return nil, errSkipToken()
	}
	return v, nil
}

// attrValue returns the value of an element's attribute.
func attrValue(se xml.StartElement, name string) (string, bool) {
	for _, a := range se.Attr {
		if a.Name.Local == name {
			return a.Value, true
		}
	}
	return "", false
}

func parseSortKey(c *eventual.Column, text string) (any, error) {
	switch c.Type {
	case eventual.TypeString, eventual.TypeMemo, eventual.TypeLookup, eventual.TypeCustomer:
		return text, nil
	case eventual.TypeInteger, eventual.TypeBigInt, eventual.TypeChoice:
		return strconv.ParseInt(text, 10, 64)
	case eventual.TypeDecimal, eventual.TypeMoney:
		return eventual.ParseDecimal(text, c.Precision)
	case eventual.TypeDouble:
		return strconv.ParseFloat(text, 64)
	case eventual.TypeBoolean:
		return strconv.ParseBool(text)
	case eventual.TypeDateTime:
		return time.Parse(time.RFC3339, text)
	case eventual.TypeUniqueIdentifier:
		return uuid.Parse(text)
	}
	return nil, fmt.Errorf("no sort key for %s", c.Type)
}

// nextLink returns the URL of the next page: the request URL with its
// query options kept verbatim and $skiptoken replaced.
func (q *request) nextLink(token string) string {
	var kept []string
	for _, p := range strings.Split(q.r.URL.RawQuery, "&") {
		if p == "" {
			continue
		}
		name, _, _ := strings.Cut(p, "=")
		if n, err := url.QueryUnescape(name); err == nil && n == "$skiptoken" {
			continue
		}
		kept = append(kept, p)
	}
	kept = append(kept, "$skiptoken="+upperEscape(token))
	return q.base + q.path + "?" + strings.Join(kept, "&")
}
