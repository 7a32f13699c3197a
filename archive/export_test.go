package archive

import "context"

// RunSteps is run: a pass bounded to n steps, as Loop runs LoopSteps.
func (a *Archiver) RunSteps(ctx context.Context, n int) (Report, error) { return a.run(ctx, n) }
