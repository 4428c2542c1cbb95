// Package codec is the Dataverse Web API's wire form of values and records:
// JSON strings and numbers as ODataLib writes them, column values in JSON
// and back, strict JSON body decoding, OData URL literals in both
// directions, record objects as the server renders them, weak ETags of row
// versions and Dataverse's error body. The server (webapi) encodes and
// decodes through it, and a Web API client decodes what the server encodes
// and encodes what it decodes with the same code.
//
// It knows the root's schema and values and the odata package's literals,
// and nothing else: no net/http server code, no instance, no store. The
// conversion of untyped scalars to column values is the root's
// (eventual.ConvertScalar); codec adapts JSON values and literals to it.
package codec
