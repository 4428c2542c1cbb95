package client_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"

	"github.com/eventual-pp/eventual"
	"github.com/eventual-pp/eventual/client"
	"github.com/eventual-pp/eventual/instance"
	"github.com/eventual-pp/eventual/metadata"
	"github.com/eventual-pp/eventual/sqlite"
	"github.com/eventual-pp/eventual/webapi"
)

// ExampleBatch_Send creates an account and a contact bound to it in one
// change set: the contact's parentcustomerid names the account by the
// Content-ID of the request that creates it, so both apply or neither
// does.
func ExampleBatch_Send() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "eventual-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	schema := metadata.Builtin()
	db, err := sqlite.Open(ctx, filepath.Join(dir, "example.db"), schema, sqlite.Options{})
	if err != nil {
		panic(err)
	}
	defer db.Close()
	srv := webapi.NewServer(instance.New(db, schema), schema, db.Meta())
	srv.Logger = slog.New(slog.DiscardHandler)
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()

	c, err := client.New(ts.URL, client.Options{})
	if err != nil {
		panic(err)
	}
	records := client.NewRecords(c, schema)
	account, contact := schema.Table("account"), schema.Table("contact")

	b := records.Batch()
	cs := b.ChangeSet()
	accountID, err := cs.Create(&eventual.Entity{Table: account, Values: eventual.Values{"name": "Contoso"}})
	if err != nil {
		panic(err)
	}
	_, err = cs.Create(&eventual.Entity{Table: contact, Values: eventual.Values{
		"lastname":         "Smith",
		"parentcustomerid": client.ContentRef{Table: account, ContentID: accountID},
	}})
	if err != nil {
		panic(err)
	}
	res, err := b.Send(ctx)
	if err != nil {
		panic(err)
	}
	for _, r := range res.Responses {
		fmt.Println(r.ContentID, r.Method, r.Path, r.StatusCode)
	}

	rec, err := records.Retrieve(ctx, eventual.Ref(contact, res.Responses[1].ID), []*eventual.Column{contact.Column("parentcustomerid")}, nil, "")
	if err != nil {
		panic(err)
	}
	parent := rec.Values["parentcustomerid"].(eventual.EntityReference)
	fmt.Println("contact's account is the new one:", parent.ID == res.Responses[0].ID)
	// Output:
	// 1 POST accounts 204
	// 2 POST contacts 204
	// contact's account is the new one: true
}
