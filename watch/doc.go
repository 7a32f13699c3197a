// Package watch tells when the files of a context change: one signal per
// burst of saves, however the editor writes them (in place, to a temporary
// file renamed over the old one, or by deleting and creating it again).
//
// It watches directories, not files, with fsnotify (inotify on Linux),
// because a file replaced by a rename is a new file that a watch on the
// old one would miss. What matters in a directory is a [Set]: the CUE
// files of a package directory, or one file of a single-file context.
// Events are debounced: an editor that writes several files, or one file
// several times, gives one change after it is quiet for the debounce.
package watch
