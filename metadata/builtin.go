package metadata

import (
	"github.com/eventual-pp/eventual"
)

func intp(v int) *int { return &v }

// BuiltinTables returns the definitions of the built-in tables:
//
//   - account: name, accountnumber (alternate key accountnumber_key),
//     telephone1, emailaddress1, revenue (money), numberofemployees,
//     creditonhold, description, accountcategorycode, primarycontactid →
//     contact, parentaccountid → account.
//   - contact: firstname, lastname, fullname (derived), emailaddress1,
//     telephone1, jobtitle, birthdate, parentcustomerid (Customer lookup to
//     account or contact), and the composite alternate key
//     contact_name_email (firstname, emailaddress1), Dataverse's own
//     example of a composite key.
//   - new_order: the integrated system's transactions: new_name,
//     new_ordernumber (alternate key new_ordernumber_key), new_customer →
//     account, and one column of each remaining type.
//   - new_account_contact: the intersect of the many-to-many relationship
//     new_account_contact between accounts and contacts.
//
// Relationship names are Dataverse's: account_primary_contact,
// account_parent_account, contact_customer_accounts,
// contact_customer_contacts; the custom one is new_account_new_order.
func BuiltinTables() []eventual.TableDef {
	return []eventual.TableDef{
		{
			LogicalName: "account", SchemaName: "Account", EntitySetName: "accounts",
			DisplayName: "Account", DisplayCollectionName: "Accounts",
			PrimaryNameAttribute: "name", ObjectTypeCode: 1, ChangeTracking: true,
			Columns: []eventual.ColumnDef{
				{LogicalName: "name", SchemaName: "Name", DisplayName: "Account Name", Type: eventual.TypeString, MaxLength: 160},
				{LogicalName: "accountnumber", SchemaName: "AccountNumber", DisplayName: "Account Number", Type: eventual.TypeString, MaxLength: 20},
				{LogicalName: "telephone1", SchemaName: "Telephone1", DisplayName: "Main Phone", Type: eventual.TypeString, MaxLength: 50},
				{LogicalName: "emailaddress1", SchemaName: "EMailAddress1", DisplayName: "Email", Type: eventual.TypeString, MaxLength: 100},
				{LogicalName: "revenue", SchemaName: "Revenue", DisplayName: "Annual Revenue", Type: eventual.TypeMoney, Precision: intp(2)},
				{LogicalName: "numberofemployees", SchemaName: "NumberOfEmployees", DisplayName: "Number of Employees", Type: eventual.TypeInteger},
				{LogicalName: "creditonhold", SchemaName: "CreditOnHold", DisplayName: "Credit Hold", Type: eventual.TypeBoolean},
				{LogicalName: "description", SchemaName: "Description", DisplayName: "Description", Type: eventual.TypeMemo},
				{LogicalName: "accountcategorycode", SchemaName: "AccountCategoryCode", DisplayName: "Category", Type: eventual.TypeChoice,
					Options: []eventual.Option{{Value: 1, Label: "Preferred Customer"}, {Value: 2, Label: "Standard"}}},
				{LogicalName: "primarycontactid", SchemaName: "PrimaryContactId", DisplayName: "Primary Contact", Type: eventual.TypeLookup,
					Targets: []string{"contact"}, Relationships: []string{"account_primary_contact"}},
				{LogicalName: "parentaccountid", SchemaName: "ParentAccountId", DisplayName: "Parent Account", Type: eventual.TypeLookup,
					Targets: []string{"account"}, Relationships: []string{"account_parent_account"}},
			},
			Keys: []eventual.KeyDef{{LogicalName: "accountnumber_key", Columns: []string{"accountnumber"}}},
		},
		{
			LogicalName: "contact", SchemaName: "Contact", EntitySetName: "contacts",
			DisplayName: "Contact", DisplayCollectionName: "Contacts",
			PrimaryNameAttribute: "fullname", ObjectTypeCode: 2, ChangeTracking: true,
			Columns: []eventual.ColumnDef{
				{LogicalName: "firstname", SchemaName: "FirstName", DisplayName: "First Name", Type: eventual.TypeString, MaxLength: 50},
				{LogicalName: "lastname", SchemaName: "LastName", DisplayName: "Last Name", Type: eventual.TypeString, MaxLength: 50},
				{LogicalName: "fullname", SchemaName: "FullName", DisplayName: "Full Name", Type: eventual.TypeString, MaxLength: 160, Computed: true},
				{LogicalName: "emailaddress1", SchemaName: "EMailAddress1", DisplayName: "Email", Type: eventual.TypeString, MaxLength: 100},
				{LogicalName: "telephone1", SchemaName: "Telephone1", DisplayName: "Business Phone", Type: eventual.TypeString, MaxLength: 50},
				{LogicalName: "jobtitle", SchemaName: "JobTitle", DisplayName: "Job Title", Type: eventual.TypeString, MaxLength: 100},
				{LogicalName: "birthdate", SchemaName: "BirthDate", DisplayName: "Birthday", Type: eventual.TypeDateTime, Format: eventual.DateOnly},
				{LogicalName: "parentcustomerid", SchemaName: "ParentCustomerId", DisplayName: "Company Name", Type: eventual.TypeCustomer,
					Targets:       []string{"account", "contact"},
					Relationships: []string{"contact_customer_accounts", "contact_customer_contacts"}},
			},
			Keys: []eventual.KeyDef{{LogicalName: "contact_name_email", Columns: []string{"firstname", "emailaddress1"}}},
		},
		{
			LogicalName: "new_order", SchemaName: "new_Order", EntitySetName: "new_orders",
			DisplayName: "Order", DisplayCollectionName: "Orders",
			PrimaryNameAttribute: "new_name", ObjectTypeCode: 10000, IsCustom: true, ChangeTracking: true,
			Columns: []eventual.ColumnDef{
				{LogicalName: "new_name", SchemaName: "new_Name", DisplayName: "Name", Type: eventual.TypeString, MaxLength: 100},
				{LogicalName: "new_ordernumber", SchemaName: "new_OrderNumber", DisplayName: "Order Number", Type: eventual.TypeString, MaxLength: 50},
				{LogicalName: "new_customer", SchemaName: "new_Customer", DisplayName: "Customer", Type: eventual.TypeLookup,
					Targets: []string{"account"}, Relationships: []string{"new_account_new_order"}},
				{LogicalName: "new_amount", SchemaName: "new_Amount", DisplayName: "Amount", Type: eventual.TypeMoney},
				{LogicalName: "new_quantity", SchemaName: "new_Quantity", DisplayName: "Quantity", Type: eventual.TypeInteger},
				{LogicalName: "new_unitprice", SchemaName: "new_UnitPrice", DisplayName: "Unit Price", Type: eventual.TypeDecimal, Precision: intp(4)},
				{LogicalName: "new_weight", SchemaName: "new_Weight", DisplayName: "Weight", Type: eventual.TypeDouble},
				{LogicalName: "new_sequence", SchemaName: "new_Sequence", DisplayName: "Sequence", Type: eventual.TypeBigInt},
				{LogicalName: "new_orderdate", SchemaName: "new_OrderDate", DisplayName: "Order Date", Type: eventual.TypeDateTime},
				{LogicalName: "new_shipped", SchemaName: "new_Shipped", DisplayName: "Shipped", Type: eventual.TypeBoolean},
				{LogicalName: "new_externalid", SchemaName: "new_ExternalId", DisplayName: "External Id", Type: eventual.TypeUniqueIdentifier},
				{LogicalName: "new_notes", SchemaName: "new_Notes", DisplayName: "Notes", Type: eventual.TypeMemo},
				{LogicalName: "new_stage", SchemaName: "new_Stage", DisplayName: "Stage", Type: eventual.TypeChoice,
					Options: []eventual.Option{{Value: 100000000, Label: "Received"}, {Value: 100000001, Label: "Shipped"}, {Value: 100000002, Label: "Invoiced"}}},
			},
			Keys: []eventual.KeyDef{{LogicalName: "new_ordernumber_key", Columns: []string{"new_ordernumber"}}},
		},
		{
			// The intersect of the many-to-many relationship
			// new_account_contact: the contacts an account works with
			// besides its own (accounts(<id>)/new_account_contact).
			LogicalName: "new_account_contact", SchemaName: "new_account_contact", EntitySetName: "new_account_contacts",
			DisplayName: "Account Contact", DisplayCollectionName: "Account Contacts",
			ObjectTypeCode: 10001, IsCustom: true, ChangeTracking: true, Intersect: "new_account_contact",
			Columns: []eventual.ColumnDef{
				{LogicalName: "accountid", SchemaName: "AccountId", DisplayName: "Account", Type: eventual.TypeLookup, Targets: []string{"account"},
					Relationships: []string{"new_account_contact_account"}, Required: true},
				{LogicalName: "contactid", SchemaName: "ContactId", DisplayName: "Contact", Type: eventual.TypeLookup, Targets: []string{"contact"},
					Relationships: []string{"new_account_contact_contact"}, Required: true},
			},
		},
	}
}

