package escalation

import _ "embed" // OpenAPI

// OpenAPI is the escalation API's OpenAPI 3.1 document (openapi.yaml): every call, its
// bodies with their bounds, its answers and problem types. The runner serves it at
// GET /v1/openapi.yaml, and its tests validate real answers against it.
//
//go:embed openapi.yaml
var OpenAPI []byte
