package client_test

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/eventual-pp/eventual"
	"github.com/eventual-pp/eventual/client"
	"github.com/eventual-pp/eventual/metadata"
)

// ExampleDiscoverSchema reads the account and contact tables' definitions
// from a Web API endpoint (here an in-process eventual server), builds a
// schema of them and writes and reads records with it.
func ExampleDiscoverSchema() {
	ctx := context.Background()
	served := metadata.Builtin()
	url, stop := serveExample(served)
	defer stop()

	c, err := client.New(url, client.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		panic(err)
	}
	schema, err := client.DiscoverSchema(ctx, c, "account", "contact")
	if err != nil {
		panic(err)
	}
	for _, t := range schema.Tables() {
		for _, k := range t.Keys {
			fmt.Println(t.EntitySetName, "key", k.LogicalName, k.ColumnNames())
		}
	}
	parent := schema.Table("contact").Column("parentcustomerid")
	fmt.Println("contact.parentcustomerid", parent.Type, parent.Targets)

	records := client.NewRecords(c, schema)
	account := schema.Table("account")
	if _, err := records.Create(ctx, &eventual.Entity{Table: account, Values: eventual.Values{"name": "Contoso", "accountnumber": "C-1"}}); err != nil {
		panic(err)
	}
	byNumber := eventual.EntityReference{Table: account, Key: account.Key("accountnumber_key"), KeyValues: []any{"C-1"}}
	rec, err := records.Retrieve(ctx, byNumber, []*eventual.Column{account.Column("name")}, nil, "")
	if err != nil {
		panic(err)
	}
	fmt.Println(rec.Values["name"])
	// Output:
	// accounts key accountnumber_key [accountnumber]
	// contacts key contact_name_email [firstname emailaddress1]
	// contact.parentcustomerid customer [account contact]
	// Contoso
}
