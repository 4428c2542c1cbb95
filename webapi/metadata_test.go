package webapi_test

import (
	"encoding/xml"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

func TestServiceDocumentAndWhoAmI(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *testServer) {
		m := s.must(http.StatusOK, "GET", "", nil).JSON(t)
		if str(m, "@odata.context") != s.URL+"$metadata" {
			t.Errorf("context = %v", m["@odata.context"])
		}
		var sets []string
		for _, v := range m["value"].([]any) {
			e := v.(map[string]any)
			if e["kind"] != "EntitySet" || e["name"] != e["url"] {
				t.Errorf("service document entry %v", e)
			}
			sets = append(sets, str(e, "name"))
		}
		if strings.Join(sets, ",") != "accounts,asyncoperations,contacts,new_account_contacts,new_orders,systemusers,transactioncurrencies" {
			t.Errorf("entity sets = %v", sets)
		}
		w := s.must(http.StatusOK, "GET", "WhoAmI()", nil).JSON(t)
		meta := s.Store.Meta()
		if str(w, "UserId") != meta.UserID.String() || str(w, "BusinessUnitId") != meta.BusinessUnitID.String() ||
			str(w, "OrganizationId") != meta.OrganizationID.String() ||
			str(w, "@odata.context") != s.URL+"$metadata#Microsoft.Dynamics.CRM.WhoAmIResponse" {
			t.Errorf("WhoAmI = %v", w)
		}
		// A function without parameters may be called by its name alone
		// (use-web-api-functions.md).
		if w2 := s.must(http.StatusOK, "GET", "WhoAmI", nil).JSON(t); str(w2, "UserId") != meta.UserID.String() ||
			str(w2, "@odata.context") != s.URL+"$metadata#Microsoft.Dynamics.CRM.WhoAmIResponse" {
			t.Errorf("WhoAmI without parentheses = %v", w2)
		}
		expectError(t, s.do("GET", "WhoAmI(x=1)", nil), http.StatusBadRequest, "0x80060888", "The function 'WhoAmI' does not have a parameter named 'x'.")
		expectError(t, s.do("GET", "WhoAmI(1)", nil), http.StatusBadRequest, "0x80060888", "The function 'WhoAmI' does not take parameters")
		expectError(t, s.do("POST", "WhoAmI", nil), http.StatusNotFound, "", "No HTTP resource was found that matches the request URI")
		// RetrieveVersion (the Web API function reference): a version of
		// four numeric parts, which clients parse.
		for _, call := range []string{"RetrieveVersion()", "RetrieveVersion"} {
			v := s.must(http.StatusOK, "GET", call, nil).JSON(t)
			parts := strings.Split(str(v, "Version"), ".")
			numeric := len(parts) == 4
			for _, p := range parts {
				if _, err := strconv.Atoi(p); err != nil {
					numeric = false
				}
			}
			if !numeric || !strings.HasPrefix(str(v, "Version"), "9.2.") || str(v, "@odata.context") != s.URL+"$metadata#Microsoft.Dynamics.CRM.RetrieveVersionResponse" {
				t.Errorf("%s = %v", call, v)
			}
		}
		expectError(t, s.do("POST", "RetrieveVersion()", nil), http.StatusNotFound, "", "No HTTP resource was found that matches the request URI")
		if doc := s.must(http.StatusOK, "GET", "$metadata", nil).Body; !strings.Contains(string(doc), `<FunctionImport Name="RetrieveVersion" Function="Microsoft.Dynamics.CRM.RetrieveVersion" />`) {
			t.Error("$metadata does not declare RetrieveVersion")
		}
		// Older versions of the URL work too.
		s.must(http.StatusOK, "GET", strings.Replace(s.URL, "v9.2", "v9.1", 1)+"WhoAmI()", nil)
		s.must(http.StatusOK, "GET", strings.Replace(s.URL, "v9.2", "v9.0", 1)+"accounts", nil)
	})
}

// csdl is the part of a CSDL document the tests read.
type csdl struct {
	Schemas []struct {
		Namespace   string `xml:"Namespace,attr"`
		Alias       string `xml:"Alias,attr"`
		EntityTypes []struct {
			Name     string `xml:"Name,attr"`
			BaseType string `xml:"BaseType,attr"`
			Key      struct {
				Refs []struct {
					Name string `xml:"Name,attr"`
				} `xml:"PropertyRef"`
			} `xml:"Key"`
			Properties []struct {
				Name string `xml:"Name,attr"`
				Type string `xml:"Type,attr"`
			} `xml:"Property"`
			Navs []struct {
				Name    string `xml:"Name,attr"`
				Type    string `xml:"Type,attr"`
				Partner string `xml:"Partner,attr"`
			} `xml:"NavigationProperty"`
		} `xml:"EntityType"`
		Container struct {
			Name string `xml:"Name,attr"`
			Sets []struct {
				Name       string `xml:"Name,attr"`
				EntityType string `xml:"EntityType,attr"`
			} `xml:"EntitySet"`
		} `xml:"EntityContainer"`
	} `xml:"DataServices>Schema"`
}

