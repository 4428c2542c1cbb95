package client_test

import (
	"context"
	"fmt"

	"github.com/eventual-pp/eventual"
	"github.com/eventual-pp/eventual/client"
)

// ExampleBatch_Send creates an account and a contact bound to it in one
// change set: the contact's parentcustomerid names the account by the
// Content-ID of the request that creates it, so both apply or neither
// does.
func ExampleBatch_Send() {
	ctx := context.Background()
	records, schema, stop := exampleServer()
	defer stop()
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
