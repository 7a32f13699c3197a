// Package nethttp serves an [api.Service] over net/http: the native
// server's adapter. It reads a request's body within the service's limit
// (refusing a declared length over it before reading a byte), writes the
// response without the cause of an internal error (which goes to the log),
// serves the live stream as Server-Sent Events, and logs every request.
//
// It is a package of its own so that the Workers build, which answers
// through the JavaScript shell, never links net/http.
package nethttp