func TestMetadataDocument(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *testServer) {
		r := s.must(http.StatusOK, "GET", "$metadata", nil)
		if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/xml") {
			t.Errorf("Content-Type = %q", r.Header.Get("Content-Type"))
		}
		var doc csdl
		if err := xml.Unmarshal(r.Body, &doc); err != nil {
			t.Fatalf("$metadata is not XML: %v", err)
		}
		if len(doc.Schemas) != 1 || doc.Schemas[0].Namespace != "Microsoft.Dynamics.CRM" || doc.Schemas[0].Alias != "mscrm" {
			t.Fatalf("schema: %+v", doc.Schemas)
		}
		sc := doc.Schemas[0]
		types := map[string]map[string]string{}
		navs := map[string]map[string]string{}
		for _, et := range sc.EntityTypes {
			types[et.Name] = map[string]string{}
			navs[et.Name] = map[string]string{}
			for _, p := range et.Properties {
				types[et.Name][p.Name] = p.Type
			}
			for _, n := range et.Navs {
				navs[et.Name][n.Name] = n.Type
			}
			if et.Name == "account" && (len(et.Key.Refs) != 1 || et.Key.Refs[0].Name != "accountid" || et.BaseType != "mscrm.crmbaseentity") {
				t.Errorf("account key/base: %+v", et)
			}
		}
		for prop, want := range map[string]string{"accountid": "Edm.Guid", "name": "Edm.String", "revenue": "Edm.Decimal",
			"numberofemployees": "Edm.Int32", "createdon": "Edm.DateTimeOffset", "_primarycontactid_value": "Edm.Guid", "versionnumber": "Edm.Int64"} {
			if types["account"][prop] != want {
				t.Errorf("account.%s type %q, want %q", prop, types["account"][prop], want)
			}
		}
		if types["contact"]["birthdate"] != "Edm.Date" {
			t.Errorf("contact.birthdate type %q, want Edm.Date", types["contact"]["birthdate"])
		}
		if navs["account"]["primarycontactid"] != "mscrm.contact" || navs["account"]["contact_customer_accounts"] != "Collection(mscrm.contact)" ||
			navs["contact"]["parentcustomerid_account"] != "mscrm.account" || navs["contact"]["parentcustomerid_contact"] != "mscrm.contact" {
			t.Errorf("navigation properties: %v %v", navs["account"], navs["contact"])
		}
		if sc.Container.Name != "System" || len(sc.Container.Sets) != 7 || sc.Container.Sets[0].EntityType != "Microsoft.Dynamics.CRM.account" {
			t.Errorf("container: %+v", sc.Container)
		}
		if !strings.Contains(string(r.Body), `<PropertyValue Property="Name" PropertyPath="accountnumber" />`) {
			t.Errorf("$metadata lacks the alternate key annotation of account")
		}
	})
}

func TestEntityDefinitions(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *testServer) {
		m := s.must(http.StatusOK, "GET", "EntityDefinitions(LogicalName='account')", nil).JSON(t)
		if str(m, "@odata.context") != s.URL+"$metadata#EntityDefinitions/$entity" || m["EntitySetName"] != "accounts" ||
			m["PrimaryIdAttribute"] != "accountid" || m["PrimaryNameAttribute"] != "name" || m["ChangeTrackingEnabled"] != true {
			t.Errorf("EntityDefinitions(LogicalName='account') = %v", m)
		}
		id := str(m, "MetadataId")
		m2 := s.must(http.StatusOK, "GET", "EntityDefinitions("+id+")?$select=LogicalName", nil).JSON(t)
		if m2["LogicalName"] != "account" || str(m2, "MetadataId") != id || len(m2) != 3 {
			t.Errorf("by MetadataId with $select: %v", m2)
		}
		recs := s.must(http.StatusOK, "GET", "EntityDefinitions?$select=LogicalName,EntitySetName,PrimaryIdAttribute&$filter=LogicalName%20eq%20'contact'", nil).Value(t)
		if len(recs) != 1 || recs[0]["EntitySetName"] != "contacts" {
			t.Errorf("filtered EntityDefinitions: %v", recs)
		}
		m = s.must(http.StatusOK, "GET", "EntityDefinitions(LogicalName='contact')?$select=SchemaName&$expand=Keys($select=KeyAttributes)", nil).JSON(t)
		keys := m["Keys"].([]any)
		if len(keys) != 1 || strings.Join(toStrings(keys[0].(map[string]any)["KeyAttributes"]), ",") != "firstname,emailaddress1" {
			t.Errorf("Keys = %v", keys)
		}
		attrs := s.must(http.StatusOK, "GET", "EntityDefinitions(LogicalName='account')/Attributes?$filter=LogicalName%20eq%20'revenue'", nil).Value(t)
		if len(attrs) != 1 || attrs[0]["AttributeType"] != "Money" || attrs[0]["@odata.type"] != "#Microsoft.Dynamics.CRM.MoneyAttributeMetadata" {
			t.Errorf("Attributes filter: %v", attrs)
		}
		a := s.must(http.StatusOK, "GET", "EntityDefinitions(LogicalName='account')/Attributes(LogicalName='name')", nil).JSON(t)
		if a["MaxLength"] == nil || a["IsPrimaryName"] != true {
			t.Errorf("Attributes(LogicalName='name') = %v", a)
		}
		expectError(t, s.do("GET", "EntityDefinitions(LogicalName='nosuch')", nil), http.StatusNotFound, "", "")
	})
}

