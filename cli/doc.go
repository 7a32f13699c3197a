// Package cli is the cuesource command line. It owns flags, output formats
// and exit codes, and wires the compiler, interpreter, engine, stores and
// runtimes together; cmd/cuesource only calls [Main], so tests run the CLI
// in-process.
//
// The subcommands and their flags are listed once, in the usage text at
// the top of cli.go, which `cuesource help` prints; README.md's "Command
// line" section shows them with their defaults.
//
// Exit codes: 0 success, 1 the context or a scenario or command failed,
// 2 the command line was wrong.
package cli
