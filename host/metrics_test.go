package host

import (
	"testing"

	"github.com/meshbus/meshbus/internal/metrictest"
)

// TestNodeExportsComponentMetrics: a node gives every built-in component
// its registry, and a started node, alone, exports each component's
// families under their names (the series of rare events, such as
// rejections and penalties, appear at their first count).
func TestNodeExportsComponentMetrics(t *testing.T) {
	n := newNode(t)
	if miss := metrictest.Missing(t, n.Registry(),
		"meshbus_conntrack_connections_opened_total", "meshbus_conntrack_connections_closed_total",
		"meshbus_conntrack_connections_open", "meshbus_conntrack_peers_connected",
		"meshbus_conntrack_inbox_batch_size", "meshbus_conntrack_emit_errors_total",
		"meshbus_conntrack_identify_dropped_total",
		"meshbus_rtt_round_trip_seconds",
		"meshbus_scoring_peer_score", "meshbus_scoring_threshold_crossings_total",
		"meshbus_scoring_peers", "meshbus_scoring_retained_peers", "meshbus_scoring_delivery_records",
		"meshbus_scoring_snapshots_total", "meshbus_scoring_events_observed_total",
		"meshbus_scoring_rejected_app_scores_total",
		"meshbus_peermgr_dials_total", "meshbus_peermgr_records_rejected_total",
		"meshbus_peermgr_evictions_total", "meshbus_peermgr_connected_peers", "meshbus_peermgr_store_peers",
		"meshbus_router_rpcs_total", "meshbus_router_messages_total",
		"meshbus_router_queue_drops_total", "meshbus_router_queue_cancelled_total",
		"meshbus_router_subscription_drops_total", "meshbus_router_stream_failures_total",
		"meshbus_router_inbound_streams_replaced_total", "meshbus_router_signature_checks_total",
		"meshbus_router_peers", "meshbus_router_validations_running",
	); miss != nil {
		t.Errorf("the node does not export %q", miss)
	}
}
