package main

import (
	"fmt"
	"strings"

	"github.com/gatewayops/genesys-gateway-operator/internal/gateway"
)

// printUsage tells the user how to talk to the running system. It deliberately shows the
// escalation token and the simulator's password: they are generated for this run, live
// only as long as it, and showing them is the demo's job.
func (d *demo) printUsage() {
	apis := d.kubelet.runnerAddrs(gateway.HTTPPort)
	var runners []string
	for i, a := range apis {
		runners = append(runners, fmt.Sprintf("%s http://%s", d.kubelet.podSpec(i).name, a))
	}
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	w("")
	w("==> The demo is running. Talk to it from another terminal:")
	w("")
	w("  export KUBECONFIG=%s", d.cp.kubeconfig)
	w("  kubectl get gg -n %s -o wide; kubectl get events -n %s    # if you have kubectl", tenantNamespace, tenantNamespace)
	w("")
	w("  Escalation API:   %s", strings.Join(runners, ", "))
	w("                    (any runner serves any chat: calls are forwarded to the chat's owner)")
	w("  Escalation token: %s", d.token)
	var metrics []string
	for i, a := range d.kubelet.runnerAddrs(gateway.MetricsPort) {
		metrics = append(metrics, fmt.Sprintf("%s http://%s/metrics", d.kubelet.podSpec(i).name, a))
	}
	w("  Runner metrics:   %s", strings.Join(metrics, ", "))
	w("                    (genesys_chatrunner_*: chats, time to agent, GMS calls, API, webhook, store)")
	w("  GMS simulator:    %s (control API under /sim/; Chat API Basic auth %s / %s)", d.sim.url, gmsUser, d.sim.password)
	w("  Logs:             %s/*.log", d.o.workdir)
	w("")
	w("  API=http://%s TOKEN=%s SIM=%s", apis[0], d.token, d.sim.url)
	w(`  curl -sS -X POST $API/v1/chats -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \`)
	w(`       -d '{"conversationId":"conv-2","domain":"%s","queue":"%s","user":{"name":"John Roe"},"subject":"Refund"}'`, domain, queue)
	w(`  curl -sS $SIM/sim/chats                                          # the chat's Genesys id: "id"`)
	w(`  curl -sS -X POST $SIM/sim/chats/<genesysChatId>/join -d '{"nickname":"Bob"}'`)
	w(`  curl -sS -X POST $SIM/sim/chats/<genesysChatId>/message -d '{"text":"Hi John, Bob here."}'`)
	w(`  curl -sS "$API/v1/chats/<id>/events?after=0&wait=30s" -H "Authorization: Bearer $TOKEN"`)
	w(`  curl -sS -X POST $API/v1/chats/<id>/messages -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' -d '{"text":"Thanks"}'`)
	w(`  curl -sS -X POST $SIM/sim/chats/<genesysChatId>/close`)
	w("")
	w("Press Ctrl-C to stop every process and remove %s.", d.o.workdir)
	d.out.raw(b.String())
}
