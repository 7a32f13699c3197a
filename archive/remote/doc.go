// Package remote reads the archive of a running server or Worker through
// its admin routes (GET /admin/archive/...): a read-only [Target] (the
// target's objects, as stored) and an [Index] (the segment index, with
// the hot store's counts), so that package archive's [archive.Verify]
// and [archive.Reader] check and read it on the admin's machine, as they
// do a directory and a stopped server's store.
//
// # What it owns
//
// The HTTP client of those routes: the admin token as a bearer token,
// pages followed to their end, every response body read up to a bound
// (a page of the index, of names, or one object of at most
// api.MaxArchiveObject bytes in base64), and the API's problems turned
// into errors (object_not_found into archive.ErrNotFound).
//
// # What it never does
//
// Write: Put fails, the archive is the server's. Nor does it check a
// segment: that is archive.Verify's and archive.Reader's, as everywhere.
package remote
