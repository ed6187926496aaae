package certcache

import "github.com/VictoriaMetrics/metrics"

// Process-wide counters over every loop's cache.
var (
	hits          = metrics.NewCounter("lucid_certcache_hits_total")
	misses        = metrics.NewCounter("lucid_certcache_misses_total")
	joined        = metrics.NewCounter("lucid_certcache_mints_joined_total")
	mints         = metrics.NewCounter("lucid_certcache_mints_total")
	mintErrors    = metrics.NewCounter("lucid_certcache_mint_errors_total")
	evictions     = metrics.NewCounter("lucid_certcache_evictions_total")
	expirations   = metrics.NewCounter("lucid_certcache_expirations_total")
	keysGenerated = metrics.NewCounter("lucid_certcache_leaf_keys_generated_total")
	keysDestroyed = metrics.NewCounter("lucid_certcache_leaf_keys_destroyed_total")
	mintSeconds   = metrics.NewHistogram("lucid_certcache_mint_duration_seconds")
)
