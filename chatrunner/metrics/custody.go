package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
)

// CustodyFigures are a runner's durable-store and hand-over figures, read from their
// owners (the store, the engine, the Lease manager) at scrape time, so they are counted
// once, where they happen.
type CustodyFigures struct {
	// StoredChats are the records in the stores the runner owns; OwnedStores how many
	// stores (runner ordinals) it owns.
	StoredChats, OwnedStores int
	// StoreWrites and StoreWriteErrors count writes to the stores.
	StoreWrites, StoreWriteErrors int64
	// Resumed, Adopted and HandedOver count chats taken over (Adopted: from another
	// runner's store) and given up; Seams count resumed chats whose events could not go
	// on seamlessly.
	Resumed, Adopted, HandedOver, Seams int64
}

// RegisterCustody registers the custody figures of a gateway (namespace/name) with reg.
func RegisterCustody(reg prometheus.Registerer, gateway string, figures func() CustodyFigures) {
	opts := func(n, help string) prometheus.Opts {
		return prometheus.Opts{Namespace: metricNamespace, Subsystem: subsystem, Name: n, Help: help,
			ConstLabels: gatewayLabels(gateway)}
	}
	gauge := func(n, help string, f func(CustodyFigures) int) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts(opts(n, help)), func() float64 { return float64(f(figures())) })
	}
	counter := func(n, help string, f func(CustodyFigures) int64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts(opts(n, help)), func() float64 { return float64(f(figures())) })
	}
	reg.MustRegister(
		gauge("stored_chats", "Chat records in the durable stores this runner owns.", func(f CustodyFigures) int { return f.StoredChats }),
		gauge("owned_stores", "Chat stores (runner ordinals) whose Lease this runner holds: its own and adopted ones.", func(f CustodyFigures) int { return f.OwnedStores }),
		counter("store_writes_total", "Writes to the durable chat stores.", func(f CustodyFigures) int64 { return f.StoreWrites }),
		counter("store_write_errors_total", "Failed writes to the durable chat stores (retried).", func(f CustodyFigures) int64 { return f.StoreWriteErrors }),
		counter("chats_resumed_total", "Chats taken over from a durable store: after a restart or from another runner.", func(f CustodyFigures) int64 { return f.Resumed }),
		counter("chats_adopted_total", "Chats taken over from another runner's store.", func(f CustodyFigures) int64 { return f.Adopted }),
		counter("chats_handed_over_total", "Chats given up to another runner (a graceful stop, a hand-back, a lost Lease).", func(f CustodyFigures) int64 { return f.HandedOver }),
		counter("chats_resume_seams_total", "Resumed chats whose transcript gave fewer events than their previous owner had.", func(f CustodyFigures) int64 { return f.Seams }),
	)
}
