// Package gateway is the contract between the operator and the chat runner: the names,
// labels and ports of a gateway's child objects, the number of runners, the subcommand
// that runs one, and the objects a gateway references with the spec fields that name
// them. The operator creates what it describes and the runner relies on it, so it lives
// below both programs: neither imports the other.
//
// It is pure: no API calls and no dependencies beyond the API types.
package gateway
