// Package route is the HTTP API's route table: every route as data (its
// path pattern, methods and access), read by the API's dispatcher, by its
// OpenAPI document and by the compiler, which keeps aggregate and command
// names off the paths the routes take.
//
// # What it owns
//
//   - [Table], the routes in the order they are matched, and [Find], which
//     matches a path against them.
//   - The names the routes take: [Reserved] (first path segments an
//     aggregate may not be named) and [ReservedCommand] (an instance's own
//     sub-resources, which no command may be named).
//
// # What it never touches
//
// No handler, no authentication, no answer: it imports nothing of the
// project, and the api package binds a handler to each route's name.
package route
