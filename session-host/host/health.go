package host

import (
	"encoding/json"
	"net/http"
)

// HealthHandler serves GET /healthz: 200 with counts of held sessions by
// status while the host runs, 503 otherwise.
func (h *Host) HealthHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		counts := h.Counts()
		total := 0
		for _, n := range counts {
			total += n
		}
		status, code := "ok", http.StatusOK
		if !h.Running() {
			status, code = "stopped", http.StatusServiceUnavailable
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(map[string]any{
			"status": status, "host_id": h.cfg.ID, "backend": h.backend.Name(), "sessions": total, "by_status": counts,
		})
	})
	return mux
}
