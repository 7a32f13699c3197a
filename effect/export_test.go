package effect

import "time"

// SetWaiting installs f to be told each time the loop goes to sleep and for
// how long; call it before Run.
func (d *Dispatcher) SetWaiting(f func(time.Duration)) { d.waiting = f }
