// Package diag owns positioned diagnostics: an error that says where in a
// context file it was made, a list of them, and their rendering with the
// source line and a caret under the column.
//
// The compiler and the interpreter report through it, so `cuesource vet`
// prints every mistake of a context in one form whatever stage found it. It
// reads source files only when asked to render snippets.
package diag