// TestEntityDefinitionsTypes checks properties and type casts of metadata
// items: AttributeOf is an AttributeMetadata property (null for columns
// that are not virtual), and a cast keeps the items of that type or a
// type derived from it. Errors are in TestBadInput/Metadata.
func TestEntityDefinitionsTypes(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *testServer) {
		const account = "EntityDefinitions(LogicalName='account')"
		a := s.must(http.StatusOK, "GET", account+"/Attributes(LogicalName='name')?$select=AttributeOf", nil).JSON(t)
		if v, ok := a["AttributeOf"]; !ok || v != nil || str(a, "MetadataId") == "" {
			t.Errorf("$select=AttributeOf = %v", a)
		}
		attrs := s.must(http.StatusOK, "GET", account+"/Attributes?$select=LogicalName,AttributeOf,IsLogical", nil).Value(t)
		if len(attrs) < 10 {
			t.Fatalf("account has %d attributes", len(attrs))
		}
		names := func(items []map[string]any) string {
			var out []string
			for _, it := range items {
				out = append(out, str(it, "LogicalName"))
			}
			return strings.Join(out, ",")
		}
		byType := func(cast string) []map[string]any {
			return s.must(http.StatusOK, "GET", account+"/Attributes/Microsoft.Dynamics.CRM."+cast+"?$select=LogicalName", nil).Value(t)
		}
		if got := names(byType("PicklistAttributeMetadata")); got != "eventual_hydrationstate,accountcategorycode" {
			t.Errorf("PicklistAttributeMetadata = %s, want eventual_hydrationstate,accountcategorycode (statecode and statuscode are State and Status)", got)
		}
		if got := names(byType("StateAttributeMetadata")); got != "statecode" {
			t.Errorf("StateAttributeMetadata = %s", got)
		}
		if got := names(byType("EnumAttributeMetadata")); got != "statecode,statuscode,eventual_hydrationstate,accountcategorycode" {
			t.Errorf("EnumAttributeMetadata = %s", got)
		}
		if got := byType("AttributeMetadata"); len(got) != len(attrs) {
			t.Errorf("AttributeMetadata cast kept %d of %d attributes", len(got), len(attrs))
		}
		if got := byType("ImageAttributeMetadata"); len(got) != 0 {
			t.Errorf("ImageAttributeMetadata = %v, want none", got)
		}
		for _, it := range s.must(http.StatusOK, "GET", account+"/Attributes/Microsoft.Dynamics.CRM.StringAttributeMetadata?$select=MaxLength", nil).Value(t) {
			if it["MaxLength"] == nil || it["@odata.type"] != "#Microsoft.Dynamics.CRM.StringAttributeMetadata" {
				t.Errorf("StringAttributeMetadata item %v", it)
			}
		}
		if st := s.must(http.StatusOK, "GET", account+"/Attributes(LogicalName='statuscode')", nil).JSON(t); st["@odata.type"] != "#Microsoft.Dynamics.CRM.StatusAttributeMetadata" || st["AttributeType"] != "Status" {
			t.Errorf("statuscode = %v", st)
		}
		one := s.must(http.StatusOK, "GET", account+"/Attributes(LogicalName='name')/Microsoft.Dynamics.CRM.StringAttributeMetadata?$select=MaxLength", nil).JSON(t)
		if one["MaxLength"] == nil {
			t.Errorf("cast single attribute = %v", one)
		}
		if keys := s.must(http.StatusOK, "GET", account+"/Keys/Microsoft.Dynamics.CRM.EntityKeyMetadata", nil).Value(t); len(keys) != 1 {
			t.Errorf("Keys cast = %v", keys)
		}
		rels := s.must(http.StatusOK, "GET", account+"/OneToManyRelationships/Microsoft.Dynamics.CRM.OneToManyRelationshipMetadata?$select=SchemaName", nil).Value(t)
		if len(rels) == 0 {
			t.Errorf("OneToManyRelationships cast kept nothing")
		}
	})
}

func toStrings(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	return out
}
