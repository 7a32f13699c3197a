//go:build unix

package workerd

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/cuesource/cuesource/e2e/e2etest"
)

// TestStoragePageOverWorker: the playground's Storage tab, through
// `cuesource inspect` in Chromium, shows the Worker's storage: D1's log
// under the ledger's budget and the segments the Archiver object wrote to
// R2, as GET /admin/storage answers.
func TestStoragePageOverWorker(t *testing.T) {
	skipShort(t)
	needWorkerd(t)
	w := startWorker(t, buildWorker(t, e2etest.Ledger), "")
	c := newClient(w.url)
	defer c.Close()
	for seq := range 150 {
		if status, _ := c.Deposit(fmt.Sprintf("acc-%02d", seq%6), seq); status/100 != 2 {
			t.Fatalf("deposit %d: status %d", seq, status)
		}
	}
	// Settled: the archiver brought D1's log under its budget and wrote
	// segments; nothing changes after, so the page shows what was read.
	var st storageStatus
	e2etest.WaitFor(t, 60*time.Second, "D1's log under its budget, with segments in R2", func() bool {
		st = storageOf(t, c)
		return st.SegmentCount > 0 && st.HotBytes <= e2etest.LedgerBudget
	})
	checkIndex(t, st)
	addr := inspect(t, w)
	browse(t, "storage.mjs", "http://"+addr+"/", adminToken, filepath.Join(root, ".bin", "artifacts", "storage-worker"))
}
