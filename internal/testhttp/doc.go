// Package testhttp builds and sends the Web API requests of tests the way
// a Dataverse client does: the OData headers, JSON bodies, extra headers
// given as name, value pairs, and whole responses read at once. Only tests
// import it.
package testhttp
