package escalation

import (
	"net/http"
	"strconv"

	api "github.com/gatewayops/genesys-gateway-operator/api/escalation"
)

// serveOpenAPI serves GET /v1/openapi.yaml, the API's OpenAPI document, without a token.
func serveOpenAPI(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		methodNotAllowed(w, "GET, HEAD")
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/yaml")
	h.Set("Content-Length", strconv.Itoa(len(api.OpenAPI)))
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		_, _ = w.Write(api.OpenAPI)
	}
}
