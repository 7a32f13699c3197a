package edge

// The forward and project scripts are the tests' entry points to a
// forwarding and a projector run alone (forward.txtar, project.txtar,
// readside_test.go): the shell never runs them, its objects run them
// inside committed, alarm and projector.
func withTestScripts(c *Core) *Core {
	c.scripts["forward"] = c.forward
	c.scripts["project"] = c.project
	return c
}

type forwardInput struct {
	Events []wireEvent `json:"events"`
}

// forward writes a run of one instance's events to the global log and
// answers their positions. Done is Forwarded.
func (c *Core) forward(in []byte, h *host) (any, error) {
	var fi forwardInput
	if err := decodeInput(in, &fi); err != nil {
		return nil, err
	}
	pos, err := forwardEvents(h, fi.Events)
	if err != nil {
		return nil, err
	}
	return Forwarded{Positions: pos}, nil
}

// project is a projector run from the checkpoints its input keeps.
func (c *Core) project(in []byte, h *host) (any, error) {
	var pi projectInput
	if err := decodeInput(in, &pi); err != nil {
		return nil, err
	}
	return c.projectWith(h, &pi)
}
