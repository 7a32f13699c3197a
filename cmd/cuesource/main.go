// Command cuesource checks, compiles, tests and runs event-sourced bounded
// contexts written in CUE. See the README.
package main

import (
	"os"

	"github.com/cuesource/cuesource/cli"
)

func main() { os.Exit(cli.Main()) }
