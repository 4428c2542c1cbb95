package client_test

import (
	"context"
	"fmt"

	"github.com/eventual-pp/eventual"
	"github.com/eventual-pp/eventual/client"
	"github.com/eventual-pp/eventual/metadata"
)

// exampleServer serves eventual's Web API with the built-in schema (see
// serveExample) and returns a client for it, the schema, and a function
// that stops it all. Against real Dataverse the client is
// client.New("https://<org>.crm.dynamics.com", client.Options{ClientCredentials: …}).
func exampleServer() (*client.Records, *eventual.Schema, func()) {
	schema := metadata.Builtin()
	url, stop := serveExample(schema)
	c, err := client.New(url, client.Options{})
	if err != nil {
		panic(err)
	}
	return client.NewRecords(c, schema), schema, stop
}

// ExampleRecords_Create creates an account and reads it back by its id.
func ExampleRecords_Create() {
	records, schema, stop := exampleServer()
	defer stop()
	ctx := context.Background()
	account := schema.Table("account")

	id, err := records.Create(ctx, &eventual.Entity{Table: account, Values: eventual.Values{"name": "Contoso", "revenue": 1.5e6}})
	if err != nil {
		panic(err)
	}
	rec, err := records.Retrieve(ctx, eventual.Ref(account, id), []*eventual.Column{account.Column("name")}, nil, "")
	if err != nil {
		panic(err)
	}
	fmt.Println(rec.ID == id, rec.Values["name"])
	// Output: true Contoso
}

// ExampleRecords_Upsert upserts an account by its alternate key
// (accountnumber): the first call creates it, the second updates it.
func ExampleRecords_Upsert() {
	records, schema, stop := exampleServer()
	defer stop()
	ctx := context.Background()
	account := schema.Table("account")
	byNumber := eventual.EntityReference{Table: account, Key: account.Key("accountnumber_key"), KeyValues: []any{"ACC-001"}}

	for _, name := range []string{"Fabrikam", "Fabrikam Ltd"} {
		created, _, err := records.Upsert(ctx, byNumber, &eventual.Entity{Table: account, Values: eventual.Values{"name": name}}, eventual.Condition{})
		if err != nil {
			panic(err)
		}
		fmt.Println(name, "created:", created)
	}
	// Output:
	// Fabrikam created: true
	// Fabrikam Ltd created: false
}

// ExampleRecords_All pages through a filtered, ordered query, three
// records a page, following the server's next links.
func ExampleRecords_All() {
	records, schema, stop := exampleServer()
	defer stop()
	ctx := context.Background()
	account := schema.Table("account")
	name := account.Column("name")
	for _, n := range []string{"Adatum", "Litware", "Contoso", "Northwind", "Tailspin", "Alpine", "Fourth Coffee"} {
		if _, err := records.Create(ctx, &eventual.Entity{Table: account, Values: eventual.Values{"name": n}}); err != nil {
			panic(err)
		}
	}

	q := &eventual.Query{
		Table:   account,
		Columns: []*eventual.Column{name},
		// name ne 'Litware': the client renders and escapes the literal.
		Filter:  eventual.Compare{Op: eventual.OpNe, Left: eventual.Field{Column: name}, Right: eventual.Literal{Value: "Litware"}},
		OrderBy: []eventual.Order{{Column: name}},
		Limit:   3,
	}
	for rec, err := range records.All(ctx, q, nil) {
		if err != nil {
			panic(err)
		}
		fmt.Println(rec.Values["name"])
	}
	// Output:
	// Adatum
	// Alpine
	// Contoso
	// Fourth Coffee
	// Northwind
	// Tailspin
}
