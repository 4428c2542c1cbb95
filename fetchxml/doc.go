// Package fetchxml reads FetchXML, Dataverse's XML query language (the
// fetchXml parameter of the Web API, views, reports and Power Automate's
// "List rows"), into the query the rest of eventual runs: the same
// eventual.Query, eventual.Expr and eventual.Expand that $filter, $orderby
// and $expand bind to, so that both share one SQL renderer in the stores.
//
// Parse checks a query against a schema the way Dataverse does: unknown
// tables, columns, operators and values are errors with Dataverse's codes,
// and the standard library's XML decoder (strict, depth- and size-bounded)
// reads the text. Supported: fetch (top, count, page, paging-cookie,
// returntotalrecordcount, distinct, aggregate), entity, attribute,
// all-attributes, order (also of link-entities, and by entityname),
// filter (and/or, nested, holding link-entities of the filter link
// types), condition (the comparison, text, list, null, date, hierarchy
// and eq-userid operators, valueof, entityname applied after the join),
// and link-entity over many-to-one and one-to-many relationships (inner,
// outer, matchfirstrowusingcrossapply, exists, in, any, not any, all, not
// all). aggregate="true" becomes an eventual.Aggregate, joining one
// one-to-many link when the query has one.
//
// What a link-entity returns is described, not run: Fetch.Links says which
// related columns each row carries under "alias.column"; the Web API
// reads them through expansions and flattens them into its rows.
package fetchxml
