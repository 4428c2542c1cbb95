// Package webhook is the webhook step: it POSTs the execution context,
// serialized as Dataverse's RemoteExecutionContext, to an HTTP endpoint,
// with the x-ms-dynamics-* headers Dataverse sends. A synchronous webhook
// that answers a non-2xx status or times out fails the operation (which
// rolls back); an asynchronous one is retried by the job queue.
//
// It imports only the root package: it knows nothing of instance, stores
// or the Web API.
package webhook
