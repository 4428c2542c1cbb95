package webapi_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"

	"github.com/eventual-pp/eventual/instance"
)

// TestCurrency: money is in a currency (the base one, US dollars, unless
// a write binds another); the instance keeps exchangerate and each money
// column's _base value on create, update and upsert, converting at the
// currency's rate when the money is written, as Dataverse does.
func TestCurrency(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *testServer) {
		if err := s.Instance.EnsureBaseCurrency(context.Background()); err != nil {
			t.Fatal(err)
		}
		usd := instance.BaseCurrency.ID.String()
		read := func(id string) map[string]any {
			t.Helper()
			return s.must(http.StatusOK, "GET", "accounts("+id+")?$select=revenue,revenue_base,exchangerate,_transactioncurrencyid_value", nil,
				"Prefer", `odata.include-annotations="*"`).JSON(t)
		}
		check := func(what, id, cur, rate, revenue, base string) {
			t.Helper()
			r := read(id)
			if fmt.Sprint(r["_transactioncurrencyid_value"]) != cur || fmt.Sprint(r["exchangerate"]) != rate ||
				fmt.Sprint(r["revenue"]) != revenue || fmt.Sprint(r["revenue_base"]) != base {
				t.Errorf("%s: currency %v rate %v revenue %v base %v, want %s %s %s %s", what, r["_transactioncurrencyid_value"], r["exchangerate"], r["revenue"], r["revenue_base"], cur, rate, revenue, base)
			}
		}
		a := s.create("accounts", map[string]any{"name": "Dollars", "revenue": 1000})
		check("created in the base currency", a, usd, "1.0000000000", "1000.00", "1000.00")
		if r := read(a); r["_transactioncurrencyid_value@OData.Community.Display.V1.FormattedValue"] != "US Dollar" {
			t.Errorf("the currency's name: %v", r)
		}
		// A money column in $select brings the currency along
		// (select-columns.md), in a retrieve and in a query; other
		// columns do not.
		for _, u := range []string{"accounts(" + a + ")?$select=name,revenue", "accounts?$select=name,revenue&$filter=name%20eq%20'Dollars'"} {
			r := s.must(http.StatusOK, "GET", u, nil).JSON(t)
			if vals, ok := r["value"].([]any); ok && len(vals) == 1 {
				r = vals[0].(map[string]any)
			}
			if fmt.Sprint(r["_transactioncurrencyid_value"]) != usd || fmt.Sprint(r["revenue"]) != "1000.00" {
				t.Errorf("%s: %v, want revenue with its currency", u, r)
			}
		}
		if r := s.must(http.StatusOK, "GET", "accounts("+a+")?$select=name", nil).JSON(t); r["_transactioncurrencyid_value"] != nil || len(r) != 4 {
			t.Errorf("$select=name: %v, want name, accountid and the annotations only", r)
		}
		eur := s.create("transactioncurrencies", map[string]any{"currencyname": "Euro", "isocurrencycode": "EUR", "currencysymbol": "€", "exchangerate": 0.8, "currencyprecision": 2})
		e := s.create("accounts", map[string]any{"name": "Euros", "revenue": 800, "revenue_base": 1, "transactioncurrencyid@odata.bind": "/transactioncurrencies(" + eur + ")"})
		check("created in euros (revenue_base given: ignored)", e, eur, "0.8000000000", "800.00", "1000.00")
		s.must(http.StatusNoContent, "PATCH", "accounts("+e+")", map[string]any{"revenue": 400})
		check("money updated", e, eur, "0.8000000000", "400.00", "500.00")
		s.must(http.StatusNoContent, "PATCH", "transactioncurrencies("+eur+")", map[string]any{"exchangerate": 0.5})
		s.must(http.StatusNoContent, "PATCH", "accounts("+e+")", map[string]any{"name": "Euros, renamed"})
		check("no money written: the old rate stays", e, eur, "0.8000000000", "400.00", "500.00")
		s.must(http.StatusNoContent, "PATCH", "accounts("+e+")", map[string]any{"revenue": 400})
		check("money written again: today's rate", e, eur, "0.5000000000", "400.00", "800.00")
		s.must(http.StatusNoContent, "PATCH", "accounts("+e+")", map[string]any{"transactioncurrencyid@odata.bind": "/transactioncurrencies(" + usd + ")"})
		check("back to dollars: every base value follows", e, usd, "1.0000000000", "400.00", "400.00")
		// Upsert by key takes the long way for money, at the stored record's rate.
		s.must(http.StatusNoContent, "PATCH", "accounts(accountnumber='CUR-1')", map[string]any{"name": "Upserted", "revenue": 50, "transactioncurrencyid@odata.bind": "/transactioncurrencies(" + eur + ")"})
		s.must(http.StatusNoContent, "PATCH", "accounts(accountnumber='CUR-1')", map[string]any{"revenue": 60})
		up := s.must(http.StatusOK, "GET", "accounts(accountnumber='CUR-1')?$select=accountid", nil).JSON(t)["accountid"].(string)
		check("upserted twice in euros", up, eur, "0.5000000000", "60.00", "120.00")
		// In the base currency the short way writes it, insert and update.
		s.must(http.StatusNoContent, "PATCH", "accounts(accountnumber='CUR-2')", map[string]any{"name": "Short", "revenue": 70})
		s.must(http.StatusNoContent, "PATCH", "accounts(accountnumber='CUR-2')", map[string]any{"revenue": 75})
		short := s.must(http.StatusOK, "GET", "accounts(accountnumber='CUR-2')?$select=accountid", nil).JSON(t)["accountid"].(string)
		check("upserted twice in dollars", short, usd, "1.0000000000", "75.00", "75.00")
		if n := s.count("accounts", "revenue_base gt 700"); n != 1 {
			t.Errorf("$filter on revenue_base: %d accounts, want 1 (Dollars)", n)
		}
		o := s.create("new_orders", map[string]any{"new_name": "O", "new_ordernumber": "O-CUR", "new_amount": 12.5})
		if r := s.must(http.StatusOK, "GET", "new_orders("+o+")?$select=new_amount_base", nil).JSON(t); fmt.Sprint(r["new_amount_base"]) != "12.5000" {
			t.Errorf("new_amount_base: %v", r)
		}
		if r := s.do("PATCH", "accounts("+e+")", map[string]any{"transactioncurrencyid@odata.bind": nil}); r.Status != http.StatusBadRequest {
			t.Errorf("removing the currency of a record with money: %d %s", r.Status, r.Body)
		}
	})
}
