package main

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/discovery"
	"sigs.k8s.io/controller-runtime/pkg/client"

	chatv1alpha1 "github.com/gatewayops/genesys-gateway-operator/api/v1alpha1"
)

// tableAccept asks the API server for its server-side printing, as kubectl get does.
const tableAccept = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"

// getGatewaysTable renders `kubectl get gg -n <namespace>` from the API server's
// server-side printing (the CRD's printer columns), with no kubectl needed.
func (cp *controlPlane) getGatewaysTable(ctx context.Context, namespace string) (string, error) {
	dc, err := discovery.NewDiscoveryClientForConfig(cp.admin)
	if err != nil {
		return "", fmt.Errorf("creating a REST client: %w", err)
	}
	path := fmt.Sprintf("/apis/%s/namespaces/%s/genesysgateways", chatv1alpha1.GroupVersion, namespace)
	raw, err := dc.RESTClient().Get().AbsPath(path).SetHeader("Accept", tableAccept).DoRaw(ctx)
	if err != nil {
		return "", fmt.Errorf("listing GenesysGateways as a table: %w", err)
	}
	var t metav1.Table
	if err := json.Unmarshal(raw, &t); err != nil {
		return "", fmt.Errorf("decoding the table: %w", err)
	}
	var header []string
	var cols []int
	for i, c := range t.ColumnDefinitions {
		if c.Priority == 0 { // the columns of kubectl get without -o wide
			header = append(header, strings.ToUpper(c.Name))
			cols = append(cols, i)
		}
	}
	var rows [][]string
	for _, r := range t.Rows {
		var row []string
		for _, i := range cols {
			cell := "<none>"
			if i < len(r.Cells) && r.Cells[i] != nil {
				cell = fmt.Sprint(r.Cells[i])
			}
			row = append(row, cell)
		}
		rows = append(rows, row)
	}
	return "$ kubectl get gg -n " + namespace + "\n" + table(header, rows), nil
}

// chatsTable renders the chats of the gateway's status.runners[].chats.
func chatsTable(gw *chatv1alpha1.GenesysGateway) string {
	var rows [][]string
	for _, r := range gw.Status.Runners {
		for _, c := range r.Chats {
			rows = append(rows, []string{r.Pod, c.ID, c.ConversationID, string(c.State), orNone(c.Agent), orNone(string(c.EndReason))})
		}
	}
	if len(rows) == 0 {
		return "status.runners[].chats: none yet"
	}
	return "status.runners[].chats:\n" + table([]string{"RUNNER", "ID", "CONVERSATION", "STATE", "AGENT", "END REASON"}, rows)
}

// gatewayEvents lists the events regarding the gateway (events.k8s.io), oldest first.
func (cp *controlPlane) gatewayEvents(ctx context.Context, gw *chatv1alpha1.GenesysGateway) ([]eventsv1.Event, error) {
	var list eventsv1.EventList
	if err := cp.client.List(ctx, &list, client.InNamespace(gw.Namespace)); err != nil {
		return nil, fmt.Errorf("listing events: %w", err)
	}
	var evs []eventsv1.Event
	for _, e := range list.Items {
		if e.Regarding.Kind == "GenesysGateway" && e.Regarding.Name == gw.Name {
			evs = append(evs, e)
		}
	}
	slices.SortStableFunc(evs, func(a, b eventsv1.Event) int { return eventTime(a).Compare(eventTime(b)) })
	return evs, nil
}

// eventsTable renders events as kubectl events does: type, reason, the reporter, the note.
func eventsTable(evs []eventsv1.Event) string {
	var rows [][]string
	for _, e := range evs {
		rows = append(rows, []string{e.Type, e.Reason, cmp.Or(e.ReportingInstance, e.ReportingController), e.Note})
	}
	if len(rows) == 0 {
		return "events: none yet"
	}
	return "events regarding genesysgateway/" + gatewayName + ":\n" + table([]string{"TYPE", "REASON", "FROM", "NOTE"}, rows)
}

// eventTime is when an event last happened.
func eventTime(e eventsv1.Event) time.Time {
	switch {
	case e.Series != nil:
		return e.Series.LastObservedTime.Time
	case !e.EventTime.IsZero():
		return e.EventTime.Time
	default:
		return e.DeprecatedLastTimestamp.Time
	}
}

func orNone(s string) string { return cmp.Or(s, "-") }
