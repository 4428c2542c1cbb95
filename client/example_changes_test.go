package client_test

import (
	"context"
	"fmt"

	"github.com/eventual-pp/eventual"
	"github.com/eventual-pp/eventual/client"
	"github.com/eventual-pp/eventual/metadata"
	"github.com/google/uuid"
)

// ExampleTracker follows an account table's change tracking: the initial
// read returns every record, page by page; after an update and a delete,
// the delta from the token it ended with returns the updated record, then
// the deleted one.
func ExampleTracker() {
	ctx := context.Background()
	schema := metadata.Builtin()
	url, stop := serveExample(schema)
	defer stop()
	c, err := client.New(url, client.Options{})
	if err != nil {
		panic(err)
	}
	r := client.NewRecords(c, schema)
	acc := schema.Table("account")
	names := map[uuid.UUID]string{}
	for _, name := range []string{"Contoso", "Fabrikam", "Northwind"} {
		id, err := r.Create(ctx, &eventual.Entity{Table: acc, Values: eventual.Values{"name": name}})
		if err != nil {
			panic(err)
		}
		names[id] = name
	}

	// The token would come from the sync's storage: "" reads everything.
	tr := r.Track(acc, []*eventual.Column{acc.Column("name")}, "")
	tr.PageSize = 2 // two pages: the first ends with a next link
	follow := func(what string) {
		for ch, err := range tr.Changes(ctx) {
			if err != nil {
				panic(err)
			}
			if ch.Deleted {
				fmt.Println(what, "deleted", names[ch.ID])
				continue
			}
			fmt.Println(what, ch.Record.Values["name"])
		}
	}
	follow("initial:")
	saved := tr.Token() // persist it: the next run starts from here

	for id, name := range names {
		switch name {
		case "Contoso":
			if _, err := r.Update(ctx, eventual.Ref(acc, id), eventual.Values{"name": "Contoso Ltd"}, eventual.Condition{}); err != nil {
				panic(err)
			}
		case "Northwind":
			if err := r.Delete(ctx, eventual.Ref(acc, id), eventual.Condition{}); err != nil {
				panic(err)
			}
		}
	}
	if n, err := r.CountChanges(ctx, acc, saved); err == nil {
		fmt.Println("changes:", n)
	}
	tr = r.Track(acc, []*eventual.Column{acc.Column("name")}, saved)
	follow("delta:")
	fmt.Println("new token:", tr.Token() != saved)
	// Output:
	// initial: Contoso
	// initial: Fabrikam
	// initial: Northwind
	// changes: 2
	// delta: Contoso Ltd
	// delta: deleted Northwind
	// new token: true
}