func int64p(v int64) *int64 { return &v }

func float64p(v float64) *float64 { return &v }

// SystemTables returns the tables every instance has whatever its schema:
// transactioncurrency (transactioncurrencies), the currencies money is in
// (the base currency, USD, is there from the start; see
// instance.EnsureBaseCurrency); asyncoperation (entity set asyncoperations), the system jobs of
// asynchronous steps, queryable like any table
// ("asyncoperations?$filter=statuscode eq 31" lists failed jobs); and
// systemuser (systemusers), the users: the instance's own, and each caller
// authentication names, recorded when first seen (WhoAmI's UserId is one
// of them).
func SystemTables() []eventual.TableDef {
	return []eventual.TableDef{{
		LogicalName: "transactioncurrency", SchemaName: "TransactionCurrency", EntitySetName: "transactioncurrencies",
		DisplayName: "Currency", DisplayCollectionName: "Currencies", PrimaryNameAttribute: "currencyname", ObjectTypeCode: 9105, ChangeTracking: true,
		Columns: []eventual.ColumnDef{
			{LogicalName: "currencyname", SchemaName: "CurrencyName", DisplayName: "Currency Name", Type: eventual.TypeString, MaxLength: 100, Required: true},
			{LogicalName: "isocurrencycode", SchemaName: "ISOCurrencyCode", DisplayName: "Currency Code", Type: eventual.TypeString, MaxLength: 5, Required: true},
			{LogicalName: "currencysymbol", SchemaName: "CurrencySymbol", DisplayName: "Currency Symbol", Type: eventual.TypeString, MaxLength: 13, Required: true},
			{LogicalName: "exchangerate", SchemaName: "ExchangeRate", DisplayName: "Exchange Rate", Type: eventual.TypeDecimal, Precision: intp(eventual.ExchangeRatePrecision),
				MinValue: float64p(0.0001), MaxValue: float64p(100000000000 / 1e3), Required: true},
			{LogicalName: "currencyprecision", SchemaName: "CurrencyPrecision", DisplayName: "Currency Precision", Type: eventual.TypeInteger, MinValue: float64p(0), MaxValue: float64p(4)},
		},
		Keys: []eventual.KeyDef{{LogicalName: "isocurrencycode_key", Columns: []string{"isocurrencycode"}}},
	}, {
		LogicalName: "systemuser", SchemaName: "SystemUser", EntitySetName: "systemusers",
		DisplayName: "User", DisplayCollectionName: "Users", PrimaryNameAttribute: "fullname", ObjectTypeCode: 8, ChangeTracking: true,
		Columns: []eventual.ColumnDef{
			{LogicalName: "fullname", SchemaName: "FullName", DisplayName: "Full Name", Type: eventual.TypeString, MaxLength: 200},
			{LogicalName: "domainname", SchemaName: "DomainName", DisplayName: "User Name", Type: eventual.TypeString, MaxLength: 1024},
			{LogicalName: "internalemailaddress", SchemaName: "InternalEMailAddress", DisplayName: "Primary Email", Type: eventual.TypeString, MaxLength: 100},
			{LogicalName: "azureactivedirectoryobjectid", SchemaName: "AzureActiveDirectoryObjectId", DisplayName: "Azure AD Object ID", Type: eventual.TypeUniqueIdentifier},
			{LogicalName: "applicationid", SchemaName: "ApplicationId", DisplayName: "Application ID", Type: eventual.TypeUniqueIdentifier},
			{LogicalName: "isdisabled", SchemaName: "IsDisabled", DisplayName: "Status", Type: eventual.TypeBoolean},
			{LogicalName: "accessmode", SchemaName: "AccessMode", DisplayName: "Access Mode", Type: eventual.TypeChoice,
				Options: []eventual.Option{{Value: 0, Label: "Read-Write"}, {Value: 4, Label: "Non-interactive"}}},
		},
	}, {
		LogicalName: "asyncoperation", SchemaName: "AsyncOperation", EntitySetName: "asyncoperations",
		DisplayName: "System Job", DisplayCollectionName: "System Jobs", PrimaryNameAttribute: "name", ObjectTypeCode: 4700,
		StateOptions: []eventual.Option{{Value: 0, Label: "Ready"}, {Value: 1, Label: "Suspended"}, {Value: 2, Label: "Locked"}, {Value: 3, Label: "Completed"}},
		StatusOptions: []eventual.Option{{Value: 0, Label: "Waiting For Resources"}, {Value: 10, Label: "Waiting"}, {Value: 20, Label: "In Progress"},
			{Value: 21, Label: "Pausing"}, {Value: 22, Label: "Canceling"}, {Value: 30, Label: "Succeeded"}, {Value: 31, Label: "Failed"}, {Value: 32, Label: "Canceled"}},
		DefaultState: int64p(0), DefaultStatus: int64p(10),
		Columns: []eventual.ColumnDef{
			{LogicalName: "name", SchemaName: "Name", Type: eventual.TypeString, MaxLength: 500},
			{LogicalName: "operationtype", SchemaName: "OperationType", Type: eventual.TypeChoice,
				Options: []eventual.Option{{Value: 1, Label: "System Event"}}},
			{LogicalName: "messagename", SchemaName: "MessageName", Type: eventual.TypeString, MaxLength: 100},
			{LogicalName: "primaryentitytype", SchemaName: "PrimaryEntityType", Type: eventual.TypeString, MaxLength: 128},
			{LogicalName: "eventual_stepname", SchemaName: "eventual_StepName", Type: eventual.TypeString, MaxLength: 256},
			{LogicalName: "data", SchemaName: "Data", Type: eventual.TypeMemo, MaxLength: eventual.MaxMemoLen},
			{LogicalName: "message", SchemaName: "Message", Type: eventual.TypeMemo, MaxLength: 10000},
			{LogicalName: "friendlymessage", SchemaName: "FriendlyMessage", Type: eventual.TypeMemo, MaxLength: 10000},
			{LogicalName: "retrycount", SchemaName: "RetryCount", Type: eventual.TypeInteger},
			{LogicalName: "depth", SchemaName: "Depth", Type: eventual.TypeInteger},
			{LogicalName: "correlationid", SchemaName: "CorrelationId", Type: eventual.TypeUniqueIdentifier},
			{LogicalName: "postponeuntil", SchemaName: "PostponeUntil", Type: eventual.TypeDateTime},
			{LogicalName: "startedon", SchemaName: "StartedOn", Type: eventual.TypeDateTime},
			{LogicalName: "completedon", SchemaName: "CompletedOn", Type: eventual.TypeDateTime},
		},
	}}
}

// Builtin returns the built-in schema (with the system tables).
func Builtin() *eventual.Schema {
	s, err := eventual.NewSchema(append(BuiltinTables(), SystemTables()...))
	if err != nil {
		panic("metadata: built-in schema is invalid: " + err.Error())
	}
	return s
}
