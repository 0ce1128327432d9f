package gateway

import (
	"fmt"
	"strings"
)

// A Secret or ConfigMap is usable by a gateway only if it says so. Whoever writes a
// gateway chooses where its runners send credentials (spec.connection.serviceURL), so a
// gateway that could use any Secret of its namespace by naming it would make the operator
// a confused deputy: it would grant its runners a Secret the author could not read, and
// the runners would send it to the author's URL. The grant is set on the object by
// whoever may write the object, and the operator and the runners apply the one rule of
// Granted.
const (
	// LabelGrant says which gateways of the namespace may use the object: GrantAll or
	// GrantListed. A label, so that granted objects can be selected.
	LabelGrant = "chat.gatewayops.io/grant"
	// AnnotationGateways lists, comma-separated, the gateways that may use an object
	// labelled GrantListed. An annotation, because a label value cannot hold a list.
	AnnotationGateways = "chat.gatewayops.io/gateways"

	// GrantAll grants the object to every gateway of its namespace.
	GrantAll = "all"
	// GrantListed grants the object to the gateways AnnotationGateways names.
	GrantListed = "listed"
)

// Granted tells whether an object with these labels and annotations may be used by the
// named gateway of its namespace: labelled GrantAll, or labelled GrantListed with the
// gateway among the names of AnnotationGateways (spaces around names are ignored). Any
// other value, or none, grants nothing.
func Granted(labels, annotations map[string]string, gateway string) bool {
	switch labels[LabelGrant] {
	case GrantAll:
		return true
	case GrantListed:
		if gateway == "" {
			return false
		}
		for name := range strings.SplitSeq(annotations[AnnotationGateways], ",") {
			if strings.TrimSpace(name) == gateway {
				return true
			}
		}
	}
	return false
}

// GrantListedTo returns the labels and annotations that grant an object to the named
// gateways only.
func GrantListedTo(gateways ...string) (labels, annotations map[string]string) {
	return map[string]string{LabelGrant: GrantListed},
		map[string]string{AnnotationGateways: strings.Join(gateways, ",")}
}

// HowToGrant says how to grant an object to a gateway, for a message that refuses it.
func HowToGrant(gateway string) string {
	return fmt.Sprintf("label it %s=%s and add %q to its annotation %s (comma-separated gateway names), "+
		"or label it %s=%s to grant it to every gateway of the namespace",
		LabelGrant, GrantListed, gateway, AnnotationGateways, LabelGrant, GrantAll)
}
