package cli

import (
	"flag"
	"fmt"
	"os"

	"github.com/cuesource/cuesource/diagram"
)

// diagram writes the context's event model as SVG: commands, the events
// they emit, the projections and effects those feed, and effects' sends.
func (c *command) diagram(args []string) int {
	fs := flag.NewFlagSet("diagram", flag.ContinueOnError)
	out := fs.String("o", "-", "write the SVG to `FILE` (- for standard output)")
	pos, ok := c.parse(fs, args, 1)
	if !ok {
		return 2
	}
	p, ok := c.load(pos[0], false)
	if !ok {
		return 1
	}
	svg := diagram.SVG(p.Manifest)
	if *out == "-" {
		_, _ = c.stdout.Write(svg)
		return 0
	}
	if err := os.WriteFile(*out, svg, 0o644); err != nil {
		fmt.Fprintln(c.stderr, "cuesource diagram:", err)
		return 1
	}
	return 0
}
