// Package cli is the cuesource command line: vet, build, test and run. It
// owns flags, output formats and exit codes, and wires the compiler,
// interpreter, engine and scenario runner together; cmd/cuesource only
// calls [Main], so tests run the CLI in-process.
//
// Exit codes: 0 success, 1 the context or a scenario or command failed,
// 2 the command line was wrong.
package cli
