package h2bridge

import (
	"testing"

	"github.com/lucid-edge/lucid/internal/fuzzmain"
)

func TestMain(m *testing.M) { fuzzmain.Run(m) }
