package memory_test

import (
	"testing"

	"github.com/cuesource/cuesource/store"
	"github.com/cuesource/cuesource/store/memory"
	"github.com/cuesource/cuesource/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return memory.New() })
}
